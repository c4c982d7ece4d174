// Monotonic wall-clock reading in microseconds, for latencies, timeouts and spin budgets.
// Never for dates: it has no epoch anyone can rely on.
#pragma once

#include <chrono>
#include <cstdint>

namespace tessera {

// Microseconds since an arbitrary fixed point; never goes backwards (steady_clock).
inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace tessera
