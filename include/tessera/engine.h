// Engine: the public entry point for serving many requests on one model. Callers add requests,
// call step() (or let a loop do it) and read each completion's new tokens from the outputs.
// Hides the scheduler, KV cache, model runner and model behind one small API.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"  // NOTE: Status/Expected are shared with src/base until status.h moves here
#include "tessera/request.h"
#include "tessera/sampling_params.h"

namespace tessera {

class EngineCore;

// Element type of the KV cache (llama.cpp's --cache-type-k/-v, vLLM's --kv-cache-dtype). f16, llama.cpp's
// default, halves the KV memory and what attention streams per step; f32 keeps K/V exactly as
// computed (the golden comparisons against llama.cpp's greedy_kv_f32 runs use it).
// q8_0 / q4_0 store each position's K and V rows of a kv head in ggml's 32-value blocks (an f16
// scale and int8 values or nibbles: 8.5 / 4.5 bits a value), so the same kv_cache_memory holds
// ~1.9x / ~3.5x the tokens of f16; the head size must be a multiple of 32.
enum class KvCacheType { kF16, kF32, kQ8_0, kQ4_0 };

// Speculative decoding (docs/speculative.md): drafts proposed cheaply, verified in the ordinary
// batched forward; outputs keep the target model's exact distribution.
enum class SpecMethod { kNone, kNgram, kDraft };
inline constexpr int32_t kAdaptiveSpecTokens = -1;  // SpeculativeConfig::num_spec_tokens: adaptive k
inline constexpr int32_t kMaxSpecTokens = 32;       // k beyond this only wastes compute (and blocks)

struct SpeculativeConfig {
  SpecMethod method = SpecMethod::kNone;
  // Drafts per request per step: 1..kMaxSpecTokens, or kAdaptiveSpecTokens (k per request from its
  // acceptance rate and the step's load, at most max_adaptive_spec_tokens).
  int32_t num_spec_tokens = kAdaptiveSpecTokens;
  int32_t max_adaptive_spec_tokens = 8;
  int32_t ngram_min = 2;                // n-gram method: shortest suffix looked up, >= 1
  int32_t ngram_max = 4;                // longest, >= ngram_min
  std::string draft_model_path;         // draft method: a smaller GGUF with the target's vocabulary
};

struct EngineConfig {
  std::string model_path;               // GGUF file
  int64_t kv_cache_memory_bytes = 0;    // KV pool budget; 0 = kv_cache_memory_fraction of free RAM
  double kv_cache_memory_fraction = 0.1;// of MemAvailable, when no byte budget is given
  int32_t block_size = 16;              // tokens per KV block
  KvCacheType kv_cache_type = KvCacheType::kF16;
  // K's or V's type when it differs (llama.cpp's --cache-type-k / -v): both must then be q8_0 or
  // q4_0. K is the sensitive half: q8_0 K with q4_0 V (6.5 bits a value) costs TinyStories-656K
  // +0.6% perplexity where q4_0 for both costs +4.9% (docs/performance.md).
  std::optional<KvCacheType> kv_cache_type_k, kv_cache_type_v;
  int32_t max_num_seqs = 64;            // running requests at most
  int32_t max_num_batched_tokens = 2048;// tokens of one step at most, over all requests
  int32_t max_model_len = 0;            // prompt + output of one request at most; 0 = the model's context
  bool enable_prefix_caching = true;
  // Sliding-window layers (gemma3) release the KV blocks their window has passed, in their own KV
  // cache groups; off: every layer keeps every block (the attention masks the same either way).
  bool release_sliding_window_blocks = true;
  int32_t max_waiting_requests = 4096;  // completions waiting for admission at most (a request of n counts n),
                                        // preempted ones included; add_request beyond it: kResourceExhausted; 0 = no limit
  int32_t num_threads = 1;              // threads of the forward pass
  // Split the model across the ranks of an MPI job (docs/distributed.md): T x P must equal the
  // processes mpirun started; rank 0 runs the engine, the others model::run_worker().
  int32_t tensor_parallel_size = 1;
  int32_t pipeline_parallel_size = 1;
  SpeculativeConfig speculative;        // off by default
};

// Counters over the engine's life, for benchmarks and tests.
struct EngineStats {
  int32_t num_kv_blocks = 0;            // blocks in the pool, the null block included
  int32_t num_free_kv_blocks = 0;       // free now (cached-but-unreferenced blocks count as free)
  int32_t num_cached_kv_blocks = 0;     // blocks holding a prefix-cache key now (in use or free and reusable)
  int32_t peak_kv_blocks_in_use = 0;    // most blocks referenced at the end of any step
  int64_t kv_block_bytes = 0;           // K and V bytes of one block (its KV cache group's layers)
  int32_t num_kv_cache_groups = 0;      // block tables per request (several with sliding-window layers)
  int64_t num_steps = 0;                // steps that ran a forward pass
  // Pipeline parallelism: steps launched while another virtual engine's step was still in flight
  // (so two pipeline stages worked at once); 0 otherwise.
  int64_t num_pipelined_steps = 0;
  int32_t num_steps_in_flight = 0;      // launched and not yet collected now (between steps: pipeline parallelism only)
  int64_t num_preemptions = 0;          // requests preempted, summed over steps
  int64_t num_prompt_tokens = 0;        // prompt tokens of admitted completions
  int64_t num_computed_tokens = 0;      // tokens run through the model (recompute included)
  int64_t num_output_tokens = 0;        // tokens sampled
  double prefix_cache_hit_rate = 0.0;   // hit tokens / queried tokens at admission
  int64_t prefix_cache_queries = 0;     // prompt tokens looked up in the prefix cache at admission
  int64_t prefix_cache_hits = 0;        // of those, tokens found there
  int32_t num_running_requests = 0;     // scheduler requests (completions) running now
  int32_t num_waiting_requests = 0;     // scheduler requests (completions) waiting for admission now
  double kv_waste = 0.0;                // share of allocated KV slots holding no token, mean over steps
  // Mixture of experts (0 for dense models): MoE layer calls, the experts they read (each chosen
  // expert once per call, however many tokens chose it) and the (token, expert) rows computed.
  int64_t moe_layer_calls = 0;
  int64_t moe_expert_reads = 0;
  int64_t moe_routed_rows = 0;
  // Speculative decoding, vLLM's counters: verification runs (a request with >= 1 draft in a step),
  // draft tokens verified, of those accepted, and accepted per draft position (index 0 = first draft).
  int64_t spec_num_drafts = 0;
  int64_t spec_num_draft_tokens = 0;
  int64_t spec_num_accepted_tokens = 0;
  std::vector<int64_t> spec_num_accepted_tokens_per_pos;
};

// Checks a speculative config built from user flags (k range, n-gram sizes, the draft's path).
Status validate_speculative_config(const SpeculativeConfig& config);

class Engine {
 public:
  static Expected<std::unique_ptr<Engine>> create(const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request of params.n completions; rejects malformed ones and ones that could never fit.
  Expected<EngineRequestId> add_request(std::span<const int32_t> prompt_token_ids, const GenerationParams& params);
  // Ends every completion of the request and frees its blocks; NotFound when unknown or finished.
  Status abort(EngineRequestId request_id);
  // One iteration: schedule, run the model once over all scheduled tokens, sample, update.
  // Returns what each completion that ran (or was aborted) got this step.
  std::vector<RequestOutput> step();
  bool has_unfinished_requests() const;

  EngineStats stats() const;
  // Per rank of a tensor/pipeline-parallel job (one entry for a single process): resident weight
  // bytes and payload bytes sent since load. Asks every rank: call it from the thread that steps.
  struct RankStats {
    int64_t resident_weight_bytes = 0;
    int64_t bytes_sent = 0;
  };
  std::vector<RankStats> rank_stats();
  int32_t vocab_size() const;
  int32_t eos_token_id() const;
  // Every id that ends a completion (EOS, end of turn, ...; the tokenizer's eog_ids()), ascending.
  const std::vector<int32_t>& eog_token_ids() const;
  int32_t max_model_len() const;  // prompt + output tokens of one request at most

 private:
  explicit Engine(std::unique_ptr<EngineCore> core);
  std::unique_ptr<EngineCore> core_;
};

}  // namespace tessera
