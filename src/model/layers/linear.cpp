#include "model/layers/linear.h"

#include <algorithm>

#include "base/check.h"
#include "kernels/kernels.h"
#include "model/weight_loader.h"

namespace tessera {

void run_linears(std::span<const LinearOutput> outputs, const float* x, int32_t num_tokens, const LayerContext& ctx) {
  if (ctx.observer != nullptr && *ctx.observer) {
    for (const LinearOutput& o : outputs) {
      if (!o.linear->observed_name.empty()) {
        (*ctx.observer)(MatmulInput{o.linear->observed_name, x, num_tokens, o.linear->weight.num_cols});
      }
    }
  }
  kernels::MatmulOutput matmuls[4];
  TS_CHECK(outputs.size() <= 4, "run_linears of %zu outputs", outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) matmuls[i] = {&outputs[i].linear->weight, outputs[i].out};
  kernels::matmul_shared_input(std::span<const kernels::MatmulOutput>(matmuls, outputs.size()), x, num_tokens,
                               ctx.matmul_scratch, ctx.pool);
  for (const LinearOutput& o : outputs) {
    if (!o.linear->bias.empty()) {
      kernels::add_bias(o.out, o.linear->bias.data(), num_tokens, o.linear->num_outputs(), &ctx.pool);
    }
  }
}

Expected<Linear> load_linear(const gguf::GgufFile& file, TensorKind kind, int32_t layer, int64_t num_outputs,
                             int64_t num_inputs, BiasMode bias) {
  Linear linear;
  linear.observed_name = tensor_name(kind, layer);
  TS_ASSIGN_OR_RETURN(linear.weight, load_matrix(file, linear.observed_name, num_outputs, num_inputs));
  const std::string bias_name = tensor_name(kind, layer, "bias");
  if (bias == BiasMode::kRequired || (bias == BiasMode::kOptional && file.find_tensor(bias_name) != nullptr)) {
    TS_ASSIGN_OR_RETURN(linear.bias, load_vector(file, bias_name, num_outputs));
  }
  return linear;
}

std::vector<Linear> split_linear_rows(const Linear& fused, std::span<const int64_t> slice_rows) {
  std::vector<Linear> slices;
  int64_t first_row = 0;
  for (const int64_t rows : slice_rows) {
    Linear slice;
    slice.weight = fused.weight;
    slice.weight.num_rows = rows;
    slice.weight.data = fused.weight.row(first_row);
    if (!fused.bias.empty()) {
      slice.bias.assign(fused.bias.begin() + first_row, fused.bias.begin() + first_row + rows);
    }
    if (slices.empty()) slice.observed_name = fused.observed_name;
    slices.push_back(std::move(slice));
    first_row += rows;
  }
  TS_CHECK(first_row == fused.weight.num_rows, "slices of %lld rows from a weight of %lld",
           static_cast<long long>(first_row), static_cast<long long>(fused.weight.num_rows));
  return slices;
}

}  // namespace tessera
