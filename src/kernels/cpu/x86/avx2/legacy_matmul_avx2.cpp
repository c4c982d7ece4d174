// Legacy-quant matmul kernels for AVX2 (Q8_0, Q4_0, Q5_0 weights x Q8_0
// activations; Q4_1, Q5_1 x Q8_1) and the SIMD
// Q8_0/Q8_1 activation quantizer. The kernels live in x86/legacy_matmul_x86.h (shared with the
// AVX-512 file); this file instantiates them for AVX2's 16 ymm registers.
#include "kernels/cpu/x86/legacy_matmul_x86.h"

namespace tessera::kernels {

void register_avx2_legacy_matmul(KernelTable& table) {
  // 4 rows x 2 tokens keeps 8 accumulators + activations + temporaries within 16 registers.
  constexpr int kMaxTokens = 2;
  table.matmul_rows[static_cast<int>(DType::kQ8_0)] = legacy_matmul_rows<BlockQ8_0, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ4_0)] = legacy_matmul_rows<BlockQ4_0, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ5_0)] = legacy_matmul_rows<BlockQ5_0, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ4_1)] = legacy_matmul_rows<BlockQ4_1, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ5_1)] = legacy_matmul_rows<BlockQ5_1, kMaxTokens>;
  table.quantize_activation = quantize_activation_simd;
  table.summarize_activation = summarize_activation_simd;
}

}  // namespace tessera::kernels
