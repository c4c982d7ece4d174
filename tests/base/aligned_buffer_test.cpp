// AlignedBuffer and now_us: alignment, zero fill, ownership transfer; a clock that only advances.
#include "base/aligned_buffer.h"
#include "base/timer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <utility>

namespace tessera {
namespace {

TEST(AlignedBuffer, Is64ByteAlignedAndZeroFilled) {
  for (size_t num_elements : {1u, 3u, 16u, 17u, 1000u}) {
    AlignedFloats floats(num_elements);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(floats.data()) % 64, 0u);
    EXPECT_EQ(floats.size(), num_elements);
    EXPECT_EQ(floats.size_bytes(), num_elements * sizeof(float));
    for (float x : floats) EXPECT_EQ(x, 0.0f);
    AlignedBytes bytes(num_elements);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % 64, 0u);
    for (uint8_t b : bytes.span()) EXPECT_EQ(b, 0);
  }
}

TEST(AlignedBuffer, EmptyHoldsNothing) {
  AlignedFloats empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.data(), nullptr);
  AlignedFloats zero(0);
  EXPECT_TRUE(zero.empty());
  EXPECT_EQ(zero.begin(), zero.end());
}

TEST(AlignedBuffer, MoveTransfersOwnership) {
  AlignedFloats a(8);
  a[3] = 1.5f;
  const float* storage = a.data();
  AlignedFloats b = std::move(a);
  EXPECT_EQ(b.data(), storage);
  EXPECT_EQ(b[3], 1.5f);
  EXPECT_TRUE(a.empty());  // NOLINT: checking the moved-from state on purpose
  AlignedFloats c(2);
  c = std::move(b);
  EXPECT_EQ(c.data(), storage);
  EXPECT_EQ(c.size(), 8u);
}

TEST(Timer, NowUsIsMonotonicAndAdvances) {
  const int64_t start_us = now_us();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const int64_t end_us = now_us();
  EXPECT_GE(end_us - start_us, 2000);
  EXPECT_LT(end_us - start_us, 2'000'000);
}

}  // namespace
}  // namespace tessera
