// The architecture registry against real files: the tensor table of each recipe is exactly what
// llama.cpp's converter wrote, and a file of a known architecture with a missing, misshapen or
// wrongly typed tensor or hyper-parameter fails with one clear error (never a crash).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/arch/architecture.h"
#include "model/model.h"
#include "model/tensor_names.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

const char* const kDenseFixtures[] = {
    "synth-llama-mqa-d128-f32", "synth-llama-mqa-d256-Q4_K_M", "synth-qwen2-d128-f32",
    "synth-qwen2-d256-Q4_K_M",  "synth-qwen3-d128-f32",        "synth-qwen3-d256-Q4_K_M",
    "synth-gemma3-d64-swa16-f32", "synth-gemma3-d256-swa16-Q4_K_M", "synth-phi3-d128-f32",
    "synth-phi3-d256-Q4_K_M",   "synth-kq-d256-f32",          "synth-moe-d128-e8k2-f32",
    "synth-moe-d128-e8k2-Q8_0", "synth-qwen3moe-d64-e8k2-f32", "synth-qwen3moe-d256-e4k2-Q4_K_M",
};

std::string fixture_path(const std::string& name) {
  return std::string(TESSERA_SHARED_DIR) + "/models/synthetic/" + name + ".gguf";
}

TEST(Architecture, TensorTableIsExactlyTheFilesTensors) {
  for (const char* name : kDenseFixtures) {
    auto file = gguf::GgufFile::open(fixture_path(name));
    ASSERT_TRUE(file.ok()) << file.status().message();
    auto config = read_model_config(**file);
    ASSERT_TRUE(config.ok()) << config.status().message();
    const Architecture* arch = find_architecture(config->architecture);
    ASSERT_NE(arch, nullptr);
    std::map<std::string, std::vector<int64_t>> expected, actual;
    for (const TensorSpec& spec : tensor_table(*config, arch->recipe)) expected[spec.name] = spec.shape;
    for (const gguf::TensorInfo& info : (*file)->tensors()) actual[info.name] = info.shape;
    EXPECT_EQ(expected, actual) << name;
  }
}

TEST(Architecture, GemmaLayersFollowTheDefaultSlidingWindowPattern) {
  auto file = gguf::GgufFile::open(fixture_path("synth-gemma3-d64-swa16-f32"));
  ASSERT_TRUE(file.ok());
  auto config = read_model_config(**file);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->sliding_window, 16);
  EXPECT_EQ(config->layer_is_local, (std::vector<bool>{true, true, true, true, true, false}));
  EXPECT_FLOAT_EQ(config->rope.freq_base, 1e6f);
  EXPECT_FLOAT_EQ(config->rope.freq_scale, 0.125f);
  EXPECT_FLOAT_EQ(config->rope_local.freq_base, 1e4f);
  EXPECT_FLOAT_EQ(config->rope_local.freq_scale, 1.0f);
  EXPECT_EQ(config->rope.order, kernels::RopeOrder::kNeox);
  EXPECT_EQ(config->head_dim, 32);  // key_length, not hidden_dim / num_heads (16)
}

