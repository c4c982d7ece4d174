// The packed on-disk block layouts of every quantized DType, byte for byte as GGUF/ggml store
// them (ggml-common.h). Only layouts live here; the numerics are in quant.h's implementations.
// NOTE: all scales named `d`/`dmin`/`m`/`s` of type uint16_t are IEEE binary16 bit patterns
// (convert with f16_to_f32); Q8_K alone keeps a binary32 scale.
#pragma once

#include <cstdint>

namespace tessera {

// Elements in one k-quant super-block.
inline constexpr int kQK_K = 256;
// Bytes of the packed 6-bit scale/min table of Q4_K and Q5_K (and of Q3_K's 6-bit scales).
inline constexpr int kK_SCALE_SIZE = 12;
// Elements in one block of the 32-wide legacy formats (Q4_0 ... Q8_1).
inline constexpr int kLegacyBlockSize = 32;

// ---- 32-element formats: value = d * q (+ m) ------------------------------------------------

// Q4_0: value[j] = d * (q[j] - 8), q in [0, 15].
struct BlockQ4_0 {
  uint16_t d;                        // f16 scale
  uint8_t qs[kLegacyBlockSize / 2];  // low nibble of qs[j] is element j, high nibble is element j+16
};

// Q4_1: value[j] = d * q[j] + m, q in [0, 15].
struct BlockQ4_1 {
  uint16_t d;                        // f16 scale
  uint16_t m;                        // f16 offset (the block minimum)
  uint8_t qs[kLegacyBlockSize / 2];  // nibbles as in BlockQ4_0
};

// Q5_0: value[j] = d * (q[j] - 16), q in [0, 31].
struct BlockQ5_0 {
  uint16_t d;                        // f16 scale
  uint8_t qh[4];                     // little-endian uint32: bit j is the 5th bit (0x10) of element j
  uint8_t qs[kLegacyBlockSize / 2];  // low 4 bits; nibbles as in BlockQ4_0
};

// Q5_1: value[j] = d * q[j] + m, q in [0, 31].
struct BlockQ5_1 {
  uint16_t d;                        // f16 scale
  uint16_t m;                        // f16 offset (the block minimum)
  uint8_t qh[4];                     // little-endian uint32: bit j is the 5th bit of element j
  uint8_t qs[kLegacyBlockSize / 2];  // low 4 bits; nibbles as in BlockQ4_0
};

// Q8_0: value[j] = d * qs[j].
struct BlockQ8_0 {
  uint16_t d;                   // f16 scale (amax / 127)
  int8_t qs[kLegacyBlockSize];  // element j, in [-127, 127]
};

// Q8_1: value[j] = d * qs[j]; only used for activations multiplied with Q4_1/Q5_1 weights.
struct BlockQ8_1 {
  uint16_t d;                   // f16 scale (amax / 127)
  uint16_t s;                   // f16 of d * sum(qs): lets the weight's offset m be applied once
  int8_t qs[kLegacyBlockSize];  // element j, in [-127, 127]
};

// ---- 256-element k-quant super-blocks --------------------------------------------------------
// Element order inside a super-block: chunks of 128 (Q2_K/Q3_K/Q6_K) or 64 (Q4_K/Q5_K) elements
// share one run of 32 bytes of qs, each sub-group of 32 elements taking a different bit field.

// Q2_K: 16 groups of 16; value = d * (scales[g] & 0xF) * q - dmin * (scales[g] >> 4), q in [0, 3].
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // group g: low nibble = 4-bit scale, high nibble = 4-bit min
  uint8_t qs[kQK_K / 4];       // 2-bit quants: element 128*c + 32*s + l is bits 2s..2s+1 of qs[32c + l]
  uint16_t d;                  // f16 super-scale of the 4-bit scales
  uint16_t dmin;               // f16 super-scale of the 4-bit mins
};

// Q3_K: 16 groups of 16; value = d * (scale6[g] - 32) * (q - 4), q in [0, 7] (low 2 bits in qs,
// high bit in hmask).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];       // bit b of hmask[l] is the high bit of element 32*b + l
  uint8_t qs[kQK_K / 4];          // low 2 bits, packed as in BlockQ2_K
  uint8_t scales[kK_SCALE_SIZE];  // 16 6-bit scales biased by 32: the low 4 bits of scale g are the
                                  // low (g < 8) or high (g >= 8) nibble of scales[g % 8]; its high
                                  // 2 bits are bits 2*(g/4)..2*(g/4)+1 of scales[8 + g % 4]
  uint16_t d;                     // f16 super-scale
};

