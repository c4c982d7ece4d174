// Kernel micro-benchmarks (Google Benchmark), for the measurements in docs/performance.md that
// earlier sessions made with throwaway programs:
//  - the repacked Q8_0 GEMM (kernels::matmul) at decode and prefill token counts, with weights
//    cycled over enough copies (64 MiB) that each call streams them from DRAM, as a model does;
//  - decode (one token) of every 4-bit-model format (Q4_0, Q4_K, Q5_K, Q6_K, Q8_0) at
//    TinyLlama's FFN shape over 256 MiB of copies, as weight bytes per second, next to the read
//    bandwidth probe of `tessera bench` (BM_ReadBandwidth): their ratio is the roofline share;
//    and the same formats from L2 at 1 and 64 tokens (the kernels' compute ceiling);
//  - one decode step's paged attention at SmolLM-135M's geometry (9 heads / 3 kv heads, head_dim
//    64, f16, block 16, 30 layers; 64 sequences x 1 query at position 159, 236 MB of K/V), with
//    the K/V read from DRAM or from cache (every sequence on the same blocks);
//  - a prefill's paged attention (8 sequences x 128 queries);
//  - one decode query deep in the context at TinyLlama-1.1B's geometry (32 heads / 4 kv heads,
//    head_dim 64, 22 layers) with an f16, q8_0 or q4_0 cache: the attention `bench -d` adds per
//    token.
// items_per_second is multiply-adds per second (GEMM) or query tokens per second (attention);
// bytes_per_second of the decode benchmarks counts weight bytes.
// Run: build/bench/tessera_microbench [--benchmark_filter=REGEX] [--benchmark_repetitions=N]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/huge_page_buffer.h"
#include "base/memory_bandwidth.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

// ---- Q8_0 GEMM ----

// Copies of one random rows x cols matrix of `type` (repacked where the ISA prefers it), back to
// back, at least min_total_bytes of them.
struct QuantWeights {
  HugePageBuffer bytes;
  std::vector<MatrixView> views;
  size_t matrix_bytes = 0;
  QuantWeights(DType type, int64_t rows, int64_t cols, size_t min_total_bytes) {
    const size_t row_stride = row_bytes(type, cols);
    matrix_bytes = row_stride * static_cast<size_t>(rows);
    const size_t copies = std::max<size_t>(1, (min_total_bytes + matrix_bytes - 1) / matrix_bytes);
    std::vector<float> values(static_cast<size_t>(cols));
    std::vector<uint8_t> plain(matrix_bytes);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : values) v = dist(rng);
      quantize_row_ref(type, values.data(), plain.data() + row_stride * static_cast<size_t>(r), cols);
    }
    const MatrixView source{type, rows, cols, plain.data(), row_stride};
    bytes = HugePageBuffer(matrix_bytes * copies);
    for (size_t c = 0; c < copies; ++c) {
      uint8_t* dst = bytes.data() + matrix_bytes * c;
      if (kernels::prefers_repacked(source)) {
        views.push_back(kernels::repack_weight(source, dst));
      } else {
        std::memcpy(dst, plain.data(), matrix_bytes);
        views.push_back({type, rows, cols, dst, row_stride});
      }
    }
  }
};