TEST(TensorNames, RoundTrip) {
  for (TensorKind kind : {TensorKind::kTokenEmbedding, TensorKind::kAttnQkv, TensorKind::kPostFfnNorm,
                          TensorKind::kFfnDownExps}) {
    const std::string name = tensor_name(kind, 7, "bias");
    auto parsed = parse_tensor_name(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(parsed->kind, kind);
    EXPECT_EQ(parsed->suffix, "bias");
    EXPECT_EQ(parsed->layer, is_layer_tensor(kind) ? 7 : -1);
  }
  EXPECT_EQ(tensor_name(TensorKind::kAttnQ, 3), "blk.3.attn_q.weight");
  EXPECT_FALSE(parse_tensor_name("blk.x.attn_q.weight").has_value());
  EXPECT_FALSE(parse_tensor_name("blk.1.token_embd.weight").has_value());
  EXPECT_FALSE(parse_tensor_name("rope_freqs.weight").has_value());
  EXPECT_FALSE(parse_tensor_name("blk.3").has_value());
}

TEST(TensorNames, LayerOfAnyBlockName) {
  EXPECT_EQ(tensor_layer("blk.12.attn_q.weight"), 12);
  EXPECT_EQ(tensor_layer("blk.4.not_in_the_table.weight"), 4);  // llama.cpp's sscanf("blk.%d.")
  EXPECT_EQ(tensor_layer("token_embd.weight"), -1);
  EXPECT_EQ(tensor_layer("blk.x.attn_q.weight"), -1);
  EXPECT_EQ(tensor_layer("blk.3"), -1);
}

// Rewrites a fixture with `edit` applied to its metadata and tensors, loads it, and returns the
// load error ("" when it loaded).
struct Rewrite {
  std::function<bool(gguf::MetadataEntry&)> metadata;  // false: drop the key
  std::function<bool(gguf::TensorInfo&)> tensor;       // false: drop the tensor
};
std::string load_error_after(const std::string& fixture, const Rewrite& rewrite) {
  auto file = gguf::GgufFile::open(fixture_path(fixture));
  EXPECT_TRUE(file.ok());
  gguf::GgufWriter writer((*file)->alignment());
  for (gguf::MetadataEntry entry : (*file)->metadata()) {
    if (!rewrite.metadata || rewrite.metadata(entry)) writer.set(entry.key, entry.value);
  }
  for (gguf::TensorInfo info : (*file)->tensors()) {
    const uint8_t* data = (*file)->tensor_data(info);
    const size_t stored_bytes = info.num_bytes;
    if (rewrite.tensor && !rewrite.tensor(info)) continue;
    size_t bytes = row_bytes(info.type, info.shape[0]);  // of the (possibly edited) shape
    for (size_t d = 1; d < info.shape.size(); ++d) bytes *= static_cast<size_t>(info.shape[d]);
    std::string copy(reinterpret_cast<const char*>(data), std::min(bytes, stored_bytes));
    copy.resize(bytes, '\0');
    EXPECT_TRUE(writer.add_tensor(info.name, info.type, info.shape, copy.data(), copy.size()).ok());
  }
  const std::string path = ::testing::TempDir() + "/tessera_arch_" + fixture + ".gguf";
  EXPECT_TRUE(writer.write(path).ok());
  auto model = Model::load(path);
  std::filesystem::remove(path);
  return model.ok() ? "" : model.status().message();
}

TEST(Architecture, BadFilesFailWithOneClearError) {
  // A missing tensor, by name.
  std::string error = load_error_after("synth-qwen2-d128-f32", {nullptr, [](gguf::TensorInfo& t) {
                                         return t.name != "blk.1.attn_k.bias";
                                       }});
  EXPECT_NE(error.find("missing tensor 'blk.1.attn_k.bias'"), std::string::npos) << error;
  error = load_error_after("synth-gemma3-d64-swa16-f32", {nullptr, [](gguf::TensorInfo& t) {
                             return t.name != "blk.5.post_ffw_norm.weight";
                           }});
  EXPECT_NE(error.find("blk.5.post_ffw_norm.weight"), std::string::npos) << error;
  // A misshapen tensor (phi3's fused QKV one row-block short).
  error = load_error_after("synth-phi3-d128-f32", {nullptr, [](gguf::TensorInfo& t) {
                             if (t.name == "blk.0.attn_qkv.weight") t.shape[1] -= 64;
                             return true;
                           }});
  EXPECT_NE(error.find("'blk.0.attn_qkv.weight' has shape"), std::string::npos) << error;
  // A hyper-parameter of the wrong type, or absurd.
  error = load_error_after("synth-qwen3-d128-f32", {[](gguf::MetadataEntry& e) {
                             if (e.key == "qwen3.block_count") e.value = gguf::MetadataValue::string("two");
                             return true;
                           }, nullptr});
  EXPECT_NE(error.find("qwen3.block_count"), std::string::npos) << error;
  error = load_error_after("synth-gemma3-d64-swa16-f32", {[](gguf::MetadataEntry& e) {
                             if (e.key == "gemma3.attention.sliding_window") e.value = gguf::MetadataValue::i32(-5);
                             return true;
                           }, nullptr});
  EXPECT_NE(error.find("sliding_window"), std::string::npos) << error;
  error = load_error_after("synth-qwen3-d128-f32", {[](gguf::MetadataEntry& e) {
                             if (e.key == "qwen3.attention.key_length") e.value = gguf::MetadataValue::u32(48);
                             return true;
                           }, nullptr});
  EXPECT_NE(error.find("value_length"), std::string::npos) << error;
  // Mixture of experts: a router of the wrong shape, an expert count the tensors disagree with,
  // more experts used than there are.
  error = load_error_after("synth-qwen3moe-d64-e8k2-f32", {nullptr, [](gguf::TensorInfo& t) {
                             if (t.name == "blk.0.ffn_gate_inp.weight") t.shape[1] = 6;
                             return true;
                           }});
  EXPECT_NE(error.find("'blk.0.ffn_gate_inp.weight' has shape"), std::string::npos) << error;
  error = load_error_after("synth-moe-d128-e8k2-f32", {[](gguf::MetadataEntry& e) {
                             if (e.key == "llama.expert_count") e.value = gguf::MetadataValue::u32(16);
                             return true;
                           }, nullptr});
  EXPECT_NE(error.find("has shape"), std::string::npos) << error;
  error = load_error_after("synth-moe-d128-e8k2-f32", {[](gguf::MetadataEntry& e) {
                             if (e.key == "llama.expert_used_count") e.value = gguf::MetadataValue::u32(9);
                             return true;
                           }, nullptr});
  EXPECT_NE(error.find("expert_used_count 9 of expert_count 8 is invalid"), std::string::npos) << error;
  // An architecture we do not run is named.
  error = load_error_after("synth-qwen3-d128-f32", {[](gguf::MetadataEntry& e) {
                             if (e.key == "general.architecture") e.value = gguf::MetadataValue::string("mamba");
                             return true;
                           }, nullptr});
  EXPECT_NE(error.find("unsupported architecture 'mamba'"), std::string::npos) << error;
}

}  // namespace
}  // namespace tessera