// Q4_K: 8 groups of 32; value = d * sc[g] * q - dmin * mn[g], q in [0, 15].
struct BlockQ4_K {
  uint16_t d;                     // f16 super-scale of the 6-bit scales
  uint16_t dmin;                  // f16 super-scale of the 6-bit mins
  uint8_t scales[kK_SCALE_SIZE];  // 8 6-bit scales + 8 6-bit mins: g < 4: scales[g] and
                                  // scales[g+4] low 6 bits; g >= 4: nibbles of scales[g+4], top 2 bits
                                  // from the spare bits 6..7 of scales[g-4] and scales[g]
  uint8_t qs[kQK_K / 2];          // 4-bit quants: element 64*c + l is the low nibble of qs[32c + l],
                                  // element 64*c + 32 + l its high nibble
};

// Q5_K: as Q4_K with a 5th quant bit, q in [0, 31].
struct BlockQ5_K {
  uint16_t d;                     // f16 super-scale of the 6-bit scales
  uint16_t dmin;                  // f16 super-scale of the 6-bit mins
  uint8_t scales[kK_SCALE_SIZE];  // packed exactly as in BlockQ4_K
  uint8_t qh[kQK_K / 8];          // bit b of qh[l] is the 5th bit of element 32*b + l
  uint8_t qs[kQK_K / 2];          // low 4 bits, packed as in BlockQ4_K
};

// Q6_K: 16 groups of 16; value = d * scales[g] * (q - 32), q in [0, 63].
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits: per 128-chunk c, element 128c + l (l < 64) is the
                              // low nibble of ql[64c + l], element 128c + 64 + l the high nibble
  uint8_t qh[kQK_K / 4];      // high 2 bits: element 128c + 32s + l is bits 2s..2s+1 of qh[32c + l]
  int8_t scales[kQK_K / 16];  // signed 8-bit group scales
  uint16_t d;                 // f16 super-scale
};

// Q8_K: value[j] = d * qs[j]; only used for activations multiplied with k-quant weights.
struct BlockQ8_K {
  float d;                    // f32 scale (amax / 127, sign chosen so the extreme maps to -127)
  int8_t qs[kQK_K];           // element j
  int16_t bsums[kQK_K / 16];  // sum of qs over each group of 16: lets mins be applied per group
};

