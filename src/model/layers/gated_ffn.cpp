#include "model/layers/gated_ffn.h"

#include "kernels/kernels.h"

namespace tessera {

void GatedFfn::forward(const float* normed, int32_t n, float* gate_buf, float* up_buf, float* out,
                       const LayerContext& ctx) const {
  const LinearOutput gate_up[] = {{&gate, gate_buf}, {&up, up_buf}};
  run_linears(gate_up, normed, n, ctx);
  const int64_t count = static_cast<int64_t>(n) * ffn_dim();
  if (activation == FfnActivation::kGeluTanh) {
    kernels::gelu_tanh_mul(gate_buf, up_buf, count, gate_buf, &ctx.pool);
  } else {
    kernels::silu_mul(gate_buf, up_buf, count, gate_buf, &ctx.pool);
  }
  run_linear(down, gate_buf, n, out, ctx);
}

}  // namespace tessera
