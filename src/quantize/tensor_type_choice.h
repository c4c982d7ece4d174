// Which type each tensor of a model gets under a quantization recipe: llama.cpp's
// llama_tensor_get_type rules (output, attn_v/attn_qkv and ffn_down get more bits in the _M mixes, ...)
// and its fallbacks for rows that are not a multiple of the block size. Pure planning: reads
// names and shapes only, never tensor data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "quantize/file_type.h"
#include "tensor/dtype.h"

namespace tessera::quantize {

struct TensorShapeInfo {
  std::string name;             // GGUF tensor name, e.g. "blk.0.attn_v.weight"
  DType type = DType::kF32;     // its type in the input file
  std::vector<int64_t> shape;   // ggml order: shape[0] is the row length
};

struct ModelShapeInfo {
  int32_t num_layers = 0;    // {arch}.block_count
  int32_t num_heads = 0;     // {arch}.attention.head_count
  int32_t num_kv_heads = 0;  // {arch}.attention.head_count_kv (0: same as num_heads)
};

struct TypeChoiceOptions {
  FileType file_type = FileType::kQ8_0;
  bool pure = false;                 // every quantizable tensor gets the recipe's default type, no mix;
                                     // a tensor whose rows cannot take it is an error (no fallback)
  bool leave_output_tensor = false;  // keep output.weight in its input type
  bool has_importance = false;       // an imatrix is given (changes Q4_0/Q5_0 ffn_down of early layers)
};

struct TensorTypeChoice {
  std::string name;
  DType type = DType::kF32;      // the type it is written in
  bool quantize = false;         // false: copied unchanged (norms, 1-D tensors, --leave-output-tensor)
  std::string fallback;          // why the mix type was replaced, or empty
};

// llama.cpp's weight order (its weight_name_comparer): tensors outside blocks first, then block by
// block, each group sorted by name. The quantizer writes tensors in this order, as llama.cpp does,
// and the per-layer counters of the mixes advance in it.
void sort_like_llama_cpp(std::vector<TensorShapeInfo>& tensors);

// One choice per tensor, in the order given. Errors (invalid_argument) only in --pure mode, for a
// tensor whose rows are not a multiple of the type's block size.
Expected<std::vector<TensorTypeChoice>> choose_tensor_types(const std::vector<TensorShapeInfo>& tensors,
                                                            const ModelShapeInfo& model,
                                                            const TypeChoiceOptions& options);

}  // namespace tessera::quantize
