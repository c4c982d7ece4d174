// KvStorage with a quantized cache (q8_0 / q4_0, K and V alike or mixed): block bytes, the head
// size and type-mix checks, and rows written where PagedKvLayer's quantized layout says, as the
// reference quantizer encodes them.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "model/kv_storage.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

TEST(KvStorageQuantized, BlocksHoldMoreTokensForTheSameBytes) {
  // TinyLlama's shape: 22 layers, 4 kv heads of 64.
  const size_t f16 = KvStorage::bytes_per_block(22, 16, 4, 64, DType::kF16);
  const size_t q8 = KvStorage::bytes_per_block(22, 16, 4, 64, DType::kQ8_0);
  const size_t q4 = KvStorage::bytes_per_block(22, 16, 4, 64, DType::kQ4_0);
  EXPECT_EQ(f16, 2u * 22 * 16 * 4 * 64 * 2);
  EXPECT_EQ(q8, 2u * 22 * 16 * 4 * 2 * 34);  // two 34-byte blocks per head row
  EXPECT_EQ(q4, 2u * 22 * 16 * 4 * 2 * 18);
  EXPECT_NEAR(static_cast<double>(f16) / q8, 1.88, 0.01);
  EXPECT_NEAR(static_cast<double>(f16) / q4, 3.56, 0.01);
}

// K and V of different types (both quantized): each half's rows in its own layout and size.
TEST(KvStorageQuantized, KAndVMayDifferWhenBothAreQuantized) {
  const KvTypes k8v4{DType::kQ8_0, DType::kQ4_0};
  EXPECT_EQ(KvStorage::bytes_per_block(22, 16, 4, 64, k8v4), 22u * 16 * 4 * 2 * (34 + 18));
  EXPECT_TRUE(check_kv_cache_type(k8v4, 64).ok());
  EXPECT_TRUE(check_kv_cache_type(KvTypes{DType::kQ4_0, DType::kQ8_0}, 64).ok());
  const Status mixed = check_kv_cache_type(KvTypes{DType::kF16, DType::kQ4_0}, 64);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.message().find("K f16 and V q4_0"), std::string::npos) << mixed.message();
  EXPECT_FALSE(check_kv_cache_type(k8v4, 48).ok());
  EXPECT_DEATH(KvStorage(2, 4, 16, 2, 64, KvTypes{DType::kF32, DType::kF16}), "both are q8_0 or q4_0");

  const int32_t heads = 2, head_dim = 64;
  KvStorage kv(2, 3, 5, heads, head_dim, k8v4);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist;
  std::vector<float> k(static_cast<size_t>(heads * head_dim)), v(k.size());
  for (int64_t slot : {3, 11, 0}) {
    for (float& x : k) x = dist(rng);
    for (float& x : v) x = dist(rng);
    kv.write(0, slot, k.data(), v.data());
    const kernels::PagedKvLayer view = kv.layer_view(0);
    ASSERT_EQ(view.type, DType::kQ8_0);
    ASSERT_EQ(kernels::value_type(view), DType::kQ4_0);
    for (int32_t h = 0; h < heads; ++h) {
      std::vector<uint8_t> want(kernels::kv_row_bytes(DType::kQ8_0, head_dim)), got(want.size());
      quantize_activation_row(DType::kQ8_0, k.data() + h * head_dim, want.data(), head_dim);
      kernels::read_quantized_k_row(view, slot, h, got.data());
      EXPECT_EQ(got, want) << slot << " " << h;
      std::vector<uint8_t> want_v(kernels::kv_row_bytes(DType::kQ4_0, head_dim));
      quantize_activation_row(DType::kQ4_0, v.data() + h * head_dim, want_v.data(), head_dim);
      EXPECT_EQ(std::memcmp(static_cast<const uint8_t*>(view.v) + kernels::quantized_v_offset(view, slot, h),
                            want_v.data(), want_v.size()), 0) << slot << " " << h;
    }
  }
}

