#include "tiny_model.h"

#include <random>
#include <stdexcept>
#include <vector>

#include "tensor/quant.h"

namespace tessera::testing {
namespace {

void add_matrix(gguf::GgufWriter& w, const std::string& name, int64_t rows, int64_t cols, DType type,
                std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 0.3f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float& v : values) v = dist(rng);
  const size_t stride = row_bytes(type, cols);
  std::vector<uint8_t> bytes(stride * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, values.data() + r * cols, bytes.data() + r * stride, cols);
  auto status = w.add_tensor(name, type, {cols, rows}, bytes.data(), bytes.size());
  if (!status.ok()) throw std::runtime_error(status.message());
}

void add_norm(gguf::GgufWriter& w, const std::string& name, int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(0.5f, 1.5f);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = dist(rng);
  auto status = w.add_tensor(name, DType::kF32, {n}, values.data(), values.size() * sizeof(float));
  if (!status.ok()) throw std::runtime_error(status.message());
}

}  // namespace

gguf::GgufWriter make_tiny_model(const TinyModelSpec& s) {
  using gguf::MetadataValue;
  gguf::GgufWriter w;
  const std::string a = s.architecture + ".";
  w.set("general.architecture", MetadataValue::string(s.architecture));
  w.set(a + "block_count", MetadataValue::u32(static_cast<uint32_t>(s.num_layers)));
  w.set(a + "embedding_length", MetadataValue::u32(static_cast<uint32_t>(s.hidden_dim)));
  w.set(a + "feed_forward_length", MetadataValue::u32(static_cast<uint32_t>(s.ffn_dim)));
  w.set(a + "attention.head_count", MetadataValue::u32(static_cast<uint32_t>(s.num_heads)));
  w.set(a + "attention.head_count_kv", MetadataValue::u32(static_cast<uint32_t>(s.num_kv_heads)));
  w.set(a + "context_length", MetadataValue::u32(static_cast<uint32_t>(s.context_length)));
  w.set(a + "attention.layer_norm_rms_epsilon", MetadataValue::f32(1e-5f));
  // A toy SentencePiece vocabulary: <unk>, <s>, </s>, then single letters.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0.0f, 0.0f, 0.0f};
  std::vector<int32_t> types = {2, 3, 3};
  for (int32_t i = 3; i < s.vocab_size; ++i) {
    tokens.push_back(std::string(1, static_cast<char>('!' + (i - 3) % 90)) + (i - 3 >= 90 ? std::to_string(i) : ""));
    scores.push_back(-static_cast<float>(i));
    types.push_back(1);
  }
  w.set("tokenizer.ggml.model", MetadataValue::string("llama"));
  w.set("tokenizer.ggml.tokens", MetadataValue::string_array(tokens));
  w.set("tokenizer.ggml.scores", MetadataValue::f32_array(scores));
  w.set("tokenizer.ggml.token_type", MetadataValue::i32_array(types));
  w.set("tokenizer.ggml.bos_token_id", MetadataValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", MetadataValue::u32(2));

  std::mt19937 rng(s.seed);
  const int32_t head_dim = s.hidden_dim / s.num_heads;
  add_matrix(w, "token_embd.weight", s.vocab_size, s.hidden_dim, s.weight_type, rng);
  add_norm(w, "output_norm.weight", s.hidden_dim, rng);
  if (!s.tied_embeddings) add_matrix(w, "output.weight", s.vocab_size, s.hidden_dim, s.weight_type, rng);
  for (int32_t l = 0; l < s.num_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_norm(w, p + "attn_norm.weight", s.hidden_dim, rng);
    add_matrix(w, p + "attn_q.weight", s.num_heads * head_dim, s.hidden_dim, s.weight_type, rng);
    add_matrix(w, p + "attn_k.weight", s.num_kv_heads * head_dim, s.hidden_dim, s.weight_type, rng);
    add_matrix(w, p + "attn_v.weight", s.num_kv_heads * head_dim, s.hidden_dim, s.weight_type, rng);
    add_matrix(w, p + "attn_output.weight", s.hidden_dim, s.num_heads * head_dim, s.weight_type, rng);
    add_norm(w, p + "ffn_norm.weight", s.hidden_dim, rng);
    add_matrix(w, p + "ffn_gate.weight", s.ffn_dim, s.hidden_dim, s.weight_type, rng);
    add_matrix(w, p + "ffn_up.weight", s.ffn_dim, s.hidden_dim, s.weight_type, rng);
    add_matrix(w, p + "ffn_down.weight", s.hidden_dim, s.ffn_dim, s.weight_type, rng);
  }
  return w;
}

}  // namespace tessera::testing
