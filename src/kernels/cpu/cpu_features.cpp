#include "kernels/cpu/cpu_features.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <cstdint>
#include <string>

#include "base/check.h"

namespace tessera::kernels {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & bit_OSXSAVE;
  f.fma = ecx & bit_FMA;
  f.f16c = ecx & bit_F16C;
  uint64_t xcr0 = 0;
  if (osxsave) {
    uint32_t lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool ymm_enabled = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_enabled = (xcr0 & 0xE6) == 0xE6;  // + opmask + ZMM state
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2 = ymm_enabled && (ebx & bit_AVX2);
  f.avx512f = zmm_enabled && (ebx & bit_AVX512F);
  f.avx512bw = zmm_enabled && (ebx & bit_AVX512BW);
  f.avx512vl = zmm_enabled && (ebx & bit_AVX512VL);
  f.avx512dq = zmm_enabled && (ebx & bit_AVX512DQ);
  f.avx512vnni = zmm_enabled && (ecx & bit_AVX512VNNI);
  unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
  if (__get_cpuid_count(7, 1, &eax1, &ebx1, &ecx1, &edx1)) f.avx512bf16 = zmm_enabled && (eax1 & (1u << 5));
  return f;
}

std::optional<Isa> initial_override() {
  const char* env = std::getenv("TESSERA_ISA");
  if (env == nullptr) return std::nullopt;
  auto isa = isa_from_name(env);
  return isa && isa_supported(*isa) ? isa : std::nullopt;
}

std::atomic<int> g_override{-2};  // -2: not read from the environment yet; -1: none

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return f.avx2 && f.fma && f.f16c;
    case Isa::kAvx512:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  }
  return false;
}

Isa best_supported_isa() {
  if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_name(isa) == name) return isa;
  }
  return std::nullopt;
}

Isa active_isa() {
  int value = g_override.load(std::memory_order_relaxed);
  if (value == -2) {
    auto isa = initial_override();
    value = isa ? static_cast<int>(*isa) : -1;
    g_override.store(value, std::memory_order_relaxed);
  }
  return value >= 0 ? static_cast<Isa>(value) : best_supported_isa();
}

void set_isa_override(std::optional<Isa> isa) {
  TS_CHECK(!isa || isa_supported(*isa), "ISA %s is not supported by this CPU", isa ? std::string(isa_name(*isa)).c_str() : "");
  g_override.store(isa ? static_cast<int>(*isa) : -1, std::memory_order_relaxed);
}

}  // namespace tessera::kernels
