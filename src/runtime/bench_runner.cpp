#include "runtime/bench_runner.h"

#include <algorithm>
#include <optional>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>
#include <thread>

#include "base/memory_bandwidth.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "kernels/kernels.h"
#include "model/forward_batch.h"
#include "model/kv_storage.h"
#include "model/model.h"
#include "model/tensor_names.h"

namespace tessera {
namespace {

constexpr int32_t kBlockSize = 16;

std::string params_label(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) {
    std::snprintf(buf, sizeof(buf), "%.1fB", static_cast<double>(n) / 1e9);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0fM", static_cast<double>(n) / 1e6);
  }
  return buf;
}

std::string file_type_label(const gguf::GgufFile& file) {
  if (auto ft = file.get_int("general.file_type")) {
    switch (*ft) {
      case 0: return "all F32";
      case 1: return "F16";
      case 2: return "Q4_0";
      case 3: return "Q4_1";
      case 7: return "Q8_0";
      case 8: return "Q5_0";
      case 9: return "Q5_1";
      case 10: return "Q2_K - Medium";
      case 12: return "Q3_K - Medium";
      case 15: return "Q4_K - Medium";
      case 17: return "Q5_K - Medium";
      case 18: return "Q6_K";
      case 32: return "BF16";
      default: break;
    }
  }
  // No file type: name the type holding most bytes.
  std::vector<std::pair<uint64_t, DType>> by_type;
  for (const auto& t : file.tensors()) {
    auto it = std::find_if(by_type.begin(), by_type.end(), [&](const auto& p) { return p.second == t.type; });
    if (it == by_type.end()) by_type.push_back({t.num_bytes, t.type}); else it->first += t.num_bytes;
  }
  if (by_type.empty()) return "?";
  return std::string(dtype_name(std::max_element(by_type.begin(), by_type.end())->second));
}

void finish(BenchRecord& r, int32_t tokens) {
  for (int64_t ns : r.samples_ns) r.samples_ts.push_back(1e9 * tokens / static_cast<double>(std::max<int64_t>(ns, 1)));
  const double n = static_cast<double>(r.samples_ts.size());
  r.avg_ts = std::accumulate(r.samples_ts.begin(), r.samples_ts.end(), 0.0) / n;
  if (r.samples_ts.size() > 1) {
    double ss = 0.0;
    for (double v : r.samples_ts) ss += (v - r.avg_ts) * (v - r.avg_ts);
    r.stddev_ts = std::sqrt(ss / (n - 1.0));
  }
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

}  // namespace

std::string BenchRecord::test_name() const {
  const std::string test = n_prompt > 0 ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
  return n_depth > 0 ? test + " @ d" + std::to_string(n_depth) : test;
}

uint64_t weights_bytes_per_token(const gguf::GgufFile& file) {
  const std::string embedding_name = tensor_name(TensorKind::kTokenEmbedding);
  const bool tied = file.find_tensor(tensor_name(TensorKind::kOutput)) == nullptr;
  // A mixture of experts streams only the experts a token is routed to: expert_used_count of
  // expert_count of every 3-D expert tensor (the ACTIVE weights).
  const std::string arch = file.get_string("general.architecture").value_or("");
  const int64_t num_experts = file.get_int(arch + ".expert_count").value_or(0);
  const int64_t num_used = file.get_int(arch + ".expert_used_count").value_or(0);
  uint64_t total = 0;
  for (const auto& t : file.tensors()) {
    const std::optional<ParsedTensorName> parsed = parse_tensor_name(t.name);
    const bool expert = parsed && (parsed->kind == TensorKind::kFfnGateExps || parsed->kind == TensorKind::kFfnUpExps ||
                                   parsed->kind == TensorKind::kFfnDownExps);
    if (t.name == embedding_name) {
      const int64_t rows = t.shape.size() >= 2 ? t.shape[1] : 1;
      total += tied ? t.num_bytes : t.num_bytes / static_cast<uint64_t>(std::max<int64_t>(rows, 1));
    } else if (expert && num_experts > 0 && num_used > 0) {
      total += t.num_bytes / static_cast<uint64_t>(num_experts) * static_cast<uint64_t>(num_used);
    } else {
      total += t.num_bytes;
    }
  }
  return total;
}

Expected<std::vector<BenchRecord>> run_bench(const BenchParams& p) {
  if (p.n_prompt < 0 || p.n_gen < 0 || p.n_depth < 0) return invalid_argument("-p, -n and -d must be >= 0");
  if (p.n_prompt == 0 && p.n_gen == 0) return invalid_argument("nothing to run: -p and -n are both 0");
  if (p.repetitions < 1) return invalid_argument("-r must be >= 1");
  if (p.n_threads < 0 || p.n_threads > 1024) return invalid_argument("-t must be between 1 and 1024");
  const unsigned hw = std::thread::hardware_concurrency();
  const int threads = p.n_threads > 0 ? p.n_threads : static_cast<int>(hw == 0 ? 1 : hw);
  kernels::ExecutionContext execution(threads);  // owns the pool
  ThreadPool& pool = execution.pool();

  // The depth is filled in chunks of at most kDepthChunk tokens.
  constexpr int32_t kDepthChunk = 512;
  const int64_t longest = static_cast<int64_t>(p.n_depth) + std::max({p.n_prompt, p.n_gen, 1});
  if (longest > (int64_t{1} << 20)) return invalid_argument("-d plus the longer test must be at most 1048576 tokens");
  ModelOptions options;
  options.max_batch_tokens = std::max({1, p.n_prompt, std::min(p.n_depth, kDepthChunk)});
  options.max_context = static_cast<int32_t>(longest);
  options.parallel = p.parallel;
  auto loaded = Model::load(p.model_path, options);
  if (!loaded.ok()) return loaded.status();
  Model& model = **loaded;
  const ModelConfig& c = model.config();
  TS_RETURN_IF_ERROR(check_kv_cache_type(p.kv_type, c.head_dim));
  // NOTE: only with a depth, so that plain pp / tg tests keep running past a small trained
  // context as they always did (llama-bench sizes n_ctx to the test, too).
  if (p.n_depth > 0 && longest > c.context_length) {
    return invalid_argument("-d " + std::to_string(p.n_depth) + " plus the longer test (" +
                            std::to_string(longest - p.n_depth) + " tokens) exceeds the model's context length " +
                            std::to_string(c.context_length));
  }
  const int32_t context = options.max_context;
  const int32_t num_blocks = (context + kBlockSize - 1) / kBlockSize;
  KvStorage kv(c.num_layers, num_blocks, kBlockSize, model.kv_cache_heads(), c.head_dim, p.kv_type);
  std::vector<int32_t> block_table(static_cast<size_t>(num_blocks));
  std::iota(block_table.begin(), block_table.end(), 0);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  std::mt19937_64 rng(p.seed);
  std::uniform_int_distribution<int32_t> token(0, c.vocab_size - 1);

  BenchRecord base;
  base.model_filename = std::filesystem::path(p.model_path).filename().string();
  for (const auto& t : model.file().tensors()) {
    base.model_size += t.num_bytes;
    base.model_n_params += static_cast<uint64_t>(t.num_elements());
  }
  base.model_type = c.architecture + " " + params_label(base.model_n_params) + " " + file_type_label(model.file());
  base.n_threads = threads;
  base.n_depth = p.n_depth;
  base.kv_type = p.kv_type;
  for (const Model::RankStats& rank : model.rank_stats()) base.rank_weight_bytes.push_back(rank.resident_weight_bytes);
  // Bytes each rank sent since `before` (a snapshot of the same).
  auto bytes_sent_since = [&model](const std::vector<int64_t>& before) {
    std::vector<int64_t> sent;
    for (const Model::RankStats& rank : model.rank_stats()) sent.push_back(rank.bytes_sent);
    for (size_t i = 0; i < before.size() && i < sent.size(); ++i) sent[i] -= before[i];
    return sent;
  };

  std::vector<BenchRecord> records;
  ForwardBatch batch;
  // The depth's context, once: the tests only write the positions after it.
  std::vector<int32_t> chunk;
  for (int32_t start = 0; start < p.n_depth; start += kDepthChunk) {
    chunk.resize(static_cast<size_t>(std::min(kDepthChunk, p.n_depth - start)));
    for (int32_t& t : chunk) t = token(rng);
    batch.clear();
    batch.add_sequence(chunk, start, block_table, kBlockSize, /*want_logits=*/true);
    model.forward(batch, kv, logits.data(), execution);
  }
  if (p.n_prompt > 0) {
    BenchRecord r = base;
    r.n_prompt = p.n_prompt;
    std::vector<int32_t> prompt(static_cast<size_t>(p.n_prompt));
    for (int rep = -1; rep < p.repetitions; ++rep) {  // rep -1: warm-up
      for (int32_t& t : prompt) t = token(rng);
      batch.clear();
      batch.add_sequence(prompt, p.n_depth, block_table, kBlockSize, /*want_logits=*/true);
      const int64_t start = now_us();
      model.forward(batch, kv, logits.data(), execution);
      if (rep >= 0) r.samples_ns.push_back((now_us() - start) * 1000);
      if (rep == -1) r.rank_bytes_sent = bytes_sent_since({});
    }
    r.rank_bytes_sent = bytes_sent_since(r.rank_bytes_sent);
    finish(r, p.n_prompt);
    records.push_back(std::move(r));
  }
  if (p.n_gen > 0) {
    BenchRecord r = base;
    r.n_gen = p.n_gen;
    for (int rep = -1; rep < p.repetitions; ++rep) {
      // Best of 5 passes: the machine is shared. NOTE: the probe's buffer is freed before the
      // repetition starts.
      if (rep >= 0) r.read_gbs_samples.push_back(measure_read_bandwidth_gbs(pool, p.bandwidth_bytes, /*repeats=*/5));
      const int32_t steps = rep < 0 ? std::min(p.n_gen, 8) : p.n_gen;  // a short warm-up
      int32_t next = token(rng);
      const int64_t start = now_us();
      for (int32_t pos = p.n_depth; pos < p.n_depth + steps; ++pos) {
        batch.clear();
        const int32_t one[1] = {next};
        batch.add_sequence(one, pos, block_table, kBlockSize, /*want_logits=*/true);
        model.forward(batch, kv, logits.data(), execution);
        next = token(rng);  // like llama-bench: a random next token, no sampling cost
      }
      if (rep >= 0) r.samples_ns.push_back((now_us() - start) * 1000);
      if (rep == -1) r.rank_bytes_sent = bytes_sent_since({});
    }
    r.rank_bytes_sent = bytes_sent_since(r.rank_bytes_sent);
    finish(r, p.n_gen);
    // NOTE: a parallel job's roofline is rank 0's: the bytes it reads per token (its resident
    // shard and the output head) against its own threads' bandwidth. The whole model's bytes
    // against one rank's probe would read as far above 100%.
    r.weights_bytes_per_token = r.rank_weight_bytes.size() > 1 ? static_cast<uint64_t>(r.rank_weight_bytes[0])
                                                              : weights_bytes_per_token(model.file());
    // Step at position q reads q + 1 positions of K and V in every layer: mean depth + (n_gen + 1) / 2.
    const uint64_t kv_bytes_per_position =
        static_cast<uint64_t>(c.num_layers) * static_cast<uint64_t>(model.kv_cache_heads()) *
        (kernels::kv_row_bytes(p.kv_type.k, c.head_dim) + kernels::kv_row_bytes(p.kv_type.v, c.head_dim));
    r.kv_bytes_per_token = kv_bytes_per_position * (2ull * static_cast<uint64_t>(p.n_depth) + static_cast<uint64_t>(p.n_gen) + 1) / 2;
    for (size_t i = 0; i < r.samples_ts.size(); ++i) {
      const double gbs = r.read_gbs_samples[i];
      r.roofline_pct_samples.push_back(
          gbs > 0 ? 100.0 * static_cast<double>(r.weights_bytes_per_token) * r.samples_ts[i] / (gbs * 1e9) : 0.0);
    }
    r.measured_read_gbs = median(r.read_gbs_samples);
    r.roofline_pct = median(r.roofline_pct_samples);
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace tessera
