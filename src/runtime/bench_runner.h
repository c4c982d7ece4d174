// BenchRunner: llama-bench-style speed tests of one model. A pp test is one forward of n_prompt
// random tokens into an empty KV cache (logits of the last token only); a tg test is n_gen
// single-token forwards from position 0. With a depth (llama-bench's -d) the KV cache first holds
// n_depth tokens of random context (filled once, untimed) and both tests start at that position. Each test runs once as a warm-up, then `repetitions`
// times; avg_ts / stddev_ts are the mean and sample standard deviation of the per-repetition
// tokens/s, as llama-bench defines them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "model/parallel.h"
#include "model/kv_storage.h"
#include "tensor/dtype.h"

namespace tessera {

struct BenchParams {
  std::string model_path;
  int32_t n_prompt = 128;    // 0: no pp test
  int32_t n_gen = 64;        // 0: no tg test
  int32_t n_depth = 0;       // tokens already in the KV cache when each test starts
  int32_t n_threads = 0;     // 0: all cores
  int32_t repetitions = 5;
  size_t bandwidth_bytes = size_t{1} << 30;  // buffer of the read-bandwidth measurement (tg only)
  uint64_t seed = 1234;      // of the random token ids
  KvTypes kv_type = DType::kF16;  // KV cache element types (K and V), llama-bench's type_k / type_v
  ParallelConfig parallel;       // tensor / pipeline parallelism across an MPI job (docs/distributed.md)
};

struct BenchRecord {
  std::string model_filename;
  std::string model_type;    // "llama 135M Q8_0" ({arch} {params} {file type}), like llama-bench
  uint64_t model_size = 0;   // bytes of all tensors
  uint64_t model_n_params = 0;
  int32_t n_prompt = 0;
  int32_t n_gen = 0;
  int32_t n_depth = 0;
  int32_t n_threads = 0;
  KvTypes kv_type = DType::kF16;
  std::vector<int64_t> samples_ns;  // wall time of each repetition
  std::vector<double> samples_ts;   // tokens/s of each repetition
  double avg_ts = 0.0;
  double stddev_ts = 0.0;
  // tg only (0 for pp): weight bytes read per token (rank 0's resident weights in a parallel job)
  uint64_t weights_bytes_per_token = 0;
  // K and V bytes attention reads per generated token, averaged over the test's positions. Not
  // in roofline_pct (weights only): it matters at depth.
  uint64_t kv_bytes_per_token = 0;
  // tg: the read bandwidth is measured right before every repetition (this VM's bandwidth drifts
  // by tens of percent within minutes), and each repetition is set against its own probe.
  std::vector<double> read_gbs_samples;      // one probe per repetition
  std::vector<double> roofline_pct_samples;  // weights_bytes_per_token * samples_ts[i] / read_gbs_samples[i], in %
  double measured_read_gbs = 0.0;   // median of read_gbs_samples
  double roofline_pct = 0.0;        // median of roofline_pct_samples
  // Per rank of a parallel job (one entry for a single process): resident weight bytes, and the
  // payload bytes it sent during the timed repetitions.
  std::vector<int64_t> rank_weight_bytes;
  std::vector<int64_t> rank_bytes_sent;

  std::string test_name() const;  // "pp128" or "tg64", with " @ d512" at depth 512
};

// Bytes of weights one decoded token streams: every matrix, one embedding row (the whole table
// when tied, as the output head), and of expert tensors only the routed share (used / count).
uint64_t weights_bytes_per_token(const gguf::GgufFile& file);

// Runs the pp test (when n_prompt > 0) and the tg test (when n_gen > 0), in that order.
Expected<std::vector<BenchRecord>> run_bench(const BenchParams& params);

}  // namespace tessera
