// Each row is encoded in four steps: (1) per group, a weighted least-squares fit of the scale (and
// offset) over a grid of candidate scales; (2) the group scales are quantized to the format's few
// bits, trying the neighbouring integer codes and keeping the one with the lowest weighted error;
// (3) every value is rounded to the nearest level of its final, stored scale; (4) when the input
// Gram matrix is known, codes move by one level while that lowers the correlated error e^T G e.
#include "quantize/importance_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::quantize {
namespace {

constexpr float kTiny = 1e-15f;

int round_to_int(float value) { return static_cast<int>(std::nearbyint(value)); }
int clamp_int(int value, int low, int high) { return std::max(low, std::min(high, value)); }

// Weighted squared error of x ~ d * l + m over n values.
float weighted_error(int n, const float* x, const float* w, const int* l, float d, float m) {
  float error = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = d * static_cast<float>(l[i]) + m - x[i];
    error += w[i] * diff * diff;
  }
  return error;
}

// Symmetric fit x ~ d * l, l in [low, high] (low < 0 < high). Candidate inverse scales map the
// element of largest magnitude onto levels near `low` or near `high`; for each, d is the weighted
// least-squares scale of the rounded levels; two re-rounding passes polish the best. Returns d.
float fit_symmetric(int n, int low, int high, const float* x, const float* w, int* l) {
  float absolute_max = 0, signed_max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > absolute_max) {
      absolute_max = std::fabs(x[i]);
      signed_max = x[i];
    }
  }
  if (absolute_max < kTiny) {
    std::fill(l, l + n, 0);
    return 0;
  }
  std::vector<int> candidate(static_cast<size_t>(n));
  float best_gain = -1, best_d = 0;
  auto try_inverse_scale = [&](float inverse_scale) {
    float sum_xl = 0, sum_ll = 0;
    for (int i = 0; i < n; ++i) {
      candidate[i] = clamp_int(round_to_int(inverse_scale * x[i]), low, high);
      sum_xl += w[i] * x[i] * candidate[i];
      sum_ll += w[i] * candidate[i] * candidate[i];
    }
    // The weighted error is sum w x^2 - sum_xl^2 / sum_ll: maximise the second term.
    if (sum_ll > 0 && sum_xl * sum_xl / sum_ll > best_gain) {
      best_gain = sum_xl * sum_xl / sum_ll;
      best_d = sum_xl / sum_ll;
      std::copy(candidate.begin(), candidate.end(), l);
    }
  };
  for (int step = -10; step <= 10; ++step) {
    try_inverse_scale((static_cast<float>(low) - 0.1f * step) / signed_max);
    try_inverse_scale((static_cast<float>(high) + 0.1f * step) / signed_max);
  }
  for (int pass = 0; pass < 2 && best_d != 0; ++pass) try_inverse_scale(1 / best_d);
  return best_d;
}

// Affine fit x ~ d * l + m, l in [0, high]. With `offset_at_most_zero` (k-quants store -m as an
// unsigned min) m is kept <= 0. Candidate inverse scales span the range around high/(max-min);
// (d, m) is the weighted least-squares solution for each rounding. Returns d, sets *m.
float fit_affine(int n, int high, const float* x, const float* w, bool offset_at_most_zero, int* l, float* m) {
  float min = x[0], max = x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  if (offset_at_most_zero && min > 0) min = 0;
  if (max - min < kTiny) {
    std::fill(l, l + n, 0);
    *m = min;
    return 0;
  }
  std::vector<int> candidate(static_cast<size_t>(n));
  float best_d = (max - min) / high, best_m = min;
  for (int i = 0; i < n; ++i) l[i] = clamp_int(round_to_int((x[i] - min) / best_d), 0, high);
  float best_error = weighted_error(n, x, w, l, best_d, best_m);
  auto try_rounding = [&](float inverse_scale, float offset) {
    float sum_w = 0, sum_l = 0, sum_ll = 0, sum_x = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      candidate[i] = clamp_int(round_to_int(inverse_scale * (x[i] - offset)), 0, high);
      sum_w += w[i];
      sum_l += w[i] * candidate[i];
      sum_ll += w[i] * candidate[i] * candidate[i];
      sum_x += w[i] * x[i];
      sum_xl += w[i] * x[i] * candidate[i];
    }
    const float determinant = sum_w * sum_ll - sum_l * sum_l;
    if (!(determinant > 0)) return;
    float d = (sum_w * sum_xl - sum_x * sum_l) / determinant;
    float offset_fit = (sum_ll * sum_x - sum_l * sum_xl) / determinant;
    if (offset_at_most_zero && offset_fit > 0) {
      offset_fit = 0;
      d = sum_xl / sum_ll;
    }
    const float error = weighted_error(n, x, w, candidate.data(), d, offset_fit);
    if (error < best_error) {
      best_error = error;
      best_d = d;
      best_m = offset_fit;
      std::copy(candidate.begin(), candidate.end(), l);
    }
  };
  for (int step = 0; step <= 24; ++step) try_rounding((high - 1.2f + 0.1f * step) / (max - min), min);
  for (int pass = 0; pass < 2 && best_d > 0; ++pass) try_rounding(1 / best_d, best_m);
  *m = best_m;
  return best_d;
}

