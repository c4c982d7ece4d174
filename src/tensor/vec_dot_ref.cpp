// vec_dot_type and vec_dot_ref: the reference dot product of a weight row with an activation row
// already converted to vec_dot_type(weight type). Quantized pairs take exact integer dot products
// per block (or per group) and apply the float scales afterwards, in the same order as ggml's
// generic scalar ggml_vec_dot_*_q8_* code, so the float result matches it bit for bit.
#include <cstring>
#include <string>

#include "base/check.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

// NOTE: no fused multiply-add contraction here: ggml's reference code rounds every product and
// sum on its own, and fusing a * b + c changes results (and bytes, as seen with -march=native).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace tessera {
namespace {

constexpr int kBlock = kLegacyBlockSize;
constexpr int kHalfBlock = kLegacyBlockSize / 2;
// ggml's scalar k-quant dot products keep 8 float partial sums (lane = element index mod 8) that
// persist across blocks and are added together only at the end; we keep that order.
constexpr int kNumLanes = 8;

uint32_t load_fifth_bits(const uint8_t* qh_bytes) {
  uint32_t bits;
  std::memcpy(&bits, qh_bytes, sizeof(bits));
  return bits;
}

float dot_f32(int64_t n, const float* w, const float* a) {
  // NOTE: plain float accumulation, as ggml's SIMD path on x86 (its scalar fallback uses double).
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += w[i] * a[i];
  return sum;
}

template <float (*kToF32)(uint16_t)>
float dot_16bit(int64_t n, const uint16_t* w, const uint16_t* a) {
  // Products in float, accumulated in double (ggml_vec_dot_f16 / _bf16 scalar path).
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(kToF32(w[i]) * kToF32(a[i]));
  return static_cast<float>(sum);
}

float dot_q4_0(int64_t num_blocks, const BlockQ4_0* w, const BlockQ8_0* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int sum_int = 0;
    for (int j = 0; j < kHalfBlock; ++j) {
      sum_int += ((w[b].qs[j] & 0x0F) - 8) * a[b].qs[j];
      sum_int += ((w[b].qs[j] >> 4) - 8) * a[b].qs[j + kHalfBlock];
    }
    sum += sum_int * f16_to_f32(w[b].d) * f16_to_f32(a[b].d);
  }
  return sum;
}

float dot_q4_1(int64_t num_blocks, const BlockQ4_1* w, const BlockQ8_1* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int sum_int = 0;
    for (int j = 0; j < kHalfBlock; ++j) {
      sum_int += (w[b].qs[j] & 0x0F) * a[b].qs[j];
      sum_int += (w[b].qs[j] >> 4) * a[b].qs[j + kHalfBlock];
    }
    // m * sum(a) = m * s: the activation block carries d * sum(qs) for exactly this term.
    sum += (f16_to_f32(w[b].d) * f16_to_f32(a[b].d)) * sum_int + f16_to_f32(w[b].m) * f16_to_f32(a[b].s);
  }
  return sum;
}

float dot_q5_0(int64_t num_blocks, const BlockQ5_0* w, const BlockQ8_0* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint32_t high_bits = load_fifth_bits(w[b].qh);
    int sum_int = 0;
    for (int j = 0; j < kHalfBlock; ++j) {
      const int high0 = ((high_bits >> j) & 1) << 4;
      const int high1 = ((high_bits >> (j + kHalfBlock)) & 1) << 4;
      sum_int += (((w[b].qs[j] & 0x0F) | high0) - 16) * a[b].qs[j];
      sum_int += (((w[b].qs[j] >> 4) | high1) - 16) * a[b].qs[j + kHalfBlock];
    }
    sum += (f16_to_f32(w[b].d) * f16_to_f32(a[b].d)) * sum_int;
  }
  return sum;
}

float dot_q5_1(int64_t num_blocks, const BlockQ5_1* w, const BlockQ8_1* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint32_t high_bits = load_fifth_bits(w[b].qh);
    int sum_int = 0;
    for (int j = 0; j < kHalfBlock; ++j) {
      const int high0 = ((high_bits >> j) & 1) << 4;
      const int high1 = ((high_bits >> (j + kHalfBlock)) & 1) << 4;
      sum_int += ((w[b].qs[j] & 0x0F) | high0) * a[b].qs[j];
      sum_int += ((w[b].qs[j] >> 4) | high1) * a[b].qs[j + kHalfBlock];
    }
    sum += (f16_to_f32(w[b].d) * f16_to_f32(a[b].d)) * sum_int + f16_to_f32(w[b].m) * f16_to_f32(a[b].s);
  }
  return sum;
}

// Q8_0 x Q8_0 (ggml's), and Q8_1 x Q8_1 by the same rule (ggml has no Q8_1 weight dot product).
template <typename Block>
float dot_q8_blocks(int64_t num_blocks, const Block* w, const Block* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int sum_int = 0;
    for (int j = 0; j < kBlock; ++j) sum_int += w[b].qs[j] * a[b].qs[j];
    sum += sum_int * (f16_to_f32(w[b].d) * f16_to_f32(a[b].d));
  }
  return sum;
}

