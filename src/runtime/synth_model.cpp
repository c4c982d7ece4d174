#include "runtime/synth_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <thread>

#include "base/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

// splitmix64: a tiny, fast, well-mixed generator; one stream per row keeps the output
// independent of the thread count.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return (static_cast<float>(next() >> 40) + 0.5f) * (1.0f / 16777216.0f); }  // (0, 1)
};

// Fills dst[0..n) with N(mean, stddev) by Box-Muller.
void fill_normal(SplitMix& rng, float* dst, int64_t n, float mean, float stddev) {
  for (int64_t i = 0; i < n; i += 2) {
    const float r = std::sqrt(-2.0f * std::log(rng.uniform()));
    const float theta = 6.28318530718f * rng.uniform();
    dst[i] = mean + stddev * r * std::cos(theta);
    if (i + 1 < n) dst[i + 1] = mean + stddev * r * std::sin(theta);
  }
}

uint64_t mix(uint64_t a, uint64_t b) {
  SplitMix s{a * 0x9E3779B97F4A7C15ull ^ b};
  return s.next();
}

bool use_more_bits(int32_t i, int32_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

class SynthWriter {
 public:
  SynthWriter(const SynthOptions& o, ThreadPool& pool) : o_(o), pool_(pool) {}

  gguf::GgufWriter& writer() { return w_; }

  Status add_matrix(const std::string& name, int64_t rows, int64_t cols, DType type) {
    const size_t stride = row_bytes(type, cols);
    std::string bytes(stride * static_cast<size_t>(rows), '\0');
    const uint64_t tensor_seed = mix(o_.seed, ++tensor_index_);
    pool_.parallel_for(rows, [&](int64_t begin, int64_t end, int) {
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t r = begin; r < end; ++r) {
        SplitMix rng{mix(tensor_seed, static_cast<uint64_t>(r))};
        fill_normal(rng, row.data(), cols, 0.0f, 0.02f);
        quantize_row_ref(type, row.data(), bytes.data() + static_cast<size_t>(r) * stride, cols);
      }
    });
    return w_.add_tensor(name, type, {cols, rows}, bytes.data(), bytes.size());
  }

  Status add_norm(const std::string& name, int64_t n) {
    std::vector<float> values(static_cast<size_t>(n));
    SplitMix rng{mix(o_.seed, ++tensor_index_)};
    fill_normal(rng, values.data(), n, 1.0f, 0.01f);
    return w_.add_tensor(name, DType::kF32, {n}, values.data(), values.size() * sizeof(float));
  }

 private:
  const SynthOptions& o_;
  ThreadPool& pool_;
  gguf::GgufWriter w_;
  uint64_t tensor_index_ = 0;
};

}  // namespace

std::optional<SynthShape> synth_shape(std::string_view name) {
  SynthShape s;
  s.name = std::string(name);
  if (name == "smollm-135m") {
    s.hidden_dim = 576, s.ffn_dim = 1536, s.num_layers = 30, s.num_heads = 9, s.num_kv_heads = 3;
    s.context_length = 2048, s.tied_embeddings = true;
  } else if (name == "tinyllama-1.1b") {
    s.hidden_dim = 2048, s.ffn_dim = 5632, s.num_layers = 22, s.num_heads = 32, s.num_kv_heads = 4;
    s.context_length = 2048, s.tied_embeddings = false;
  } else if (name == "tiny") {
    s.hidden_dim = 256, s.ffn_dim = 512, s.num_layers = 2, s.num_heads = 4, s.num_kv_heads = 2;
    s.context_length = 256, s.tied_embeddings = false;
  } else {
    return std::nullopt;
  }
  return s;
}

std::vector<std::string> synth_shape_names() { return {"smollm-135m", "tinyllama-1.1b", "tiny"}; }

std::optional<SynthType> synth_type_from_name(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "F32") return SynthType::kF32;
  if (upper == "F16") return SynthType::kF16;
  if (upper == "Q4_0") return SynthType::kQ4_0;
  if (upper == "Q8_0") return SynthType::kQ8_0;
  if (upper == "Q4_K_M") return SynthType::kQ4_K_M;
  return std::nullopt;
}

std::string synth_type_name(SynthType type) {
  switch (type) {
    case SynthType::kF32: return "F32";
    case SynthType::kF16: return "F16";
    case SynthType::kQ4_0: return "Q4_0";
    case SynthType::kQ8_0: return "Q8_0";
    case SynthType::kQ4_K_M: return "Q4_K_M";
  }
  return "?";
}

DType synth_tensor_type(SynthType type, std::string_view name, int64_t num_cols, int32_t layer, int32_t num_layers,
                        bool is_output_head) {
  if (type == SynthType::kF32) return DType::kF32;
  if (type == SynthType::kF16) return DType::kF16;
  DType t = type == SynthType::kQ4_0 ? DType::kQ4_0 : type == SynthType::kQ8_0 ? DType::kQ8_0 : DType::kQ4_K;
  if (is_output_head) {
    // llama.cpp: the output head is Q6_K (Q8_0 when its rows are not a multiple of 256), unless Q8_0 already.
    if (num_cols % 256 != 0) return DType::kQ8_0;
    return t == DType::kQ8_0 ? t : DType::kQ6_K;
  }
  if (type == SynthType::kQ4_K_M) {
    if (contains(name, "attn_v.weight") && use_more_bits(layer, num_layers)) t = DType::kQ6_K;
    if (contains(name, "ffn_down.weight") && use_more_bits(layer, num_layers)) t = DType::kQ6_K;
    if (num_cols % 256 != 0) t = t == DType::kQ6_K ? DType::kQ8_0 : DType::kQ5_0;
  }
  return t;
}

