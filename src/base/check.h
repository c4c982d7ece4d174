// TS_CHECK: stops the process loudly when an internal invariant is broken.
// Never use it for bad input from users or files; those are Status values (status.h).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace tessera::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* condition, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
[[noreturn]] void check_failed(const char* file, int line, const char* condition);
}  // namespace tessera::detail

#define TS_CHECK(cond, ...)                                                         \
  do {                                                                              \
    if (__builtin_expect(!(cond), 0)) {                                             \
      ::tessera::detail::check_failed(__FILE__, __LINE__, #cond __VA_OPT__(, ) __VA_ARGS__); \
    }                                                                               \
  } while (0)