// The 6-bit scale and min of group `group` (0..7) of a Q4_K/Q5_K scale table.
inline void unpack_k4_scale_min(int group, const uint8_t* scales, uint8_t* scale, uint8_t* min) {
  if (group < 4) {
    *scale = scales[group] & 63;
    *min = scales[group + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[group + 4] & 0xF) | ((scales[group - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[group + 4] >> 4) | ((scales[group] >> 6) << 4));
  }
}

// The signed scale (6-bit value minus its bias of 32) of group `group` (0..15) of a Q3_K block.
inline int unpack_q3_K_scale(int group, const uint8_t* scales) {
  const int low = group < 8 ? scales[group] & 0xF : scales[group - 8] >> 4;
  const int high = (scales[8 + group % 4] >> (2 * (group / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// ---- Packing of already chosen quants and scales, shared by every quantizer of these formats ----

// Packs 256 2-bit values (Q2_K quants, Q3_K low bits): element 128c + 32s + l goes to bits
// 2s..2s+1 of out[32c + l].
inline void pack_2bit_quants(const uint8_t* values, uint8_t* out) {
  for (int chunk = 0; chunk < kQK_K; chunk += 128) {
    for (int l = 0; l < 32; ++l) {
      out[chunk / 4 + l] =
          static_cast<uint8_t>(values[chunk + l] | (values[chunk + l + 32] << 2) |
                               (values[chunk + l + 64] << 4) | (values[chunk + l + 96] << 6));
    }
  }
}

// Stores the 6-bit scale and min of Q4_K/Q5_K group `group`. Call for groups 0..7 in order on a
// table whose groups 0..3 were not yet written (groups 4..7 OR their top bits into them).
inline void pack_k4_scale_min(int group, uint8_t scale, uint8_t min, uint8_t* scales) {
  if (group < 4) {
    scales[group] = scale;
    scales[group + 4] = min;
  } else {
    scales[group + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    scales[group - 4] |= static_cast<uint8_t>((scale >> 4) << 6);
    scales[group] |= static_cast<uint8_t>((min >> 4) << 6);
  }
}

// Stores Q3_K group `group`'s 6-bit scale, already biased by 32 (0..63), into a zeroed table.
inline void pack_q3_K_scale(int group, int8_t biased_scale, uint8_t* scales) {
  if (group < 8) {
    scales[group] = static_cast<uint8_t>(biased_scale & 0xF);
  } else {
    scales[group - 8] = static_cast<uint8_t>(scales[group - 8] | ((biased_scale & 0xF) << 4));
  }
  biased_scale = static_cast<int8_t>(biased_scale >> 4);
  scales[group % 4 + 8] = static_cast<uint8_t>(scales[group % 4 + 8] | (biased_scale << (2 * (group / 4))));
}

// Q3_K quants (biased, 0..7): high bit into hmask, low 2 bits into qs.
inline void pack_q3_K_quants(const int8_t* quants, BlockQ3_K* y) {
  uint8_t low_bits[kQK_K];
  for (int j = 0; j < kQK_K / 8; ++j) y->hmask[j] = 0;
  for (int j = 0; j < kQK_K; ++j) {
    if (quants[j] > 3) y->hmask[j % 32] = static_cast<uint8_t>(y->hmask[j % 32] | (1 << (j / 32)));
    low_bits[j] = static_cast<uint8_t>(quants[j] & 3);
  }
  pack_2bit_quants(low_bits, y->qs);
}

// Q4_K quants (0..15): elements 64c + l and 64c + 32 + l share qs[32c + l].
inline void pack_q4_K_quants(const uint8_t* quants, BlockQ4_K* y) {
  for (int chunk = 0; chunk < kQK_K / 64; ++chunk) {
    for (int l = 0; l < 32; ++l) {
      y->qs[32 * chunk + l] = static_cast<uint8_t>(quants[64 * chunk + l] | (quants[64 * chunk + l + 32] << 4));
    }
  }
}

// Q5_K quants (0..31): low 4 bits as Q4_K; the 5th bits of elements 64c + l and 64c + 32 + l are
// bits 2c and 2c + 1 of qh[l].
inline void pack_q5_K_quants(const uint8_t* quants, BlockQ5_K* y) {
  for (int l = 0; l < kQK_K / 8; ++l) y->qh[l] = 0;
  for (int chunk = 0; chunk < kQK_K / 64; ++chunk) {
    for (int l = 0; l < 32; ++l) {
      const int low_half = quants[64 * chunk + l];
      const int high_half = quants[64 * chunk + l + 32];
      y->qh[l] = static_cast<uint8_t>(y->qh[l] | ((low_half >> 4) << (2 * chunk)) |
                                      ((high_half >> 4) << (2 * chunk + 1)));
      y->qs[32 * chunk + l] = static_cast<uint8_t>((low_half & 0xF) | ((high_half & 0xF) << 4));
    }
  }
}

// Q6_K quants (biased, 0..63). Low nibbles: elements 128c + l and 128c + 64 + l share ql[64c + l]
// (l < 64). High 2 bits: element 128c + 32s + l goes to bits 2s..2s+1 of qh[32c + l].
inline void pack_q6_K_quants(const int8_t* quants, BlockQ6_K* y) {
  for (int chunk = 0; chunk < kQK_K / 128; ++chunk) {
    const int8_t* q = quants + 128 * chunk;
    for (int l = 0; l < 64; ++l) {
      y->ql[64 * chunk + l] = static_cast<uint8_t>((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
    }
    for (int l = 0; l < 32; ++l) {
      y->qh[32 * chunk + l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) |
                                                   ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
    }
  }
}

// The GGUF block sizes (dtype.cpp's table; tests also compare them with traits().block_bytes,
// which is not constexpr). No packing pragma is needed: every field is naturally aligned.
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace tessera
