// Float matmul kernels for AVX-512: the kernels of x86/float_matmul_x86.h on 16-lane zmm vectors
// with 4 rows x 4 tokens per tile.
// NOTE: GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_*(), a deliberate
// self-initialisation that its own -Wuninitialized then reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define TESSERA_FLOAT_ZMM 1
#include "kernels/cpu/x86/float_matmul_x86.h"

namespace tessera::kernels {

void register_avx512_float_matmul(KernelTable& table) { register_float_kernels(table); }

}  // namespace tessera::kernels
