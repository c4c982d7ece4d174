// `tessera synth` models of the tiny shape load and generate; the bench runner returns sane
// records on them. No timing assertions: the machine is shared.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <unistd.h>

#include "base/memory_bandwidth.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/bench_runner.h"
#include "runtime/generator.h"
#include "runtime/synth_model.h"

namespace tessera {
namespace {

using quantize::FileType;

const std::string kVocab = std::string(TESSERA_SHARED_DIR) + "/models/vocab/ggml-vocab-llama-spm.gguf";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tessera_synth_" + std::to_string(getpid()) + "_" + name)).string();
}

// The types of `tessera quantize` (llama.cpp's mixes), per tensor of each shape: no file written.
std::map<std::string, DType> planned_types(const std::string& shape_name, FileType type) {
  ModelConfig config = synth_shape(shape_name)->config;
  if (config.vocab_size == 0) config.vocab_size = 32000;  // the llama-spm vocabulary
  auto plan = synth_tensor_plan(config, type);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  std::map<std::string, DType> types;
  for (const SynthTensor& t : *plan) types[t.spec.name] = t.type;
  return types;
}

TEST(SynthModelTest, TensorTypesFollowLlamaCpp) {
  // use_more_bits over 22 layers: first 2, last 3 (>= 19) and every third in between.
  auto tinyllama = planned_types("tinyllama-1.1b", FileType::kQ4_K_M);
  EXPECT_EQ(tinyllama["blk.0.attn_v.weight"], DType::kQ6_K);
  EXPECT_EQ(tinyllama["blk.2.attn_v.weight"], DType::kQ4_K);
  EXPECT_EQ(tinyllama["blk.4.ffn_down.weight"], DType::kQ6_K);
  EXPECT_EQ(tinyllama["blk.20.ffn_down.weight"], DType::kQ6_K);
  EXPECT_EQ(tinyllama["blk.5.ffn_up.weight"], DType::kQ4_K);
  EXPECT_EQ(tinyllama["blk.5.ffn_norm.weight"], DType::kF32);
  // Rows of 576 are not a multiple of 256: Q4_K -> Q5_0, Q6_K -> Q8_0.
  auto smollm = planned_types("smollm-135m", FileType::kQ4_K_M);
  EXPECT_EQ(smollm["blk.5.ffn_up.weight"], DType::kQ5_0);
  EXPECT_EQ(smollm["blk.0.attn_v.weight"], DType::kQ8_0);
  EXPECT_EQ(smollm["blk.0.ffn_down.weight"], DType::kQ6_K);
  // The output head, or the tied embeddings.
  EXPECT_EQ(planned_types("tinyllama-1.1b", FileType::kQ4_0)["output.weight"], DType::kQ6_K);
  EXPECT_EQ(planned_types("tinyllama-1.1b", FileType::kQ4_0)["token_embd.weight"], DType::kQ4_0);
  EXPECT_EQ(planned_types("smollm-135m", FileType::kQ4_0)["token_embd.weight"], DType::kQ8_0);
  EXPECT_EQ(planned_types("tinyllama-1.1b", FileType::kQ8_0)["output.weight"], DType::kQ8_0);
  EXPECT_EQ(planned_types("tinyllama-1.1b", FileType::kF16)["output.weight"], DType::kF16);
  // Phi-3's fused QKV gets attn_v's bits (use_more_bits over 32: layers < 4, >= 28, 6, 9, ...).
  auto phi3 = planned_types("phi3-mini", FileType::kQ4_K_M);
  EXPECT_EQ(phi3["blk.0.attn_qkv.weight"], DType::kQ6_K);
  EXPECT_EQ(phi3["blk.4.attn_qkv.weight"], DType::kQ4_K);
  EXPECT_EQ(phi3["blk.6.attn_qkv.weight"], DType::kQ6_K);
  EXPECT_EQ(phi3["output.weight"], DType::kQ6_K);
  // Qwen3's per-head norms stay f32; tied embeddings of 1024 take the output head's Q6_K.
  auto qwen3 = planned_types("qwen3-0.6b", FileType::kQ4_0);
  EXPECT_EQ(qwen3["blk.0.attn_q_norm.weight"], DType::kF32);
  EXPECT_EQ(qwen3["blk.0.attn_q.weight"], DType::kQ4_0);
  EXPECT_EQ(qwen3["token_embd.weight"], DType::kQ6_K);
  EXPECT_EQ(qwen3.count("output.weight"), 0u);
  // Gemma's 1152-wide rows cannot hold 256-blocks: the tied embeddings fall back to Q8_0.
  EXPECT_EQ(planned_types("gemma3-1b", FileType::kQ4_0)["token_embd.weight"], DType::kQ8_0);
}

class SynthTinyTest : public ::testing::TestWithParam<FileType> {};

TEST_P(SynthTinyTest, LoadsGeneratesAndBenches) {
  SynthOptions options;
  options.shape = *synth_shape("tiny");
  options.type = GetParam();
  options.vocab_path = kVocab;
  options.num_threads = 2;
  const std::string path = temp_path(std::string(file_type_name(GetParam())) + ".gguf");
  ASSERT_TRUE(write_synth_model(options, path).ok());

  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ((*file)->get_int("general.file_type"), static_cast<int64_t>(GetParam()));
  ASSERT_NE((*file)->get_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ((*file)->get_array("tokenizer.ggml.tokens")->size(), 32000u);
  EXPECT_EQ((*file)->get_int("llama.embedding_length"), 256);

  ModelOptions model_options;
  model_options.max_context = 64;
  auto model = Model::load(path, model_options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->config().vocab_size, 32000);
  ThreadPool pool(2);
  Generator generator(**model, pool, 64);
  SamplingParams sampling;
  sampling.temperature = 0.0f;
  Sampler sampler(sampling);
  auto result = generator.generate({1, 100, 200, 300}, 4, sampler, [](int32_t) { return false; }, [](int32_t) {});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tokens.size(), 4u);
  for (int32_t id : result->tokens) EXPECT_TRUE(id >= 0 && id < 32000);

  BenchParams params;
  params.model_path = path;
  params.n_prompt = 8;
  params.n_gen = 4;
  params.n_threads = 2;
  params.repetitions = 1;
  params.bandwidth_bytes = size_t{16} << 20;
  auto records = run_bench(params);
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 2u);
  const BenchRecord& pp = (*records)[0];
  const BenchRecord& tg = (*records)[1];
  EXPECT_EQ(pp.test_name(), "pp8");
  EXPECT_EQ(tg.test_name(), "tg4");
  EXPECT_EQ(pp.n_threads, 2);
  EXPECT_EQ(pp.model_size, tg.model_size);
  EXPECT_GT(pp.model_size, 0u);
  EXPECT_LE(pp.model_size, (*file)->file_bytes());
  for (const BenchRecord* r : {&pp, &tg}) {
    ASSERT_EQ(r->samples_ts.size(), 1u);
    EXPECT_GT(r->avg_ts, 0.0);
    EXPECT_EQ(r->stddev_ts, 0.0);
    EXPECT_DOUBLE_EQ(r->avg_ts, r->samples_ts[0]);
  }
  EXPECT_EQ(pp.weights_bytes_per_token, 0u);
  // Untied: output head whole, one embedding row.
  EXPECT_EQ(tg.weights_bytes_per_token, weights_bytes_per_token(**file));
  const auto* embd = (*file)->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(tg.weights_bytes_per_token, pp.model_size - embd->num_bytes + embd->num_bytes / 32000);
  EXPECT_GT(tg.measured_read_gbs, 0.0);
  EXPECT_GT(tg.roofline_pct, 0.0);
  // One probe per repetition, and the roofline of each repetition is its own ratio.
  ASSERT_EQ(tg.read_gbs_samples.size(), tg.samples_ts.size());
  ASSERT_EQ(tg.roofline_pct_samples.size(), tg.samples_ts.size());
  EXPECT_DOUBLE_EQ(tg.measured_read_gbs, tg.read_gbs_samples[0]);
  EXPECT_NEAR(tg.roofline_pct,
              100.0 * static_cast<double>(tg.weights_bytes_per_token) * tg.samples_ts[0] / (tg.read_gbs_samples[0] * 1e9),
              1e-9 * tg.roofline_pct);
  EXPECT_TRUE(pp.read_gbs_samples.empty());

