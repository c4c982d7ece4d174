// kquant matmul kernels for avx512. Not specialised yet: the table keeps the fallback.
#include "kernels/cpu/kernel_table.h"

namespace tessera::kernels {

void register_avx512_kquant_matmul(KernelTable& table) { (void)table; }

}  // namespace tessera::kernels
