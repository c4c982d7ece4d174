// What this CPU can run (cpuid), and which instruction set the kernels use. Tests force each
// ISA with set_isa_override() so every code path is checked against the reference.
#pragma once

#include <optional>
#include <string_view>

namespace tessera::kernels {

enum class Isa {
  kScalar = 0,  // kernels/ref: portable C++, the oracle
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F/BW/VL/DQ (+ VNNI, BF16 where present)
};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
Isa best_supported_isa();
bool isa_supported(Isa isa);
std::string_view isa_name(Isa isa);
std::optional<Isa> isa_from_name(std::string_view name);  // "scalar", "avx2", "avx512"

// The ISA kernels dispatch to: the override if set (TS_CHECKed to be supported), else the best.
// The environment variable TESSERA_ISA=scalar|avx2|avx512 sets the initial override.
Isa active_isa();
void set_isa_override(std::optional<Isa> isa);

}  // namespace tessera::kernels
