// BlockHash: the identity of one full KV block for prefix caching, chained over every token before it.
// Owns hashing only; knows nothing about which physical block holds the KV or who uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tessera {

// XXH64 (Yann Collet's xxHash, 64-bit variant) over `data`; written here, checked against the
// reference vectors in tests/kv/block_hash_test.cpp.
uint64_t xxhash64(std::span<const std::byte> data, uint64_t seed);

// A full block's key. Two blocks hold interchangeable KV exactly when their keys are equal.
// NOTE: the chain is 128 bits (two XXH64 lanes with different seeds over the same bytes) and the
// block's own token ids are stored and compared, so a wrong prefix-cache hit needs both lanes of
// the parent chain to collide (~n^2 / 2^128 for n cached blocks). XXH64 is not cryptographic: an
// adversary who knows the seeds could craft collisions, which is why vLLM moved to sha256
// (CVE-2025-25183). If tenants that distrust each other share a server, pass secret seeds via
// `BlockHashSeeds` or key blocks by tenant through `extra_key`.
struct BlockHash {
  uint64_t hash_value = 0;          // lane 1 of the chain: XXH64(seed_1; parent lanes, extra_key, token_ids)
  uint64_t check_value = 0;         // lane 2 of the chain: same bytes, seed_2
  uint64_t extra_key = 0;           // anything besides tokens that changes the KV (adapter id, image id); 0 = none
  std::vector<int32_t> token_ids;   // [block_size] this block's tokens, compared on lookup

  friend bool operator==(const BlockHash&, const BlockHash&) = default;
};

struct BlockHashHasher {
  size_t operator()(const BlockHash& block_hash) const { return static_cast<size_t>(block_hash.hash_value); }
};

struct BlockHashSeeds {
  uint64_t seed_1 = 0x7465737365726131ull;  // "tessera1"
  uint64_t seed_2 = 0x7465737365726132ull;  // "tessera2"
};

// The key of the block holding `token_ids` whose previous block has key `parent` (nullptr for the
// first block of a sequence).
BlockHash hash_block_tokens(const BlockHash* parent, std::span<const int32_t> token_ids, uint64_t extra_key,
                            const BlockHashSeeds& seeds = {});

// Appends to `block_hashes` the keys of the full blocks of `token_ids` that it does not hold yet,
// so a growing sequence hashes each block once.
void extend_block_hashes(std::vector<BlockHash>& block_hashes, std::span<const int32_t> token_ids, int32_t block_size,
                         uint64_t extra_key, const BlockHashSeeds& seeds = {});

}  // namespace tessera
