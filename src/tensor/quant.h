// Reference (scalar, obviously-correct) conversions between f32 and every DType's blocks,
// and the reference dot product of a weight row with an activation row.
// This is the test oracle for every SIMD kernel; it is never optimised.
// Numerics follow ggml's reference C code so results match llama.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace tessera {

// f16 / bf16 scalar conversions (round-to-nearest-even; bf16 keeps NaN a NaN).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

// dst[0..n) = the values encoded by `src` (n must be a multiple of the block size).
// Supported: every DType in dtype.h.
void dequantize_row_ref(DType type, const void* src, float* dst, int64_t n);

// Encodes src[0..n) into `dst` (row_bytes(type, n) bytes) with ggml's reference quantizer
// (quantize_row_*_ref): plain round-to-nearest, no importance weights.
// Supported: every DType in dtype.h.
void quantize_row_ref(DType type, const float* src, void* dst, int64_t n);

// The type an activation row is converted to before a dot product with a `weight_type` row,
// exactly as ggml's CPU backend does (its vec_dot_type):
//   F32->F32, F16->F16, BF16->BF16, Q4_0/Q5_0/Q8_0->Q8_0, Q4_1/Q5_1->Q8_1, Q2_K..Q6_K->Q8_K.
DType vec_dot_type(DType weight_type);

// sum_i w[i] * a[i] over n elements, where `weight_row` is in `weight_type` and `act_row` is in
// vec_dot_type(weight_type). Accumulation follows ggml's scalar reference (per-block integer
// dot products scaled by the block scales).
float vec_dot_ref(DType weight_type, int64_t n, const void* weight_row, const void* act_row);

}  // namespace tessera

namespace tessera {

// Converts one activation row to `act_type` (a vec_dot_type) the way llama.cpp's CPU backend
// converts matmul inputs (its from_float), which differs from quantize_row_ref for Q8_0/Q8_1:
// the scale inverse is 127/amax and values round half to EVEN (SIMD rounding), where the
// weight quantizer uses 1/(amax/127) and rounds half away from zero. Bit-matching this keeps
// quantized models on llama.cpp's exact path. Other types use quantize_row_ref.
void quantize_activation_row(DType act_type, const float* src, void* dst, int64_t n);

}  // namespace tessera