float dot_q2_K(int64_t num_blocks, const BlockQ2_K* w, const BlockQ8_K* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    // The mins term: sum_g min_g * sum(a in group g), from the precomputed group sums.
    int sum_mins = 0;
    for (int g = 0; g < kQK_K / 16; ++g) sum_mins += a[b].bsums[g] * (w[b].scales[g] >> 4);
    const float d_all = a[b].d * f16_to_f32(w[b].d);
    const float d_min = a[b].d * f16_to_f32(w[b].dmin);
    int sum_int = 0;
    for (int g = 0; g < kQK_K / 16; ++g) {
      int group_sum = 0;
      for (int l = 0; l < 16; ++l) {
        const int i = 16 * g + l;
        const int chunk = i / 128;
        const int within = i % 128;
        const int q = (w[b].qs[32 * chunk + within % 32] >> (2 * (within / 32))) & 3;
        group_sum += a[b].qs[i] * q;
      }
      sum_int += (w[b].scales[g] & 0xF) * group_sum;
    }
    sum += d_all * sum_int - d_min * sum_mins;
  }
  return sum;
}

// Adds lane_sums[l] += d * (integer dot of lane l), for per-element signed weight quants and an
// integer weight scale per element; the shared tail of the Q3_K/Q4_K/Q5_K/Q6_K dot products.
void accumulate_lanes(const int8_t* weight_quants, const int* element_scales, const int8_t* act_quants,
                      float d, float* lane_sums) {
  int lane_int[kNumLanes] = {};
  for (int i = 0; i < kQK_K; ++i)
    lane_int[i % kNumLanes] += element_scales[i] * (act_quants[i] * weight_quants[i]);
  for (int l = 0; l < kNumLanes; ++l) lane_sums[l] += d * lane_int[l];
}

float sum_lanes(float sum, const float* lane_sums) {
  for (int l = 0; l < kNumLanes; ++l) sum += lane_sums[l];
  return sum;
}

float dot_q3_K(int64_t num_blocks, const BlockQ3_K* w, const BlockQ8_K* a) {
  float lane_sums[kNumLanes] = {};
  int8_t quants[kQK_K];
  int scales[kQK_K];
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int i = 0; i < kQK_K; ++i) {
      const int chunk = i / 128;
      const int within = i % 128;
      const int low = (w[b].qs[32 * chunk + within % 32] >> (2 * (within / 32))) & 3;
      const bool high_bit = (w[b].hmask[i % 32] >> (i / 32)) & 1;
      quants[i] = static_cast<int8_t>(low - (high_bit ? 0 : 4));
      scales[i] = unpack_q3_K_scale(i / 16, w[b].scales);
    }
    accumulate_lanes(quants, scales, a[b].qs, f16_to_f32(w[b].d) * a[b].d, lane_sums);
  }
  return sum_lanes(0.0f, lane_sums);
}

// Q4_K and Q5_K: `high_bit_of(i)` gives the 5th quant bit of element i (always 0 for Q4_K).
template <typename Block, typename HighBit>
float dot_k4_style(int64_t num_blocks, const Block* w, const BlockQ8_K* a, HighBit high_bit_of) {
  float sum = 0;
  float lane_sums[kNumLanes] = {};
  int8_t quants[kQK_K];
  int scales[kQK_K];
  for (int64_t b = 0; b < num_blocks; ++b) {
    uint8_t group_scales[kQK_K / 32];
    uint8_t group_mins[kQK_K / 32];
    for (int g = 0; g < kQK_K / 32; ++g)
      unpack_k4_scale_min(g, w[b].scales, &group_scales[g], &group_mins[g]);
    for (int i = 0; i < kQK_K; ++i) {
      const uint8_t byte = w[b].qs[32 * (i / 64) + i % 32];
      const int low = (i % 64) < 32 ? byte & 0xF : byte >> 4;
      quants[i] = static_cast<int8_t>(low + (high_bit_of(w[b], i) ? 16 : 0));
      scales[i] = group_scales[i / 32];
    }
    int sum_mins = 0;
    for (int g = 0; g < kQK_K / 16; ++g) sum_mins += a[b].bsums[g] * group_mins[g / 2];
    accumulate_lanes(quants, scales, a[b].qs, f16_to_f32(w[b].d) * a[b].d, lane_sums);
    const float d_min = f16_to_f32(w[b].dmin) * a[b].d;
    sum -= d_min * sum_mins;
  }
  return sum_lanes(sum, lane_sums);
}