// Levels of x for a fixed stored scale/offset: nearest, clamped.
void round_to_levels(int n, const float* x, float d, float m, int low, int high, int* l) {
  const float inverse = d != 0 ? 1 / d : 0;
  for (int i = 0; i < n; ++i) l[i] = clamp_int(round_to_int((x[i] - m) * inverse), low, high);
}

// Of the integer codes code-1, code, code+1 (within [low, high]) for a group scale d_unit * code,
// the one whose re-rounded group has the lowest weighted error.
int best_scale_code(int n, const float* x, const float* w, float d_unit, int code, int low, int high, int level_low,
                    int level_high) {
  int best = clamp_int(code, low, high);
  float best_error = INFINITY;
  int levels[32];
  for (int c = std::max(low, code - 1); c <= std::min(high, code + 1); ++c) {
    round_to_levels(n, x, d_unit * c, 0, level_low, level_high, levels);
    const float error = weighted_error(n, x, w, levels, d_unit * c, 0);
    if (error < best_error) {
      best_error = error;
      best = c;
    }
  }
  return best;
}

// As best_scale_code for affine groups: x ~ d_unit * scale_code * l - m_unit * min_code.
void best_scale_min_codes(int n, const float* x, const float* w, float d_unit, float m_unit, int max_code,
                          int level_high, int* scale_code, int* min_code) {
  const int scale0 = *scale_code, min0 = *min_code;
  float best_error = INFINITY;
  int levels[32];
  for (int s = std::max(0, scale0 - 1); s <= std::min(max_code, scale0 + 1); ++s) {
    for (int mc = std::max(0, min0 - 1); mc <= std::min(max_code, min0 + 1); ++mc) {
      const float d = d_unit * s, m = -m_unit * mc;
      round_to_levels(n, x, d, m, 0, level_high, levels);
      const float error = weighted_error(n, x, w, levels, d, m);
      if (error < best_error) {
        best_error = error;
        *scale_code = s;
        *min_code = mc;
      }
    }
  }
}

// Every element's final code and what it decodes to: value = base + step * code, code in
// [0, code_max]. The encoders fill it (and the block scales); refine_codes may move codes; the
// packers write the codes into the block.
struct ElementCode {
  int code = 0;
  int code_max = 0;
  float step = 0;
  float base = 0;
};

void set_codes(int n, const int* levels, int level_low, int level_high, float step, float base, ElementCode* out) {
  for (int j = 0; j < n; ++j) out[j] = {levels[j] - level_low, level_high - level_low, step, base + step * level_low};
}

// ---- 32-element formats ----------------------------------------------------------------------

template <typename Block>
void encode_symmetric_32(const float* x, const float* w, Block* y, int low, int high, ElementCode* codes) {
  int levels[32];
  y->d = f32_to_f16(fit_symmetric(32, low, high, x, w, levels));
  const float d = f16_to_f32(y->d);
  round_to_levels(32, x, d, 0, low, high, levels);
  set_codes(32, levels, low, high, d, 0, codes);
}

template <typename Block>
void encode_affine_32(const float* x, const float* w, Block* y, int high, ElementCode* codes) {
  int levels[32];
  float m;
  y->d = f32_to_f16(fit_affine(32, high, x, w, /*offset_at_most_zero=*/false, levels, &m));
  y->m = f32_to_f16(m);
  round_to_levels(32, x, f16_to_f32(y->d), f16_to_f32(y->m), 0, high, levels);
  set_codes(32, levels, 0, high, f16_to_f32(y->d), f16_to_f32(y->m), codes);
}

void pack_nibbles(const ElementCode* c, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((c[j].code & 0xF) | ((c[j + 16].code & 0xF) << 4));
}

