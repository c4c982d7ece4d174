// KernelTable: the per-ISA function pointers behind the op surface (kernels.h). A null entry
// means "use the scalar reference". Each ISA folder fills what it implements; kernels.cpp picks
// the table of active_isa(). Every entry must match kernels/ref/ (tests force each ISA).
#pragma once

#include <cstddef>
#include <cstdint>

#include <span>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/repack.h"
#include "kernels/kernels.h"
#include "tensor/tensor_view.h"

namespace tessera::kernels {

// out[t, r] (row stride weight.num_rows) for t < num_tokens, r in [row_begin, row_end), from
// activations already converted to vec_dot_type(weight.type), rows of x_row_bytes.
// Same contract as ref::matmul_rows.
using MatmulRowsFn = void (*)(const MatrixView& weight, const uint8_t* x_converted, size_t x_row_bytes,
                              int64_t num_tokens, int64_t row_begin, int64_t row_end, float* out);
// Converts one activation row like quantize_activation_row (tensor/quant.h), bit for bit.
using QuantizeActivationFn = void (*)(DType act_type, const float* src, void* dst, int64_t n);
// Block summaries of one Q8_0 activation row, exactly as summarize_activation_row (repack.h).
using SummarizeActivationFn = void (*)(const uint8_t* row, int64_t num_blocks, RepackedActivationBlock* blocks);

// The f32 ops of kernels.h with the same arguments (attention: ref::attention_heads').
using RmsNormFn = void (*)(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out);
using SiluMulFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
using SoftmaxFn = void (*)(float* x, int64_t n);
using ToF16Fn = void (*)(const float* x, int64_t n, uint16_t* out);
using AttentionHeadsFn = void (*)(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                                  int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                  const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                  float* out);

inline constexpr int kNumDTypeIds = 40;  // covers every GGUF type id we know (BF16 = 30)

struct KernelTable {
  MatmulRowsFn matmul_rows[kNumDTypeIds] = {};     // by weight DType id
  QuantizeActivationFn quantize_activation = nullptr;
  SummarizeActivationFn summarize_activation = nullptr;
  // by weight DType id, for weights repacked by kernels/cpu/repack.h (row ranges whole tiles);
  // a null entry falls back to repacked_matmul_rows_portable.
  RepackedMatmulRowsFn matmul_rows_repacked[kNumDTypeIds] = {};
  RmsNormFn rms_norm = nullptr;
  SiluMulFn silu_mul = nullptr;
  SoftmaxFn softmax = nullptr;
  ToF16Fn to_f16 = nullptr;
  AttentionHeadsFn attention_heads = nullptr;
};

// The table for `isa` (built once; entries an ISA lacks stay null).
const KernelTable& kernel_table(Isa isa);

// Filled by the ISA folders (x86/avx2, x86/avx512). One call per op family file.
void register_avx2_float_matmul(KernelTable& table);    // F32, F16, BF16 weights
void register_avx2_legacy_matmul(KernelTable& table);   // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights
void register_avx2_kquant_matmul(KernelTable& table);   // Q2_K..Q6_K weights
void register_avx2_repacked_matmul(KernelTable& table);  // repacked Q4_0, Q8_0, Q4_K, Q5_K weights
void register_avx2_elementwise(KernelTable& table);     // rms_norm, silu_mul, softmax, attention, to_f16
void register_avx512_float_matmul(KernelTable& table);
void register_avx512_legacy_matmul(KernelTable& table);
void register_avx512_kquant_matmul(KernelTable& table);
void register_avx512_repacked_matmul(KernelTable& table);  // repacked Q4_0, Q5_0, Q8_0, Q4_K, Q5_K weights (VNNI)
void register_avx512_q6k_repacked_matmul(KernelTable& table);  // repacked Q6_K weights (VNNI)
void register_avx512_elementwise(KernelTable& table);       // rms_norm, silu_mul, softmax, attention

}  // namespace tessera::kernels