TEST(KvStorageQuantized, RejectsHeadSizeNotAMultipleOf32) {
  EXPECT_DEATH(KvStorage(2, 4, 16, 2, 16, DType::kQ8_0), "multiple of 32, not 16");
  EXPECT_DEATH(KvStorage::bytes_per_block(2, 16, 2, 48, DType::kQ4_0), "multiple of 32, not 48");
  EXPECT_DEATH(KvStorage(2, 4, 16, 2, 64, DType::kQ4_1), "f32, f16, q8_0 or q4_0");
}

TEST(KvStorageQuantized, WritesRowsWhereTheLayerViewReadsThem) {
  const int32_t layers = 2, blocks = 3, block_size = 5, heads = 2, head_dim = 64;
  for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
    KvStorage kv(layers, blocks, block_size, heads, head_dim, type);
    std::mt19937 rng(1);
    std::normal_distribution<float> dist;
    std::vector<float> k(static_cast<size_t>(heads * head_dim)), v(k.size());
    ThreadPool pool(1);
    const int64_t slots[] = {7, 0, 14};
    for (int64_t slot : slots) {
      for (float& x : k) x = dist(rng);
      for (float& x : v) x = dist(rng);
      kv.write(1, slot, k.data(), v.data());
      const kernels::PagedKvLayer view = kv.layer_view(1);
      const size_t row = kernels::kv_row_bytes(type, head_dim);
      std::vector<uint8_t> want(row);
      std::vector<uint8_t> got(row);
      for (int32_t h = 0; h < heads; ++h) {
        quantize_activation_row(type, k.data() + h * head_dim, want.data(), head_dim);
        kernels::read_quantized_k_row(view, slot, h, got.data());
        EXPECT_EQ(got, want) << slot << " " << h;
        quantize_activation_row(type, v.data() + h * head_dim, want.data(), head_dim);
        const int64_t at = kernels::quantized_v_offset(view, slot, h);
        EXPECT_EQ(std::memcmp(static_cast<const uint8_t*>(view.v) + at, want.data(), row), 0) << slot << " " << h;
      }
    }
  }
}

// The K layout (PagedKvLayer): every slot's row goes somewhere of its own in its (block, head)
// region, read back whole; block b's scales are the region's block_size f16 values at b's start.
TEST(KvStorageQuantized, KRowsRoundTripThroughTheDimensionMajorLayout) {
  const int32_t blocks = 3, block_size = 7, heads = 2, head_dim = 96;
  for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
    const size_t row = kernels::kv_row_bytes(type, head_dim);
    std::vector<uint8_t> memory(row * blocks * block_size * heads, 0xAA);
    const kernels::PagedKvLayer view{memory.data(), nullptr, block_size, heads, head_dim, type};
    auto row_of = [&](int64_t slot, int32_t h) {
      std::vector<uint8_t> bytes(row);
      for (size_t i = 0; i < row; ++i) bytes[i] = static_cast<uint8_t>((slot * 131 + h * 17 + i * 7) & 0xff);
      return bytes;
    };
    for (int64_t slot = 0; slot < blocks * block_size; ++slot) {
      for (int32_t h = 0; h < heads; ++h) kernels::write_quantized_k_row(view, memory.data(), slot, h, row_of(slot, h).data());
    }
    std::vector<uint8_t> got(row);
    for (int64_t slot = 0; slot < blocks * block_size; ++slot) {
      for (int32_t h = 0; h < heads; ++h) {
        kernels::read_quantized_k_row(view, slot, h, got.data());
        EXPECT_EQ(got, row_of(slot, h)) << dtype_name(type) << " slot " << slot << " head " << h;
        const size_t block_bytes = row / (head_dim / 32);
        for (int64_t b = 0; b < head_dim / 32; ++b) {
          const size_t scale_at = static_cast<size_t>(kernels::quantized_k_region_offset(view, slot / block_size, h)) +
                                  b * block_size * block_bytes + 2 * (slot % block_size);
          EXPECT_EQ(std::memcmp(memory.data() + scale_at, got.data() + b * block_bytes, 2), 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace tessera
