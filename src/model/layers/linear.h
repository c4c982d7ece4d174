// Linear: y = W x (+ b), the one place where weight matmuls run and the matmul-input observer
// hooks in. Fused weights (phi3's attn_qkv, ffn_up) are split into row slices that share one
// input pass.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "model/layers/layer_context.h"
#include "model/tensor_names.h"
#include "tensor/tensor_view.h"

namespace tessera {

struct Linear {
  MatrixView weight;          // [num_outputs, num_inputs] in its stored dtype
  std::vector<float> bias;    // [num_outputs] f32, or empty
  std::string observed_name;  // GGUF name the observer sees; empty for the later slices of a fused weight

  int64_t num_outputs() const { return weight.num_rows; }
};

struct LinearOutput {
  const Linear* linear;
  float* out;  // [num_tokens, linear->num_outputs()] f32
};

// out_i = linear_i(x) for up to 4 linears sharing the input x ([num_tokens, num_inputs] f32):
// x is converted once and all rows run in one parallel loop (kernels::matmul_shared_input).
void run_linears(std::span<const LinearOutput> outputs, const float* x, int32_t num_tokens, const LayerContext& ctx);
inline void run_linear(const Linear& linear, const float* x, int32_t num_tokens, float* out, const LayerContext& ctx) {
  const LinearOutput output{&linear, out};
  run_linears(std::span<const LinearOutput>(&output, 1), x, num_tokens, ctx);
}

enum class BiasMode { kNone, kOptional, kRequired };

// Loads the [num_outputs, num_inputs] weight `kind` of `layer` (-1: not a layer tensor), with
// its ".bias" per `bias`; a missing or misshapen tensor is an error naming it.
Expected<Linear> load_linear(const gguf::GgufFile& file, TensorKind kind, int32_t layer, int64_t num_outputs,
                             int64_t num_inputs, BiasMode bias = BiasMode::kNone);

// Splits a fused weight into consecutive row slices of the given sizes (which must add up to its
// rows); the first slice keeps the observed name, so the observer sees the input once.
std::vector<Linear> split_linear_rows(const Linear& fused, std::span<const int64_t> slice_rows);

}  // namespace tessera