void pack_fifth_bits(const ElementCode* c, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < 32; ++j) bits |= static_cast<uint32_t>((c[j].code >> 4) & 1) << j;
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(bits >> (8 * b));
}

void encode_q4_0(const float* x, const float* w, BlockQ4_0* y, ElementCode* c) { encode_symmetric_32(x, w, y, -8, 7, c); }
void encode_q5_0(const float* x, const float* w, BlockQ5_0* y, ElementCode* c) { encode_symmetric_32(x, w, y, -16, 15, c); }
void encode_q4_1(const float* x, const float* w, BlockQ4_1* y, ElementCode* c) { encode_affine_32(x, w, y, 15, c); }
void encode_q5_1(const float* x, const float* w, BlockQ5_1* y, ElementCode* c) { encode_affine_32(x, w, y, 31, c); }
void pack_q4_0(const ElementCode* c, BlockQ4_0* y) { pack_nibbles(c, y->qs); }
void pack_q4_1(const ElementCode* c, BlockQ4_1* y) { pack_nibbles(c, y->qs); }
void pack_q5_0(const ElementCode* c, BlockQ5_0* y) {
  pack_nibbles(c, y->qs);
  pack_fifth_bits(c, y->qh);
}
void pack_q5_1(const ElementCode* c, BlockQ5_1* y) {
  pack_nibbles(c, y->qs);
  pack_fifth_bits(c, y->qh);
}

// ---- 256-element k-quants --------------------------------------------------------------------

// Symmetric groups (Q3_K: 16 x 16, 6-bit signed scales; Q6_K: 16 x 16, int8 scales). Fits each
// group, quantizes the group scales against the one of largest magnitude (which maps onto
// `scale_low`), and returns the super-scale d; `scale_codes` gets the group scale codes.
float encode_symmetric_groups(const float* x, const float* w, int level_low, int level_high, int scale_low,
                              int scale_high, int* scale_codes, ElementCode* codes) {
  int levels[kQK_K];
  float scales[16];
  float max_scale = 0;
  for (int g = 0; g < 16; ++g) {
    scales[g] = fit_symmetric(16, level_low, level_high, x + 16 * g, w + 16 * g, levels + 16 * g);
    if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
  }
  if (std::fabs(max_scale) < kTiny) {
    std::fill(scale_codes, scale_codes + 16, 0);
    std::fill(levels, levels + kQK_K, 0);
    set_codes(kQK_K, levels, level_low, level_high, 0, 0, codes);
    return 0;
  }
  const float inverse = static_cast<float>(scale_low) / max_scale;
  const float d = f16_to_f32(f32_to_f16(1 / inverse));
  for (int g = 0; g < 16; ++g) {
    scale_codes[g] = best_scale_code(16, x + 16 * g, w + 16 * g, d, round_to_int(inverse * scales[g]), scale_low,
                                     scale_high, level_low, level_high);
    round_to_levels(16, x + 16 * g, d * scale_codes[g], 0, level_low, level_high, levels + 16 * g);
    set_codes(16, levels + 16 * g, level_low, level_high, d * scale_codes[g], 0, codes + 16 * g);
  }
  return d;
}

void encode_q3_K(const float* x, const float* w, BlockQ3_K* y, ElementCode* c) {
  int scale_codes[16];
  y->d = f32_to_f16(encode_symmetric_groups(x, w, -4, 3, -32, 31, scale_codes, c));
  std::memset(y->scales, 0, kK_SCALE_SIZE);
  for (int g = 0; g < 16; ++g) pack_q3_K_scale(g, static_cast<int8_t>(scale_codes[g] + 32), y->scales);
}
void pack_q3_K(const ElementCode* c, BlockQ3_K* y) {
  int8_t quants[kQK_K];
  for (int j = 0; j < kQK_K; ++j) quants[j] = static_cast<int8_t>(c[j].code);
  pack_q3_K_quants(quants, y);
}

void encode_q6_K(const float* x, const float* w, BlockQ6_K* y, ElementCode* c) {
  int scale_codes[16];
  y->d = f32_to_f16(encode_symmetric_groups(x, w, -32, 31, -128, 127, scale_codes, c));
  for (int g = 0; g < 16; ++g) y->scales[g] = static_cast<int8_t>(scale_codes[g]);
}
void pack_q6_K(const ElementCode* c, BlockQ6_K* y) {
  int8_t quants[kQK_K];
  for (int j = 0; j < kQK_K; ++j) quants[j] = static_cast<int8_t>(c[j].code);
  pack_q6_K_quants(quants, y);
}