  // At depth 16 both tests start after 16 tokens of context; the tg test's KV reads are its
  // positions' mean context (16 + (4 + 1) / 2 = 18.5) x K and V of every layer, in f16.
  params.n_depth = 16;
  auto deep = run_bench(params);
  ASSERT_TRUE(deep.ok()) << deep.status().message();
  ASSERT_EQ(deep->size(), 2u);
  EXPECT_EQ((*deep)[0].test_name(), "pp8 @ d16");
  EXPECT_EQ((*deep)[1].test_name(), "tg4 @ d16");
  EXPECT_EQ((*deep)[1].n_depth, 16);
  const ModelConfig& c = (*model)->config();
  EXPECT_EQ((*deep)[1].kv_bytes_per_token, uint64_t(2 * 2 * c.num_layers * c.kv_dim()) * 37 / 2);
  EXPECT_GT((*deep)[1].avg_ts, 0.0);
  params.n_depth = c.context_length;  // no room left for the tests
  EXPECT_FALSE(run_bench(params).ok());
  params.n_depth = -1;
  EXPECT_FALSE(run_bench(params).ok());
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Types, SynthTinyTest, ::testing::Values(FileType::kQ8_0, FileType::kQ4_K_M, FileType::kF16),
                         [](const auto& info) { return std::string(file_type_name(info.param)); });

TEST(MemoryBandwidthTest, PositiveAndFinite) {
  ThreadPool pool(2);
  const double gbs = measure_read_bandwidth_gbs(pool, size_t{8} << 20, 2);
  EXPECT_GT(gbs, 0.0);
  EXPECT_LT(gbs, 1e5);
}

}  // namespace
}  // namespace tessera
