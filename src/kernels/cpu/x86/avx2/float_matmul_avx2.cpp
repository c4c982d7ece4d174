// Float matmul kernels for AVX2: F32, F16 (F16C conversion) and BF16 (shift conversion) weights,
// 8 f32 lanes, 4 rows x 2 tokens per tile. The kernels are in x86/float_matmul_x86.h.
#include "kernels/cpu/x86/float_matmul_x86.h"

namespace tessera::kernels {

void register_avx2_float_matmul(KernelTable& table) { register_float_kernels(table); }

}  // namespace tessera::kernels