Status write_synth_model(const SynthOptions& o, const std::string& path) {
  using gguf::MetadataValue;
  const SynthShape& s = o.shape;
  if (s.hidden_dim <= 0 || s.num_heads <= 0 || s.hidden_dim % s.num_heads != 0 || s.num_kv_heads <= 0 ||
      s.num_heads % s.num_kv_heads != 0) {
    return invalid_argument("synth: bad shape '" + s.name + "'");
  }
  auto vocab = gguf::GgufFile::open(o.vocab_path);
  if (!vocab.ok()) return vocab.status();
  const gguf::ArrayValue* tokens = (*vocab)->get_array("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->size() == 0) return invalid_argument(o.vocab_path + ": no tokenizer.ggml.tokens");
  const int64_t vocab_size = static_cast<int64_t>(tokens->size());

  unsigned hw = std::thread::hardware_concurrency();
  ThreadPool pool(o.num_threads > 0 ? o.num_threads : static_cast<int>(hw == 0 ? 1 : hw));
  SynthWriter sw(o, pool);
  gguf::GgufWriter& w = sw.writer();
  const std::string a = "llama.";
  const int32_t head_dim = s.hidden_dim / s.num_heads;
  w.set("general.architecture", MetadataValue::string("llama"));
  w.set("general.name", MetadataValue::string("synth-" + s.name + "-" + synth_type_name(o.type)));
  w.set("general.file_type", MetadataValue::u32(static_cast<uint32_t>(o.type)));
  if (o.type != SynthType::kF32 && o.type != SynthType::kF16) w.set("general.quantization_version", MetadataValue::u32(2));
  w.set(a + "vocab_size", MetadataValue::u32(static_cast<uint32_t>(vocab_size)));
  w.set(a + "context_length", MetadataValue::u32(static_cast<uint32_t>(s.context_length)));
  w.set(a + "embedding_length", MetadataValue::u32(static_cast<uint32_t>(s.hidden_dim)));
  w.set(a + "block_count", MetadataValue::u32(static_cast<uint32_t>(s.num_layers)));
  w.set(a + "feed_forward_length", MetadataValue::u32(static_cast<uint32_t>(s.ffn_dim)));
  w.set(a + "rope.dimension_count", MetadataValue::u32(static_cast<uint32_t>(head_dim)));
  w.set(a + "attention.head_count", MetadataValue::u32(static_cast<uint32_t>(s.num_heads)));
  w.set(a + "attention.head_count_kv", MetadataValue::u32(static_cast<uint32_t>(s.num_kv_heads)));
  w.set(a + "attention.layer_norm_rms_epsilon", MetadataValue::f32(s.rms_norm_eps));
  w.set(a + "rope.freq_base", MetadataValue::f32(s.rope_freq_base));
  for (const gguf::MetadataEntry& e : (*vocab)->metadata()) {
    if (e.key.rfind("tokenizer.", 0) == 0) w.set(e.key, e.value);
  }

  const int64_t d = s.hidden_dim, f = s.ffn_dim, q = int64_t{s.num_heads} * head_dim,
                kv = int64_t{s.num_kv_heads} * head_dim;
  auto type_of = [&](const std::string& name, int64_t cols, int32_t layer, bool head) {
    return synth_tensor_type(o.type, name, cols, layer, s.num_layers, head);
  };
  Status st = sw.add_matrix("token_embd.weight", vocab_size, d, type_of("token_embd.weight", d, 0, s.tied_embeddings));
  if (!st.ok()) return st;
  if (st = sw.add_norm("output_norm.weight", d); !st.ok()) return st;
  if (!s.tied_embeddings) {
    if (st = sw.add_matrix("output.weight", vocab_size, d, type_of("output.weight", d, 0, true)); !st.ok()) return st;
  }
  for (int32_t l = 0; l < s.num_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    struct M {
      const char* name;
      int64_t rows, cols;
    };
    const M mats[] = {{"attn_q.weight", q, d},   {"attn_k.weight", kv, d},   {"attn_v.weight", kv, d},
                      {"attn_output.weight", d, q}, {"ffn_gate.weight", f, d}, {"ffn_up.weight", f, d},
                      {"ffn_down.weight", d, f}};
    if (st = sw.add_norm(p + "attn_norm.weight", d); !st.ok()) return st;
    if (st = sw.add_norm(p + "ffn_norm.weight", d); !st.ok()) return st;
    for (const M& m : mats) {
      const std::string name = p + m.name;
      if (st = sw.add_matrix(name, m.rows, m.cols, type_of(name, m.cols, l, false)); !st.ok()) return st;
    }
  }
  return w.write(path);
}

}  // namespace tessera
