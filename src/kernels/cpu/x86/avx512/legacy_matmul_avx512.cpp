// Legacy-quant matmul kernels for AVX-512: the shared kernels of x86/legacy_matmul_x86.h, here
// compiled with AVX512_VNNI so each block's int8 dot is a single vpdpbusd, and with a 4 x 4
// row x token tile that the 32 vector registers can hold.
// NOTE: the AVX-512 ISA level does not require VNNI (cpu_features.cpp), so without it we keep
// the AVX2 entries the table already holds.
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/x86/legacy_matmul_x86.h"

namespace tessera::kernels {

void register_avx512_legacy_matmul(KernelTable& table) {
  if (!cpu_features().avx512vnni) return;
  constexpr int kMaxTokens = 4;
  table.matmul_rows[static_cast<int>(DType::kQ8_0)] = legacy_matmul_rows<BlockQ8_0, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ4_0)] = legacy_matmul_rows<BlockQ4_0, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ5_0)] = legacy_matmul_rows<BlockQ5_0, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ4_1)] = legacy_matmul_rows<BlockQ4_1, kMaxTokens>;
  table.matmul_rows[static_cast<int>(DType::kQ5_1)] = legacy_matmul_rows<BlockQ5_1, kMaxTokens>;
  table.quantize_activation = quantize_activation_simd;
  table.summarize_activation = summarize_activation_simd;
}

}  // namespace tessera::kernels
