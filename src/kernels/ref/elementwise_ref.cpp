// Reference RMSNorm, RoPE, SiLU-gating, softmax and row gathers, following ggml's f32 CPU ops
// (sums in double where ggml uses ggml_float) so results track llama.cpp closely.
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace tessera::kernels::ref {

void get_rows(const MatrixView& table, std::span<const int32_t> ids, float* out) {
  for (size_t t = 0; t < ids.size(); ++t) {
    dequantize_row_ref(table.type, table.row(ids[t]), out + t * table.num_cols, table.num_cols);
  }
}

void rms_norm(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* row = x + t * dim;
    double sum_squares = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
    const float mean = static_cast<float>(sum_squares / static_cast<double>(dim));
    const float scale = 1.0f / std::sqrt(mean + eps);
    float* dst = out + t * dim;
    for (int64_t i = 0; i < dim; ++i) dst[i] = row[i] * scale * weight[i];
  }
}

void rope_angles(int32_t position, const RopeParams& params, float* cos_sin) {
  const int64_t rot_dims = params.rot_dims;
  // NOTE: theta is advanced by repeated float multiplication, as ggml's rope cache does, so the
  // angles (and the logits) agree with llama.cpp to the last bit more often than powf() would.
  const float theta_scale = std::pow(params.freq_base, -2.0f / static_cast<float>(rot_dims));
  float theta = static_cast<float>(position) * params.freq_scale;
  for (int64_t i = 0; i < rot_dims; i += 2) {
    cos_sin[i] = std::cos(theta);
    cos_sin[i + 1] = std::sin(theta);
    theta *= theta_scale;
  }
}

void rope_rotate(float* x, int64_t num_heads, int64_t head_dim, const float* cos_sin, const RopeParams& params) {
  const int64_t rot_dims = params.rot_dims;
  for (int64_t h = 0; h < num_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < rot_dims; i += 2) {
      const float c = cos_sin[i], s = cos_sin[i + 1];
      // Normal order rotates (2k, 2k+1); NeoX rotates (k, k + rot_dims/2).
      const int64_t a = params.order == RopeOrder::kNormal ? i : i / 2;
      const int64_t b = params.order == RopeOrder::kNormal ? i + 1 : i / 2 + rot_dims / 2;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

void rope(float* x, std::span<const int32_t> positions, int64_t num_heads, int64_t head_dim,
          const RopeParams& params) {
  std::vector<float> cos_sin(static_cast<size_t>(params.rot_dims));
  for (size_t t = 0; t < positions.size(); ++t) {
    rope_angles(positions[t], params, cos_sin.data());
    rope_rotate(x + static_cast<int64_t>(t) * num_heads * head_dim, num_heads, head_dim, cos_sin.data(), params);
  }
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

float gelu_tanh_of_half(float h) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefA = 0.044715f;
  return f16_to_f32(f32_to_f16(0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + kCoefA * h * h)))));
}

void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out) {
  // NOTE: ggml's CPU backend looks GELU up in a table indexed by the f16 of its input, holding
  // f16 results (GGML_GELU_FP16); computing the same two roundings here gives the same values.
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float gelu = g <= -10.0f ? 0.0f : g >= 10.0f ? g : gelu_tanh_of_half(f16_to_f32(f32_to_f16(g)));
    out[i] = gelu * up[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void softmax(float* x, int64_t n) {
  float max_value = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max_value = std::max(max_value, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv_sum;
}

}  // namespace tessera::kernels::ref