// Args: rows, cols, tokens, threads.
void BM_Q8_0Gemm(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), tokens = state.range(2);
  ThreadPool pool(static_cast<int>(state.range(3)));
  const QuantWeights weights(DType::kQ8_0, rows, cols, size_t{64} << 20);
  std::vector<float> x(static_cast<size_t>(tokens * cols)), out(static_cast<size_t>(tokens * rows));
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  AlignedBuffer<uint8_t> scratch(kernels::matmul_scratch_bytes(DType::kQ8_0, cols, tokens));
  size_t next = 0;
  for (auto _ : state) {
    kernels::matmul(weights.views[next], x.data(), tokens, out.data(), scratch.data(), pool);
    next = (next + 1) % weights.views.size();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols * tokens);
}
BENCHMARK(BM_Q8_0Gemm)
    ->ArgNames({"rows", "cols", "tokens", "threads"})
    ->ArgsProduct({{1536}, {576}, {1, 64, 2048}, {1, 2}})
    ->Args({576, 1536, 64, 2})
    ->Args({576, 1536, 2048, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- Decode (one token) per weight format, against the read bandwidth ----

// Args: weight DType id, rows, cols, tokens, threads, MiB of copies (0: one copy, which a small
// matrix keeps in L2: the kernel's compute ceiling, best read as CPU time under a shared host's
// load).
void BM_QuantGemm(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), tokens = state.range(3);
  ThreadPool pool(static_cast<int>(state.range(4)));
  const QuantWeights weights(type, rows, cols, static_cast<size_t>(state.range(5)) << 20);
  std::vector<float> x(static_cast<size_t>(tokens * cols)), out(static_cast<size_t>(tokens * rows));
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  AlignedBuffer<uint8_t> scratch(std::max<size_t>(64, kernels::matmul_scratch_bytes(type, cols, tokens)));
  size_t next = 0;
  for (auto _ : state) {
    kernels::matmul(weights.views[next], x.data(), tokens, out.data(), scratch.data(), pool);
    next = (next + 1) % weights.views.size();
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(dtype_name(type)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * weights.matrix_bytes));
}
constexpr int64_t kDecodeTypes[] = {static_cast<int64_t>(DType::kQ4_0), static_cast<int64_t>(DType::kQ5_0), static_cast<int64_t>(DType::kQ4_K),
                                     static_cast<int64_t>(DType::kQ5_K), static_cast<int64_t>(DType::kQ6_K),
                                     static_cast<int64_t>(DType::kQ8_0)};
BENCHMARK(BM_QuantGemm)
    ->ArgNames({"type", "rows", "cols", "tokens", "threads", "MiB"})
    ->ArgsProduct({{std::begin(kDecodeTypes), std::end(kDecodeTypes)}, {5632}, {2048}, {1}, {1, 2}, {256}})
    ->ArgsProduct({{std::begin(kDecodeTypes), std::end(kDecodeTypes)}, {256}, {2048}, {1, 64}, {1}, {0}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The probe of `tessera bench` (base/memory_bandwidth.h), 1 GiB, as bytes per second.
void BM_ReadBandwidth(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  double gbs = 0.0;
  for (auto _ : state) gbs = measure_read_bandwidth_gbs(pool, size_t{1} << 30, 3);
  state.counters["probe_GBps"] = gbs;
}
BENCHMARK(BM_ReadBandwidth)->ArgNames({"threads"})->Arg(1)->Arg(2)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- Paged attention, SmolLM-135M geometry ----

constexpr int kLayers = 30, kKvHeads = 3, kHeads = 9, kHeadDim = 64, kBlockSize = 16;

struct AttentionSetup {
  int32_t num_blocks;
  size_t layer_elements;
  HugePageBuffer k, v;
  std::vector<std::vector<int32_t>> tables;
  std::vector<std::vector<int32_t>> positions;
  std::vector<float> q, out, scores;
  std::vector<kernels::AttentionSequence> batch;

  // `queries` consecutive queries per sequence ending at position `last`; `shared_blocks`: every
  // sequence reads the same blocks (cache-resident K/V) instead of its own.
  AttentionSetup(int num_sequences, int queries, int32_t last, bool shared_blocks) {
    const int32_t blocks_per_sequence = (last + kBlockSize) / kBlockSize;
    num_blocks = num_sequences * blocks_per_sequence + 1;
    layer_elements = static_cast<size_t>(num_blocks) * kKvHeads * kHeadDim * kBlockSize;
    const size_t bytes = layer_elements * kLayers * sizeof(uint16_t);
    k = HugePageBuffer(bytes);
    v = HugePageBuffer(bytes);
    std::mt19937 rng(1);
    for (auto* p : {reinterpret_cast<uint16_t*>(k.data()), reinterpret_cast<uint16_t*>(v.data())}) {
      for (size_t i = 0; i < layer_elements * kLayers; ++i) p[i] = static_cast<uint16_t>(0x3000 + (rng() & 0xff));
    }
    tables.resize(static_cast<size_t>(num_sequences));
    positions.resize(static_cast<size_t>(num_sequences));
    q.resize(static_cast<size_t>(num_sequences) * queries * kHeads * kHeadDim);
    out.resize(q.size());
    for (float& x : q) x = static_cast<float>(rng() % 1000) / 1000.0f - 0.5f;
    for (int s = 0; s < num_sequences; ++s) {
      // Block ids as a fresh pool hands them out: the first prefill's blocks in a run per
      // sequence, later ones interleaved across sequences.
      for (int32_t b = 0; b < blocks_per_sequence; ++b) {
        const int32_t id = shared_blocks ? 1 + b
                           : b < 8       ? 1 + 8 * s + b
                                         : 1 + 8 * num_sequences + (b - 8) * num_sequences + s;
        tables[s].push_back(id);
      }
      for (int t = 0; t < queries; ++t) positions[s].push_back(last - queries + 1 + t);
      const size_t offset = static_cast<size_t>(s) * queries * kHeads * kHeadDim;
      batch.push_back({q.data() + offset, positions[s], tables[s], out.data() + offset});
    }
  }

  void run(ThreadPool& pool) {
    for (int l = 0; l < kLayers; ++l) {
      const kernels::PagedKvLayer layer{reinterpret_cast<const uint16_t*>(k.data()) + layer_elements * l,
                                        reinterpret_cast<const uint16_t*>(v.data()) + layer_elements * l,
                                        kBlockSize, kKvHeads, kHeadDim, DType::kF16};
      kernels::paged_attention_batch(batch, kHeads, layer, 1.0f / 8.0f, scores.data(), pool);
    }
  }
};

// Args: sequences, queries per sequence, last position, shared blocks, threads.
void BM_PagedAttention(benchmark::State& state) {
  AttentionSetup setup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                       static_cast<int32_t>(state.range(2)), state.range(3) != 0);
  ThreadPool pool(static_cast<int>(state.range(4)));
  setup.scores.resize(kernels::attention_scratch_floats(state.range(2) + 1, kHeads / kKvHeads, pool));
  for (auto _ : state) {
    setup.run(pool);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) * state.range(1));
}
BENCHMARK(BM_PagedAttention)
    ->ArgNames({"seqs", "queries", "last", "shared", "threads"})
    ->ArgsProduct({{64}, {1}, {159}, {0, 1}, {1, 2}})
    ->ArgsProduct({{8}, {128}, {127}, {0}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- Decode attention at depth, TinyLlama-1.1B geometry, any KV type ----

// One sequence's K/V for 22 layers (blocks 1.. in order, as a fresh pool hands them out), and one
// query at position `last`.
struct DepthAttentionSetup {
  static constexpr int kDepthLayers = 22, kDepthKvHeads = 4, kDepthHeads = 32;
  DType type;
  size_t layer_bytes = 0;
  HugePageBuffer k, v;
  std::vector<int32_t> table, positions;
  std::vector<float> q, out, scores;

  DepthAttentionSetup(DType kv_type, int32_t last, ThreadPool& pool) : type(kv_type) {
    const int32_t num_blocks = last / kBlockSize + 2;
    const size_t row_size = kernels::kv_row_bytes(type, kHeadDim);
    const size_t rows = static_cast<size_t>(num_blocks) * kDepthKvHeads * kBlockSize;
    layer_bytes = rows * row_size;
    k = HugePageBuffer(layer_bytes * kDepthLayers);
    v = HugePageBuffer(layer_bytes * kDepthLayers);
    std::mt19937 rng(1);
    std::vector<float> values(kHeadDim);
    std::vector<uint8_t> row(row_size);
    for (auto* base : {static_cast<uint8_t*>(k.data()), static_cast<uint8_t*>(v.data())}) {
      for (size_t r = 0; r < rows * kDepthLayers; ++r) {
        if (type == DType::kF16) {
          auto* values16 = reinterpret_cast<uint16_t*>(base + r * row_size);
          for (int d = 0; d < kHeadDim; ++d) values16[d] = static_cast<uint16_t>(0x3000 + (rng() & 0xff));
          continue;
        }
        for (float& x : values) x = static_cast<float>(rng() % 1000) / 1000.0f - 0.5f;
        if (base == v.data()) {
          quantize_activation_row(type, values.data(), base + r * row_size, kHeadDim);
          continue;
        }
        // K rows go to their place in the dimension-major layout (PagedKvLayer).
        const size_t layer = r / rows, slot = r % rows / kDepthKvHeads, head = r % kDepthKvHeads;
        const kernels::PagedKvLayer view{nullptr, nullptr, kBlockSize, kDepthKvHeads, kHeadDim, type};
        quantize_activation_row(type, values.data(), row.data(), kHeadDim);
        kernels::write_quantized_k_row(view, base + layer * layer_bytes, static_cast<int64_t>(slot),
                                       static_cast<int64_t>(head), row.data());
      }
    }
    for (int32_t b = 0; b <= last / kBlockSize; ++b) table.push_back(1 + b);
    positions.push_back(last);
    q.resize(static_cast<size_t>(kDepthHeads) * kHeadDim);
    out.resize(q.size());
    for (float& x : q) x = static_cast<float>(rng() % 1000) / 1000.0f - 0.5f;
    scores.resize(kernels::attention_scratch_floats(last + 1, kDepthHeads / kDepthKvHeads, pool));
  }

  void run(ThreadPool& pool) {
    for (int l = 0; l < kDepthLayers; ++l) {
      const kernels::PagedKvLayer layer{static_cast<const uint8_t*>(k.data()) + layer_bytes * l,
                                        static_cast<const uint8_t*>(v.data()) + layer_bytes * l, kBlockSize,
                                        kDepthKvHeads, kHeadDim, type};
      kernels::paged_attention(q.data(), 1, kDepthHeads, positions, layer, table, 1.0f / 8.0f, out.data(),
                               scores.data(), pool);
    }
  }
};

// Args: KV type (0 f16, 1 q8_0, 2 q4_0), last position, threads. Items: decode tokens.
void BM_DecodeAttentionAtDepth(benchmark::State& state) {
  const DType types[] = {DType::kF16, DType::kQ8_0, DType::kQ4_0};
  ThreadPool pool(static_cast<int>(state.range(2)));
  DepthAttentionSetup setup(types[state.range(0)], static_cast<int32_t>(state.range(1)), pool);
  for (auto _ : state) {
    setup.run(pool);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeAttentionAtDepth)
    ->ArgNames({"kv", "last", "threads"})
    ->ArgsProduct({{0, 1, 2}, {2015}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tessera

BENCHMARK_MAIN();