// Affine groups (Q2_K: 16 x 16, 4-bit scales and mins; Q4_K/Q5_K: 8 x 32, 6-bit). Writes the two
// f16 super-scales and returns the scale and min codes.
void encode_affine_groups(const float* x, const float* w, int group_size, int level_high, int max_code, uint16_t* d16,
                          uint16_t* dmin16, int* scale_codes, int* min_codes, ElementCode* codes) {
  const int num_groups = kQK_K / group_size;
  int levels[kQK_K];
  float scales[16], mins[16];  // mins stored positive: x ~ scale * l - min
  float max_scale = 0, max_min = 0;
  for (int g = 0; g < num_groups; ++g) {
    float offset;
    scales[g] = fit_affine(group_size, level_high, x + g * group_size, w + g * group_size, true,
                           levels + g * group_size, &offset);
    mins[g] = -offset;
    max_scale = std::max(max_scale, scales[g]);
    max_min = std::max(max_min, mins[g]);
  }
  *d16 = f32_to_f16(max_scale / max_code);
  *dmin16 = f32_to_f16(max_min / max_code);
  const float d = f16_to_f32(*d16), dmin = f16_to_f32(*dmin16);
  for (int g = 0; g < num_groups; ++g) {
    scale_codes[g] = d > 0 ? clamp_int(round_to_int(scales[g] / d), 0, max_code) : 0;
    min_codes[g] = dmin > 0 ? clamp_int(round_to_int(mins[g] / dmin), 0, max_code) : 0;
    best_scale_min_codes(group_size, x + g * group_size, w + g * group_size, d, dmin, max_code, level_high,
                         &scale_codes[g], &min_codes[g]);
    const float step = d * scale_codes[g], base = -dmin * min_codes[g];
    round_to_levels(group_size, x + g * group_size, step, base, 0, level_high, levels + g * group_size);
    set_codes(group_size, levels + g * group_size, 0, level_high, step, base, codes + g * group_size);
  }
}

void encode_q2_K(const float* x, const float* w, BlockQ2_K* y, ElementCode* c) {
  int scale_codes[16], min_codes[16];
  encode_affine_groups(x, w, 16, 3, 15, &y->d, &y->dmin, scale_codes, min_codes, c);
  for (int g = 0; g < 16; ++g) y->scales[g] = static_cast<uint8_t>(scale_codes[g] | (min_codes[g] << 4));
}
void pack_q2_K(const ElementCode* c, BlockQ2_K* y) {
  uint8_t quants[kQK_K];
  for (int j = 0; j < kQK_K; ++j) quants[j] = static_cast<uint8_t>(c[j].code);
  pack_2bit_quants(quants, y->qs);
}

template <typename Block>
void encode_k4_style(const float* x, const float* w, Block* y, int level_high, ElementCode* c) {
  int scale_codes[16], min_codes[16];
  encode_affine_groups(x, w, 32, level_high, 63, &y->d, &y->dmin, scale_codes, min_codes, c);
  std::memset(y->scales, 0, kK_SCALE_SIZE);
  for (int g = 0; g < 8; ++g) {
    pack_k4_scale_min(g, static_cast<uint8_t>(scale_codes[g]), static_cast<uint8_t>(min_codes[g]), y->scales);
  }
}
void encode_q4_K(const float* x, const float* w, BlockQ4_K* y, ElementCode* c) { encode_k4_style(x, w, y, 15, c); }
void encode_q5_K(const float* x, const float* w, BlockQ5_K* y, ElementCode* c) { encode_k4_style(x, w, y, 31, c); }
void pack_q4_K(const ElementCode* c, BlockQ4_K* y) {
  uint8_t quants[kQK_K];
  for (int j = 0; j < kQK_K; ++j) quants[j] = static_cast<uint8_t>(c[j].code);
  pack_q4_K_quants(quants, y);
}
void pack_q5_K(const ElementCode* c, BlockQ5_K* y) {
  uint8_t quants[kQK_K];
  for (int j = 0; j < kQK_K; ++j) quants[j] = static_cast<uint8_t>(c[j].code);
  pack_q5_K_quants(quants, y);
}

