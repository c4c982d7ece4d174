// Shared helpers of the engine tests: greedy params, engine creation, draining an engine while
// checking that every KV block went back to the pool, and KV pool sizing in blocks.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "model/kv_storage.h"
#include "model/model.h"
#include "tessera/engine.h"

namespace tessera::testing {

inline std::string engine_model_path(const std::string& name) {
  return std::string(TESSERA_SHARED_DIR) + "/models/" + name;
}

inline GenerationParams greedy(int32_t max_tokens) {
  GenerationParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

inline std::unique_ptr<Engine> make_engine(const EngineConfig& config) {
  auto engine = Engine::create(config);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

// Tokens of each (request, completion index), accumulated over steps.
using EngineTokens = std::map<std::pair<EngineRequestId, int32_t>, std::vector<int32_t>>;

inline void collect(const std::vector<RequestOutput>& outputs, EngineTokens& tokens) {
  for (const RequestOutput& out : outputs) {
    auto& t = tokens[{out.request_id, out.index}];
    t.insert(t.end(), out.new_token_ids.begin(), out.new_token_ids.end());
  }
}

// Steps the engine until it is idle; checks that no KV block leaked.
inline EngineTokens drain(Engine& engine) {
  EngineTokens tokens;
  int32_t guard = 0;
  while (engine.has_unfinished_requests() && ++guard < 100000) collect(engine.step(), tokens);
  const EngineStats stats = engine.stats();
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1) << "KV blocks leaked";
  return tokens;
}

// Bytes of one KV block of `path`'s model with a `kv_type` cache (V: `v_type` when given), to size
// a pool in blocks.
inline size_t kv_bytes_per_block(const std::string& path, int32_t block_size,
                                 KvCacheType kv_type = KvCacheType::kF16,
                                 std::optional<KvCacheType> v_type = std::nullopt) {
  auto model = Model::load(path);
  EXPECT_TRUE(model.ok());
  const ModelConfig& c = (*model)->config();
  // Every layer's K/V for block_size tokens (one block of the plain cache; several smaller blocks
  // where layers form groups).
  return KvStorage::bytes_per_block(c.num_layers, block_size, c.num_kv_heads, c.head_dim,
                                    kv_cache_dtypes(kv_type, std::nullopt, v_type));
}

// A cache type's name ("f16", "q8_0", ...), for test names.
inline std::string kv_type_name(KvCacheType type) { return std::string(dtype_name(kv_cache_dtype(type))); }

// A parameterized test's name: `model`'s file name (no folder, no ".gguf"), then "_kv_<type>"
// when a cache type is given, with every character gtest does not allow as '_'.
inline std::string model_test_name(std::string model, std::optional<KvCacheType> kv_type = std::nullopt) {
  model = model.substr(model.rfind('/') + 1);
  if (model.ends_with(".gguf")) model.resize(model.size() - 5);
  if (kv_type) model += "_kv_" + kv_type_name(*kv_type);
  for (char& ch : model) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return model;
}

}  // namespace tessera::testing
