// Model-level behaviour on tiny random-weight models: batching and chunking never change a
// sequence's logits, and bad files or prompts give clear errors.
#include <gtest/gtest.h>

#include <memory>
#include <numeric>

#include "model/model.h"
#include "runtime/generator.h"
#include "tiny_model.h"

namespace tessera {
namespace {

using testing::make_tiny_model;
using testing::TinyModelSpec;

std::unique_ptr<Model> load_tiny(const TinyModelSpec& spec, ModelOptions options = {}) {
  auto file = gguf::GgufFile::from_bytes(make_tiny_model(spec).to_bytes(), "tiny.gguf");
  EXPECT_TRUE(file.ok()) << file.status().message();
  auto model = Model::load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), options);
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? std::move(model).value() : nullptr;
}

Status load_status(const gguf::GgufWriter& writer) {
  auto file = gguf::GgufFile::from_bytes(writer.to_bytes(), "tiny.gguf");
  if (!file.ok()) return file.status();
  auto model = Model::load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()));
  return model.ok() ? Status() : model.status();
}

std::vector<int32_t> identity_table(int32_t num_blocks, int32_t first = 0) {
  std::vector<int32_t> table(static_cast<size_t>(num_blocks));
  std::iota(table.begin(), table.end(), first);
  return table;
}

// Logits of every token of `tokens`, run as one sequence in one batch.
// One forward pass on `pool` (a CPU execution context borrowing it).
void forward_on(Model& model, const ForwardBatch& batch, KvStorage& kv, float* logits, ThreadPool& pool) {
  kernels::ExecutionContext context(pool);
  model.forward(batch, kv, logits, context);
}

std::vector<float> all_logits(Model& model, const std::vector<int32_t>& tokens, ThreadPool& pool) {
  const auto& c = model.config();
  KvStorage kv(c.num_layers, 8, 16, c.num_kv_heads, c.head_dim);
  const auto table = identity_table(8);
  ForwardBatch batch;
  batch.add_sequence(tokens, 0, table, 16, false);
  for (int32_t i = 0; i < batch.num_tokens(); ++i) batch.logit_rows.push_back(i);
  std::vector<float> logits(tokens.size() * static_cast<size_t>(c.vocab_size));
  forward_on(model, batch, kv, logits.data(), pool);
  return logits;
}

const std::vector<int32_t> kTokens = {1, 7, 12, 3, 40, 41, 9, 22, 5, 17, 30, 11, 8};

TEST(DecoderModel, ChunkedForwardEqualsOneBatch) {
  ThreadPool pool(2);
  TinyModelSpec spec;
  auto whole = load_tiny(spec);
  ModelOptions small;
  small.max_batch_tokens = 3;
  auto chunked = load_tiny(spec, small);
  EXPECT_EQ(all_logits(*whole, kTokens, pool), all_logits(*chunked, kTokens, pool));
}

TEST(DecoderModel, TokenByTokenDecodeEqualsPrefill) {
  ThreadPool pool(1);
  TinyModelSpec spec;
  spec.weight_type = DType::kQ8_0;
  auto model = load_tiny(spec);
  const auto expected = all_logits(*model, kTokens, pool);
  const auto& c = model->config();
  KvStorage kv(c.num_layers, 8, 16, c.num_kv_heads, c.head_dim);
  const auto table = identity_table(8);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  for (size_t i = 0; i < kTokens.size(); ++i) {
    ForwardBatch batch;
    batch.add_sequence(std::span<const int32_t>(&kTokens[i], 1), static_cast<int32_t>(i), table, 16, true);
    forward_on(*model, batch, kv, logits.data(), pool);
    for (int32_t v = 0; v < c.vocab_size; ++v) {
      ASSERT_EQ(logits[v], expected[i * c.vocab_size + v]) << "token " << i << " vocab " << v;
    }
  }
}

TEST(DecoderModel, SequencesInOneBatchEqualEachRunAlone) {
  ThreadPool pool(2);
  TinyModelSpec spec;
  spec.tied_embeddings = true;
  auto model = load_tiny(spec);
  const auto& c = model->config();
  const std::vector<int32_t> a = {1, 4, 9, 16, 25}, b = {1, 2, 3};
  const auto alone_a = all_logits(*model, a, pool);
  const auto alone_b = all_logits(*model, b, pool);
  // Both in one batch, in disjoint blocks of one pool, b's blocks before a's.
  KvStorage kv(c.num_layers, 4, 16, c.num_kv_heads, c.head_dim);
  const std::vector<int32_t> table_a = {3}, table_b = {1};
  ForwardBatch batch;
  batch.add_sequence(a, 0, table_a, 16, true);
  batch.add_sequence(b, 0, table_b, 16, true);
  std::vector<float> logits(2 * static_cast<size_t>(c.vocab_size));
  forward_on(*model, batch, kv, logits.data(), pool);
  for (int32_t v = 0; v < c.vocab_size; ++v) {
    ASSERT_EQ(logits[v], alone_a[(a.size() - 1) * c.vocab_size + v]);
    ASSERT_EQ(logits[c.vocab_size + v], alone_b[(b.size() - 1) * c.vocab_size + v]);
  }
}

