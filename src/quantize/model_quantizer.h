// quantize_model: reads a GGUF model, converts each weight to the type its recipe assigns
// (tensor_type_choice.h), optionally weighting the rounding by an importance matrix, and writes a
// new GGUF with the same metadata plus general.file_type / general.quantization_version, tensors
// in llama.cpp's order. The output appears atomically (temporary file + rename) or not at all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf_file.h"
#include "quantize/file_type.h"
#include "quantize/importance_matrix.h"

namespace tessera::quantize {

struct QuantizeOptions {
  FileType file_type = FileType::kQ8_0;
  bool pure = false;                 // one type for every quantizable tensor, no mix, no fallback
  bool leave_output_tensor = false;  // keep output.weight as it is
};

struct TensorReport {
  std::string name;
  DType from = DType::kF32;
  DType to = DType::kF32;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  bool used_importance = false;  // rounded with imatrix weights
  std::string fallback;          // why the mix type was replaced, or empty
};

struct QuantizeReport {
  std::vector<TensorReport> tensors;  // in output order
  uint64_t output_file_bytes = 0;
};

// `importance` may be null. Errors: an input that is already quantized, an imatrix made for
// another model, a tensor too narrow for --pure, I/O failures — never a partial output file.
Expected<QuantizeReport> quantize_model(const gguf::GgufFile& input, const std::string& output_path,
                                        const QuantizeOptions& options, const ImportanceMatrix* importance,
                                        ThreadPool& pool);

}  // namespace tessera::quantize
