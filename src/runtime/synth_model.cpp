#include "runtime/synth_model.h"

#include <cmath>
#include <thread>

#include "base/thread_pool.h"
#include "gguf/gguf_writer.h"
#include "model/model_config_writer.h"
#include "model/tensor_names.h"
#include "quantize/tensor_type_choice.h"
#include "runtime/synth_vocab.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION

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

class SynthWriter {
 public:
  SynthWriter(const SynthOptions& o, ThreadPool& pool) : o_(o), pool_(pool) {}

  gguf::GgufWriter& writer() { return w_; }

  // A matrix, or a stack of them (experts): `shape` in ggml order, rows of shape[0] values.
  Status add_matrix(const std::string& name, const std::vector<int64_t>& shape, DType type) {
    const int64_t cols = shape[0];
    int64_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) rows *= shape[d];
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
    return w_.add_tensor(name, type, shape, bytes.data(), bytes.size());
  }

  Status add_vector(const std::string& name, int64_t n, float mean, float stddev) {
    std::vector<float> values(static_cast<size_t>(n));
    SplitMix rng{mix(o_.seed, ++tensor_index_)};
    fill_normal(rng, values.data(), n, mean, stddev);
    return w_.add_tensor(name, DType::kF32, {n}, values.data(), values.size() * sizeof(float));
  }

 private:
  const SynthOptions& o_;
  ThreadPool& pool_;
  gguf::GgufWriter w_;
  uint64_t tensor_index_ = 0;
};

}  // namespace

// The quantizer's input is f32 throughout; its counters (attn_v, ffn_down) advance layer by layer
// both in tensor_table's order and in the sorted order `tessera quantize` uses, so the choices
// are the same.
Expected<std::vector<SynthTensor>> synth_tensor_plan(const ModelConfig& c, quantize::FileType file_type) {
  const Architecture* arch = find_architecture(c.architecture);
  if (arch == nullptr) {
    return invalid_argument("synth: unknown architecture '" + c.architecture +
                            "' (supported: " + supported_architecture_names() + ")");
  }
  if (c.num_layers <= 0 || c.hidden_dim <= 0 || c.ffn_dim <= 0 || c.vocab_size <= 0 || c.num_heads <= 0 ||
      c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0 || c.head_dim <= 0 || c.head_dim % 2 != 0) {
    return invalid_argument("synth: inconsistent sizes for a " + c.architecture + " model");
  }
  const std::vector<TensorSpec> table = tensor_table(c, arch->recipe);
  std::vector<quantize::TensorShapeInfo> inputs;
  for (const TensorSpec& t : table) inputs.push_back({t.name, DType::kF32, t.shape});
  const quantize::ModelShapeInfo model{c.num_layers, c.num_heads, c.num_kv_heads};
  TS_ASSIGN_OR_RETURN(const std::vector<quantize::TensorTypeChoice> choices,
                      quantize::choose_tensor_types(inputs, model, quantize::TypeChoiceOptions{.file_type = file_type}));
  std::vector<SynthTensor> plan;
  for (size_t i = 0; i < table.size(); ++i) plan.push_back({table[i], choices[i].type});
  return plan;
}

Status write_synth_model(const SynthOptions& o, const std::string& path) {
  using gguf::MetadataValue;
  ModelConfig config = o.shape.config;
  TS_ASSIGN_OR_RETURN(const SynthVocabulary vocab, synth_vocabulary(o.vocab_path, config.vocab_size));
  config.vocab_size = vocab.vocab_size;
  config.name = "synth-" + o.shape.name + "-" + std::string(quantize::file_type_name(o.type));
  TS_ASSIGN_OR_RETURN(const std::vector<SynthTensor> plan, synth_tensor_plan(config, o.type));

  unsigned hw = std::thread::hardware_concurrency();
  ThreadPool pool(o.num_threads > 0 ? o.num_threads : static_cast<int>(hw == 0 ? 1 : hw));
  SynthWriter sw(o, pool);
  gguf::GgufWriter& w = sw.writer();
  write_model_config(config, w);
  w.set("general.file_type", MetadataValue::u32(static_cast<uint32_t>(o.type)));
  if (traits(quantize::default_tensor_type(o.type)).is_quantized) {
    w.set("general.quantization_version", MetadataValue::u32(kQuantizationVersion));
  }
  for (const gguf::MetadataEntry& e : vocab.metadata) w.set(e.key, e.value);

  for (const SynthTensor& t : plan) {
    Status st;
    if (!t.spec.is_vector) {
      st = sw.add_matrix(t.spec.name, t.spec.shape, t.type);
    } else if (parse_tensor_name(t.spec.name)->suffix == "bias") {
      st = sw.add_vector(t.spec.name, t.spec.shape[0], 0.0f, 0.02f);
    } else {
      st = sw.add_vector(t.spec.name, t.spec.shape[0], 1.0f, 0.01f);  // a norm's weight
    }
    if (!st.ok()) return st;
  }
  return w.write(path);
}

}  // namespace tessera