// The last layer runs attention output and FFN only for rows whose logits were requested: rows in
// the middle of a sequence and chunks with no requested row (max_batch_tokens 3) give exactly the
// logits of the run that requests every row.
TEST(DecoderModel, LogitsOfSomeRowsEqualThoseOfAllRows) {
  ThreadPool pool(2);
  TinyModelSpec spec;
  spec.weight_type = DType::kQ8_0;
  ModelOptions small;
  small.max_batch_tokens = 3;
  auto model = load_tiny(spec, small);
  const auto& c = model->config();
  const auto expected = all_logits(*model, kTokens, pool);
  KvStorage kv(c.num_layers, 8, 16, c.num_kv_heads, c.head_dim);
  const auto table = identity_table(8);
  ForwardBatch batch;
  batch.add_sequence(kTokens, 0, table, 16, false);
  const std::vector<int32_t> rows = {1, 2, 9, 12};  // chunk [3, 6) and [6, 9) request none
  batch.logit_rows = rows;
  std::vector<float> logits(rows.size() * static_cast<size_t>(c.vocab_size));
  forward_on(*model, batch, kv, logits.data(), pool);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int32_t v = 0; v < c.vocab_size; ++v) {
      ASSERT_EQ(logits[i * c.vocab_size + v], expected[static_cast<size_t>(rows[i]) * c.vocab_size + v])
          << "row " << rows[i] << " vocab " << v;
    }
  }
}

TEST(DecoderModel, LoadsEveryWeightType) {
  ThreadPool pool(1);
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                     DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    TinyModelSpec spec;
    spec.hidden_dim = 256;  // k-quant rows need multiples of 256
    spec.ffn_dim = 256;
    spec.weight_type = type;
    auto model = load_tiny(spec);
    ASSERT_NE(model, nullptr) << dtype_name(type);
    const auto logits = all_logits(*model, {1, 5, 9}, pool);
    for (float x : logits) ASSERT_TRUE(std::isfinite(x)) << dtype_name(type);
  }
}

TEST(ModelLoading, RejectsUnknownArchitecture) {
  TinyModelSpec spec;
  spec.architecture = "gptj";
  Status s = load_status(make_tiny_model(spec));
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("unsupported architecture 'gptj'"), std::string::npos) << s.message();
}

TEST(ModelLoading, RejectsMissingTensorByName) {
  // A model whose config claims 3 layers but holds weights for 2.
  gguf::GgufWriter w = make_tiny_model(TinyModelSpec{});
  w.set("llama.block_count", gguf::MetadataValue::u32(3));
  Status s = load_status(w);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing tensor 'blk.2.attn_norm.weight'"), std::string::npos) << s.message();
}

TEST(ModelLoading, RejectsMisshapenTensor) {
  gguf::GgufWriter w = make_tiny_model(TinyModelSpec{});
  w.set("llama.feed_forward_length", gguf::MetadataValue::u32(128));
  Status s = load_status(w);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ffn_gate.weight' has shape"), std::string::npos) << s.message();
}

TEST(ModelLoading, RejectsHeadCountThatDoesNotDivide) {
  gguf::GgufWriter w = make_tiny_model(TinyModelSpec{});
  w.set("llama.attention.head_count_kv", gguf::MetadataValue::u32(3));
  EXPECT_FALSE(load_status(w).ok());
}

TEST(Generator, RejectsPromptLongerThanContext) {
  ThreadPool pool(1);
  auto model = load_tiny(TinyModelSpec{});
  Generator generator(*model, pool, 8);
  SamplingParams params;
  params.temperature = 0.0f;
  Sampler sampler(params);
  auto result = generator.generate(std::vector<int32_t>(8, 5), 4, sampler, [](int32_t) { return false; },
                                   [](int32_t) {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(result.status().message().find("8 tokens"), std::string::npos) << result.status().message();
}

TEST(Generator, StopsAtContextEndWithoutError) {
  ThreadPool pool(1);
  auto model = load_tiny(TinyModelSpec{});
  Generator generator(*model, pool, 8);
  SamplingParams params;
  params.temperature = 0.0f;
  Sampler sampler(params);
  auto result = generator.generate({1, 2, 3}, 100, sampler, [](int32_t) { return false; }, [](int32_t) {});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->tokens.size(), 6u);  // positions 3..7 fed back, plus the token sampled at position 7
}

TEST(Generator, RejectsTokenOutsideVocabulary) {
  ThreadPool pool(1);
  auto model = load_tiny(TinyModelSpec{});
  Generator generator(*model, pool, 16);
  Sampler sampler(SamplingParams{});
  auto result = generator.generate({1, 9999}, 4, sampler, [](int32_t) { return false; }, [](int32_t) {});
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
