#include "kernels/cpu/kernel_table.h"

namespace tessera::kernels {
namespace {

KernelTable build(Isa isa) {
  KernelTable table;
  // NOTE: AVX-512 builds on the AVX2 table, so an op it does not (yet) specialise still runs
  // vectorised rather than falling back to scalar.
  if (isa == Isa::kAvx2 || isa == Isa::kAvx512) {
    register_avx2_float_matmul(table);
    register_avx2_legacy_matmul(table);
    register_avx2_kquant_matmul(table);
    register_avx2_repacked_matmul(table);
    register_avx2_elementwise(table);
  }
  if (isa == Isa::kAvx512) {
    register_avx512_float_matmul(table);
    register_avx512_legacy_matmul(table);
    register_avx512_kquant_matmul(table);
    register_avx512_repacked_matmul(table);
    register_avx512_q6k_repacked_matmul(table);
    register_avx512_elementwise(table);
  }
  return table;
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
  static const KernelTable tables[3] = {build(Isa::kScalar), build(Isa::kAvx2), build(Isa::kAvx512)};
  return tables[static_cast<int>(isa)];
}

}  // namespace tessera::kernels
