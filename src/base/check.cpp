#include "base/check.h"

#include <cstdarg>

namespace tessera::detail {

void check_failed(const char* file, int line, const char* condition, const char* fmt, ...) {
  std::fprintf(stderr, "tessera: internal check failed at %s:%d: %s: ", file, line, condition);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

void check_failed(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "tessera: internal check failed at %s:%d: %s\n", file, line, condition);
  std::abort();
}

}  // namespace tessera::detail
