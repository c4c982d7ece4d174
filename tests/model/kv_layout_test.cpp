// KvLayout: how layers form KV cache groups, and what the groups save. The Gemma-3-1B figure of
// issue 21: the KV bytes a 4,096-token request holds with and without sliding-window release.
#include <gtest/gtest.h>

#include <numeric>

#include "kv/kv_cache_manager.h"
#include "model/kv_layout.h"
#include "model/kv_storage.h"

namespace tessera {
namespace {

// Gemma-3-1B: 26 layers, every sixth global (5, 11, 17, 23), window 512, 1 KV head of 256.
ModelConfig gemma3_1b() {
  ModelConfig c;
  c.architecture = "gemma3";
  c.num_layers = 26;
  c.num_kv_heads = 1;
  c.head_dim = 256;
  c.sliding_window = 512;
  for (int32_t l = 0; l < c.num_layers; ++l) c.layer_is_local.push_back(l % 6 < 5);
  return c;
}

TEST(KvLayout, PlainModelsKeepOneGroupWithEveryLayer) {
  ModelConfig c;
  c.num_layers = 3;
  const KvLayout layout = make_kv_layout(c);
  EXPECT_EQ(layout.layers_per_block, 3);
  EXPECT_EQ(layout.group_windows, std::vector<int32_t>{0});
  EXPECT_EQ(layout.slot_of_layer, (std::vector<int32_t>{0, 1, 2}));
  // Release off: one group for gemma3 too.
  EXPECT_EQ(make_kv_layout(gemma3_1b(), /*release_window_blocks=*/false).num_groups(), 1);
}

TEST(KvLayout, GemmaLayersFormEqualGroupsGlobalFirst) {
  const KvLayout layout = make_kv_layout(gemma3_1b());
  EXPECT_EQ(layout.layers_per_block, 4);
  EXPECT_EQ(layout.group_windows, (std::vector<int32_t>{0, 512, 512, 512, 512, 512, 512}));
  for (int32_t l : {5, 11, 17, 23}) EXPECT_EQ(layout.group_of_layer[static_cast<size_t>(l)], 0) << l;
  EXPECT_EQ(layout.group_of_layer[0], 1);
  EXPECT_EQ(layout.group_of_layer[25], 6);
  EXPECT_EQ(layout.slot_of_layer[17], 2);
  // Every (group, slot) pair is used once.
  std::vector<int32_t> seen(static_cast<size_t>(layout.num_groups() * layout.layers_per_block), 0);
  for (int32_t l = 0; l < 26; ++l) {
    ++seen[static_cast<size_t>(layout.group_of_layer[static_cast<size_t>(l)] * layout.layers_per_block +
                               layout.slot_of_layer[static_cast<size_t>(l)])];
  }
  EXPECT_EQ(*std::max_element(seen.begin(), seen.end()), 1);
}

// Held KV bytes after prefilling `num_tokens` in chunks of `chunk`, then decoding `decode_steps`
// tokens (f16, block size 16).
int64_t held_kv_bytes(const KvLayout& layout, int32_t num_tokens, int32_t chunk, int32_t decode_steps) {
  constexpr int32_t kBlockSize = 16;
  KvCacheManager manager(kBlockSize, 4096, /*enable_caching=*/false, layout.group_windows);
  std::vector<int32_t> tokens(static_cast<size_t>(num_tokens + decode_steps));
  std::iota(tokens.begin(), tokens.end(), 0);
  const std::span<const int32_t> prompt(tokens.data(), static_cast<size_t>(num_tokens));
  for (int32_t done = 0; done < num_tokens; done += chunk) {
    EXPECT_TRUE(manager.allocate_slots({0, prompt, done, 0}, std::min(chunk, num_tokens - done)).has_value());
  }
  for (int32_t i = 0; i < decode_steps; ++i) {
    const std::span<const int32_t> known(tokens.data(), static_cast<size_t>(num_tokens + i + 1));
    EXPECT_TRUE(manager.allocate_slots({0, known, num_tokens + i, 0}, 1).has_value());
  }
  int64_t blocks = 0;
  for (int32_t g = 0; g < layout.num_groups(); ++g) blocks += manager.num_held_blocks(0, g);
  return blocks * static_cast<int64_t>(KvStorage::bytes_per_block(layout.layers_per_block, kBlockSize, 1, 256,
                                                                  DType::kF16));
}

TEST(KvLayout, GemmaRequestOf4096TokensHoldsAFractionOfTheKv) {
  const KvLayout plain = make_kv_layout(gemma3_1b(), false), grouped = make_kv_layout(gemma3_1b());
  const int64_t all_global = held_kv_bytes(plain, 4096, 512, 0);
  EXPECT_EQ(all_global, int64_t{4096} * 26 * 2 * 256 * 2);  // 26 layers of K and V, f16
  // Right after a prefill in chunks of 512 the local layers still hold the window behind the
  // last chunk plus that chunk; the first decode step drops them to the window.
  const int64_t after_prefill = held_kv_bytes(grouped, 4096, 512, 0);
  const int64_t decoding = held_kv_bytes(grouped, 4096, 512, 1);
  std::printf("[ kv       ] Gemma-3-1B, 4096 tokens, f16 KV: every layer global %.1f MiB; releasing %.1f MiB after "
              "the prefill (%.2fx less), %.1f MiB decoding (%.2fx less)\n",
              all_global / 1048576.0, after_prefill / 1048576.0, double(all_global) / double(after_prefill),
              decoding / 1048576.0, double(all_global) / double(decoding));
  // 4 global layers keep all 4097 positions (257 blocks); 22 local ones (in 24 slots) keep the
  // 33 blocks from position 3584 on (the window 3585...4096 and the block it starts in).
  EXPECT_EQ(decoding, (int64_t{4} * 257 * 16 + int64_t{24} * 33 * 16) * 2 * 256 * 2);
  EXPECT_LT(after_prefill * 2, all_global);
}

}  // namespace
}  // namespace tessera