float dot_q6_K(int64_t num_blocks, const BlockQ6_K* w, const BlockQ8_K* a) {
  float lane_sums[kNumLanes] = {};
  int8_t quants[kQK_K];
  int scales[kQK_K];
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int i = 0; i < kQK_K; ++i) {
      const int chunk = i / 128;
      const int within = i % 128;
      const uint8_t low_byte = w[b].ql[64 * chunk + within % 64];
      const int low = within < 64 ? low_byte & 0xF : low_byte >> 4;
      const int high = (w[b].qh[32 * chunk + within % 32] >> (2 * (within / 32))) & 3;
      quants[i] = static_cast<int8_t>((low | (high << 4)) - 32);
      scales[i] = w[b].scales[i / 16];
    }
    accumulate_lanes(quants, scales, a[b].qs, f16_to_f32(w[b].d) * a[b].d, lane_sums);
  }
  return sum_lanes(0.0f, lane_sums);
}

// Q8_K x Q8_K (not in ggml; defined the natural way for completeness).
float dot_q8_K(int64_t num_blocks, const BlockQ8_K* w, const BlockQ8_K* a) {
  float sum = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int sum_int = 0;
    for (int i = 0; i < kQK_K; ++i) sum_int += w[b].qs[i] * a[b].qs[i];
    sum += sum_int * (w[b].d * a[b].d);
  }
  return sum;
}

}  // namespace

DType vec_dot_type(DType weight_type) {
  switch (weight_type) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
    case DType::kQ8_1:
    case DType::kQ8_K:
      return weight_type;
    case DType::kQ4_0:
    case DType::kQ5_0:
      return DType::kQ8_0;
    case DType::kQ4_1:
    case DType::kQ5_1:
      return DType::kQ8_1;
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return DType::kQ8_K;
  }
  TS_CHECK(false, "vec_dot_type: unknown dtype id %u", static_cast<unsigned>(weight_type));
  __builtin_unreachable();
}

float vec_dot_ref(DType weight_type, int64_t n, const void* weight_row, const void* act_row) {
  const DTypeTraits& type_traits = traits(weight_type);
  TS_CHECK(n % type_traits.block_size == 0, "%lld elements is not a whole number of %s blocks",
           static_cast<long long>(n), std::string(type_traits.name).c_str());
  const int64_t num_blocks = n / type_traits.block_size;
  const auto* a_q8_0 = static_cast<const BlockQ8_0*>(act_row);
  const auto* a_q8_1 = static_cast<const BlockQ8_1*>(act_row);
  const auto* a_q8_K = static_cast<const BlockQ8_K*>(act_row);
  switch (weight_type) {
    case DType::kF32:
      return dot_f32(n, static_cast<const float*>(weight_row), static_cast<const float*>(act_row));
    case DType::kF16:
      return dot_16bit<f16_to_f32>(n, static_cast<const uint16_t*>(weight_row),
                                   static_cast<const uint16_t*>(act_row));
    case DType::kBF16:
      return dot_16bit<bf16_to_f32>(n, static_cast<const uint16_t*>(weight_row),
                                    static_cast<const uint16_t*>(act_row));
    case DType::kQ4_0:
      return dot_q4_0(num_blocks, static_cast<const BlockQ4_0*>(weight_row), a_q8_0);
    case DType::kQ4_1:
      return dot_q4_1(num_blocks, static_cast<const BlockQ4_1*>(weight_row), a_q8_1);
    case DType::kQ5_0:
      return dot_q5_0(num_blocks, static_cast<const BlockQ5_0*>(weight_row), a_q8_0);
    case DType::kQ5_1:
      return dot_q5_1(num_blocks, static_cast<const BlockQ5_1*>(weight_row), a_q8_1);
    case DType::kQ8_0:
      return dot_q8_blocks(num_blocks, static_cast<const BlockQ8_0*>(weight_row), a_q8_0);
    case DType::kQ8_1:
      return dot_q8_blocks(num_blocks, static_cast<const BlockQ8_1*>(weight_row), a_q8_1);
    case DType::kQ2_K:
      return dot_q2_K(num_blocks, static_cast<const BlockQ2_K*>(weight_row), a_q8_K);
    case DType::kQ3_K:
      return dot_q3_K(num_blocks, static_cast<const BlockQ3_K*>(weight_row), a_q8_K);
    case DType::kQ4_K:
      return dot_k4_style(num_blocks, static_cast<const BlockQ4_K*>(weight_row), a_q8_K,
                          [](const BlockQ4_K&, int) { return false; });
    case DType::kQ5_K:
      return dot_k4_style(
          num_blocks, static_cast<const BlockQ5_K*>(weight_row), a_q8_K,
          [](const BlockQ5_K& block, int i) { return ((block.qh[i % 32] >> (i / 32)) & 1) != 0; });
    case DType::kQ6_K:
      return dot_q6_K(num_blocks, static_cast<const BlockQ6_K*>(weight_row), a_q8_K);
    case DType::kQ8_K:
      return dot_q8_K(num_blocks, static_cast<const BlockQ8_K*>(weight_row), a_q8_K);
  }
  TS_CHECK(false, "vec_dot_ref: unhandled dtype %s", std::string(type_traits.name).c_str());
  __builtin_unreachable();
}

}  // namespace tessera