// Greedy rounding against the correlated objective e^T G e (e = x - decoded, G the row's input
// Gram matrix): moves single codes by +-1 while that lowers it, keeping Ge up to date.
void refine_codes(int64_t n, const float* x, const float* gram, ElementCode* codes) {
  std::vector<double> error(static_cast<size_t>(n)), gradient(static_cast<size_t>(n), 0.0);
  for (int64_t j = 0; j < n; ++j) error[j] = x[j] - (codes[j].base + codes[j].step * codes[j].code);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) gradient[i] += static_cast<double>(gram[i * n + j]) * error[j];
  }
  for (int pass = 0; pass < 4; ++pass) {
    int64_t num_moves = 0;
    for (int64_t j = 0; j < n; ++j) {
      ElementCode& c = codes[j];
      const double diagonal = gram[j * n + j];
      for (int move : {-1, 1}) {
        if (c.code + move < 0 || c.code + move > c.code_max) continue;
        const double delta = -static_cast<double>(c.step) * move;  // change of error[j]
        if (2 * delta * gradient[j] + delta * delta * diagonal >= -1e-12 * diagonal) continue;
        c.code += move;
        error[j] += delta;
        for (int64_t i = 0; i < n; ++i) gradient[i] += static_cast<double>(gram[i * n + j]) * delta;
        ++num_moves;
        break;
      }
    }
    if (num_moves == 0) break;
  }
}

template <typename Block, typename Encode, typename Pack>
void encode_row(const float* x, const float* w, const float* gram, void* dst, int64_t n, int block_size, Encode encode,
                Pack pack) {
  Block* blocks = static_cast<Block*>(dst);
  std::vector<ElementCode> codes(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / block_size; ++b) {
    encode(x + b * block_size, w + b * block_size, &blocks[b], codes.data() + b * block_size);
  }
  if (gram != nullptr) refine_codes(n, x, gram, codes.data());
  for (int64_t b = 0; b < n / block_size; ++b) pack(codes.data() + b * block_size, &blocks[b]);
}

}  // namespace

void quantize_row_with_importance(DType type, const float* src, void* dst, int64_t n, const float* importance,
                                  const float* gram) {
  const bool weighted = importance != nullptr && type != DType::kQ8_0 && traits(type).is_quantized;
  if (!weighted) {
    quantize_row_ref(type, src, dst, n);
    return;
  }
  TS_CHECK(n % dtype_block_size(type) == 0, "row of %lld is not a multiple of the block size",
           static_cast<long long>(n));
  // w_j = importance_j * sqrt(sigma^2 + x_j^2): the channel's activation energy times a factor that
  // favours large weights (llama.cpp's choice); a small floor keeps never-seen channels in the fit.
  double sum_x2 = 0, sum_importance = 0;
  for (int64_t j = 0; j < n; ++j) {
    sum_x2 += static_cast<double>(src[j]) * src[j];
    sum_importance += importance[j];
  }
  const float sigma2 = static_cast<float>(sum_x2 / static_cast<double>(n));
  const float floor = static_cast<float>(1e-3 * sum_importance / static_cast<double>(n)) + kTiny;
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) w[j] = (importance[j] + floor) * std::sqrt(sigma2 + src[j] * src[j]);

  const float* x = src;
  const float* g = gram;
  switch (type) {
    case DType::kQ4_0: return encode_row<BlockQ4_0>(x, w.data(), g, dst, n, 32, encode_q4_0, pack_q4_0);
    case DType::kQ4_1: return encode_row<BlockQ4_1>(x, w.data(), g, dst, n, 32, encode_q4_1, pack_q4_1);
    case DType::kQ5_0: return encode_row<BlockQ5_0>(x, w.data(), g, dst, n, 32, encode_q5_0, pack_q5_0);
    case DType::kQ5_1: return encode_row<BlockQ5_1>(x, w.data(), g, dst, n, 32, encode_q5_1, pack_q5_1);
    case DType::kQ2_K: return encode_row<BlockQ2_K>(x, w.data(), g, dst, n, kQK_K, encode_q2_K, pack_q2_K);
    case DType::kQ3_K: return encode_row<BlockQ3_K>(x, w.data(), g, dst, n, kQK_K, encode_q3_K, pack_q3_K);
    case DType::kQ4_K: return encode_row<BlockQ4_K>(x, w.data(), g, dst, n, kQK_K, encode_q4_K, pack_q4_K);
    case DType::kQ5_K: return encode_row<BlockQ5_K>(x, w.data(), g, dst, n, kQK_K, encode_q5_K, pack_q5_K);
    case DType::kQ6_K: return encode_row<BlockQ6_K>(x, w.data(), g, dst, n, kQK_K, encode_q6_K, pack_q6_K);
    default: quantize_row_ref(type, src, dst, n);  // Q8_1 / Q8_K are activation formats
  }
}

}  // namespace tessera::quantize
