// xxhash64 against reference vectors; BlockHash chaining: parent, tokens and extra key all matter.
#include "kv/block_hash.h"

#include <gtest/gtest.h>

#include <string_view>

namespace tessera {
namespace {

uint64_t xxhash64_of(std::string_view text, uint64_t seed = 0) {
  return xxhash64(std::as_bytes(std::span<const char>(text.data(), text.size())), seed);
}

TEST(Xxhash64, MatchesReferenceVectors) {
  EXPECT_EQ(xxhash64_of(""), 0xef46db3751d8e999ull);
  EXPECT_EQ(xxhash64_of("a"), 0xd24ec4f1a98c6e5bull);
  EXPECT_EQ(xxhash64_of("abc"), 0x44bc2cf5ad770999ull);
  EXPECT_EQ(xxhash64_of("foo"), 0x33bf00a859c4ba3full);
  EXPECT_EQ(xxhash64_of("abcdefghijklmnopqrstuvwxyz12345"), 0x467605901b01d6f6ull);  // 31 bytes: no stripes
  EXPECT_EQ(xxhash64_of("", 668718853), 0x04e830582a31a119ull);
}

TEST(Xxhash64, MatchesReferenceVectorsLongerThanOneStripe) {
  constexpr uint64_t kSeed = 0x4d617474446c6c6eull;
  EXPECT_EQ(xxhash64_of("hammer2", kSeed), 0xa041be268b5674e5ull);
  EXPECT_EQ(xxhash64_of("This code is derived from software contributed to The DragonFly Project", kSeed),
            0x103c241eeddc8d32ull);
}

TEST(BlockHash, EqualPrefixesGiveEqualKeys) {
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  const BlockHash a = hash_block_tokens(nullptr, tokens, 0);
  const BlockHash b = hash_block_tokens(nullptr, tokens, 0);
  EXPECT_EQ(a, b);
  EXPECT_EQ(hash_block_tokens(&a, tokens, 0), hash_block_tokens(&b, tokens, 0));
  EXPECT_EQ(a.token_ids, tokens);
}

TEST(BlockHash, SameTokensAfterDifferentParentsDiffer) {
  const BlockHash parent_1 = hash_block_tokens(nullptr, std::vector<int32_t>{1, 2}, 0);
  const BlockHash parent_2 = hash_block_tokens(nullptr, std::vector<int32_t>{1, 3}, 0);
  const std::vector<int32_t> tokens = {5, 6};
  const BlockHash child_1 = hash_block_tokens(&parent_1, tokens, 0);
  const BlockHash child_2 = hash_block_tokens(&parent_2, tokens, 0);
  EXPECT_NE(child_1, child_2);
  EXPECT_NE(child_1.hash_value, child_2.hash_value);
  EXPECT_NE(child_1.check_value, child_2.check_value);
  EXPECT_NE(child_1, hash_block_tokens(nullptr, tokens, 0));  // a first block is not a child
}

TEST(BlockHash, ExtraKeySeparatesEqualTokens) {
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  EXPECT_NE(hash_block_tokens(nullptr, tokens, 0), hash_block_tokens(nullptr, tokens, 42));
}

TEST(BlockHash, KeysWithCollidingValuesButOtherTokensAreNotEqual) {
  BlockHash a = hash_block_tokens(nullptr, std::vector<int32_t>{1, 2}, 0);
  BlockHash b = a;
  b.token_ids = {2, 1};  // as if the hash had collided
  EXPECT_NE(a, b);
}

TEST(BlockHash, ExtendHashesOnlyFullBlocksAndOnlyOnce) {
  std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7};
  std::vector<BlockHash> hashes;
  extend_block_hashes(hashes, tokens, 3, 0);
  ASSERT_EQ(hashes.size(), 2u);  // [1,2,3] [4,5,6]; 7 is in a partial block
  const BlockHash first = hashes[0];
  tokens.insert(tokens.end(), {8, 9});
  extend_block_hashes(hashes, tokens, 3, 0);
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes[0], first);
  EXPECT_EQ(hashes[2], hash_block_tokens(&hashes[1], std::vector<int32_t>{7, 8, 9}, 0));
}

}  // namespace
}  // namespace tessera
