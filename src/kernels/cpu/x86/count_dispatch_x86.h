// Runtime count -> compile-time count, for kernels templated on how many tokens a pass carries
// (their accumulators then live in registers): with_count<kMax>(n, f) calls
// f(std::integral_constant<int, n>{}) for n in [1, kMax].
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
#pragma once

#include <cstdint>
#include <type_traits>

namespace tessera::kernels {
namespace {

template <int kMax, typename F>
void with_count(int64_t n, F&& f) {
  if constexpr (kMax > 0) {
    if (n == kMax) {
      f(std::integral_constant<int, kMax>{});
    } else {
      with_count<kMax - 1>(n, f);
    }
  }
}

}  // namespace
}  // namespace tessera::kernels
