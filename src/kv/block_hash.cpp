#include "kv/block_hash.h"

#include <bit>
#include <cstring>

#include "base/check.h"

namespace tessera {
namespace {

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ull;
constexpr uint64_t kPrime4 = 0x85EBCA77C2B2AE63ull;
constexpr uint64_t kPrime5 = 0x27D4EB2F165667C5ull;

// Little-endian loads: the hash must not depend on the host's byte order.
uint64_t load_u64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}
uint64_t load_u32(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

uint64_t xxh_round(uint64_t acc, uint64_t input) {
  acc += input * kPrime2;
  acc = std::rotl(acc, 31);
  return acc * kPrime1;
}

uint64_t merge_round(uint64_t acc, uint64_t lane) {
  acc ^= xxh_round(0, lane);
  return acc * kPrime1 + kPrime4;
}

// Folds the 32-byte stripes of [p, end) into four lanes; returns the converged accumulator.
uint64_t consume_stripes(const std::byte*& p, const std::byte* end, uint64_t seed) {
  uint64_t v1 = seed + kPrime1 + kPrime2;
  uint64_t v2 = seed + kPrime2;
  uint64_t v3 = seed;
  uint64_t v4 = seed - kPrime1;
  while (end - p >= 32) {
    v1 = xxh_round(v1, load_u64(p));
    v2 = xxh_round(v2, load_u64(p + 8));
    v3 = xxh_round(v3, load_u64(p + 16));
    v4 = xxh_round(v4, load_u64(p + 24));
    p += 32;
  }
  uint64_t acc = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
  for (uint64_t lane : {v1, v2, v3, v4}) acc = merge_round(acc, lane);
  return acc;
}

}  // namespace

uint64_t xxhash64(std::span<const std::byte> data, uint64_t seed) {
  const std::byte* p = data.data();
  const std::byte* end = p + data.size();
  uint64_t acc = data.size() >= 32 ? consume_stripes(p, end, seed) : seed + kPrime5;
  acc += static_cast<uint64_t>(data.size());
  while (end - p >= 8) {
    acc ^= xxh_round(0, load_u64(p));
    acc = std::rotl(acc, 27) * kPrime1 + kPrime4;
    p += 8;
  }
  if (end - p >= 4) {
    acc ^= load_u32(p) * kPrime1;
    acc = std::rotl(acc, 23) * kPrime2 + kPrime3;
    p += 4;
  }
  while (p < end) {
    acc ^= static_cast<uint64_t>(*p) * kPrime5;
    acc = std::rotl(acc, 11) * kPrime1;
    ++p;
  }
  acc ^= acc >> 33;
  acc *= kPrime2;
  acc ^= acc >> 29;
  acc *= kPrime3;
  acc ^= acc >> 32;
  return acc;
}

BlockHash hash_block_tokens(const BlockHash* parent, std::span<const int32_t> token_ids, uint64_t extra_key,
                            const BlockHashSeeds& seeds) {
  // Bytes hashed: parent lane 1, parent lane 2, extra_key (u64 each), then the token ids (i32 each),
  // all little-endian. A first block uses zero parent lanes.
  std::vector<std::byte> bytes(3 * sizeof(uint64_t) + token_ids.size() * sizeof(int32_t));
  std::byte* out = bytes.data();
  auto put = [&out](uint64_t value, int num_bytes) {
    for (int i = 0; i < num_bytes; ++i) *out++ = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
  };
  put(parent ? parent->hash_value : 0, 8);
  put(parent ? parent->check_value : 0, 8);
  put(extra_key, 8);
  for (int32_t token_id : token_ids) put(static_cast<uint32_t>(token_id), 4);

  BlockHash block_hash;
  block_hash.hash_value = xxhash64(bytes, seeds.seed_1);
  block_hash.check_value = xxhash64(bytes, seeds.seed_2);
  block_hash.extra_key = extra_key;
  block_hash.token_ids.assign(token_ids.begin(), token_ids.end());
  return block_hash;
}

void extend_block_hashes(std::vector<BlockHash>& block_hashes, std::span<const int32_t> token_ids, int32_t block_size,
                         uint64_t extra_key, const BlockHashSeeds& seeds) {
  TS_CHECK(block_size > 0, "block_size %d", block_size);
  const size_t num_full_blocks = token_ids.size() / static_cast<size_t>(block_size);
  while (block_hashes.size() < num_full_blocks) {
    const size_t begin = block_hashes.size() * static_cast<size_t>(block_size);
    const BlockHash* parent = block_hashes.empty() ? nullptr : &block_hashes.back();
    BlockHash next = hash_block_tokens(parent, token_ids.subspan(begin, static_cast<size_t>(block_size)), extra_key, seeds);
    block_hashes.push_back(std::move(next));
  }
}

}  // namespace tessera
