// EngineCore: the engine loop's state: the model, the KV pool's tensors, the scheduler and the
// model runner, and the mapping from public requests (n completions each) to scheduler requests.
// step() = schedule -> run -> update. Only the thread calling it may touch scheduler or KV state.
// Under pipeline parallelism (P stages) there are P schedulers, "virtual engines" (vLLM v0's),
// each with its own requests and share of the KV pool, and up to one step of each in flight:
// while the later stages run one virtual engine's batch, stage 0 runs the next one's
// (docs/distributed.md, "Steps in flight").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/thread_pool.h"
#include "model/kv_storage.h"
#include "model/model.h"
#include "runtime/model_runner.h"
#include "sched/scheduler.h"
#include "tessera/engine.h"

namespace tessera {

// The element type of a KV cache of `type` (KvStorage's).
DType kv_cache_dtype(KvCacheType type);
// K's and V's element types: `type`, or the K / V overrides.
KvTypes kv_cache_dtypes(KvCacheType type, const std::optional<KvCacheType>& k, const std::optional<KvCacheType>& v);
inline KvTypes kv_cache_dtypes(const EngineConfig& config) {
  return kv_cache_dtypes(config.kv_cache_type, config.kv_cache_type_k, config.kv_cache_type_v);
}

// Blocks a KV pool gets from the config: a byte budget (or a share of free RAM), capped at what
// max_num_seqs requests of max_model_len tokens could ever use, plus the null block.
// blocks_per_seq: the most blocks one sequence can hold (over all KV cache groups), which bounds
// the useful pool at max_num_seqs sequences.
Expected<int32_t> compute_num_kv_blocks(const EngineConfig& config, size_t bytes_per_block, int64_t blocks_per_seq);

class EngineCore {
 public:
  static Expected<std::unique_ptr<EngineCore>> create(const EngineConfig& config);
  ~EngineCore();  // collects the steps still in flight (the workers are running them)
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  Expected<EngineRequestId> add_request(std::span<const int32_t> prompt_token_ids, const GenerationParams& params);
  Status abort(EngineRequestId request_id);
  // With one virtual engine: schedule, run, update. With P: the next virtual engine in turn
  // collects its step in flight (update, outputs), then schedules and launches its next step.
  std::vector<RequestOutput> step();
  bool has_unfinished_requests() const;

  EngineStats stats() const;
  // Model::rank_stats, after collecting every step in flight (their outputs come with the next
  // step()): the workers answer only once they have finished the forwards sent before.
  std::vector<Model::RankStats> rank_stats();
  // The first virtual engine's scheduler (the only one without pipeline parallelism).
  const Scheduler& scheduler() const { return *virtual_engines_.front().scheduler; }
  const Model& model() const { return *model_; }
  int32_t eos_token_id() const { return eos_token_id_; }
  const std::vector<int32_t>& eog_token_ids() const { return eog_token_ids_; }

 private:
  // A scheduler with its share of the KV pool, and its step in flight.
  struct VirtualEngine {
    std::unique_ptr<Scheduler> scheduler;
    int32_t block_id_offset = 0;                // its block b is the KV storage's block b + offset
    std::optional<SchedulerOutput> in_flight;  // launched, not yet collected
  };

  EngineCore() = default;
  // Schedules virtual engine v's next step and starts it on the runner (slot v).
  void launch_step(size_t v);
  // Finishes virtual engine v's step in flight, if any: samples, updates its scheduler, appends
  // what each completion got to `outputs`.
  void collect_step(size_t v, std::vector<RequestOutput>& outputs);
  // Collects every step in flight, oldest first (the order the last stage returns them in); their
  // outputs go to pending_outputs_.
  void collect_all_steps();
  // The virtual engine a new request joins: the one with the fewest unfinished requests.
  size_t least_loaded_virtual_engine() const;
  int32_t num_waiting_requests() const;  // over every virtual engine
  // The outputs of one collected step, from its scheduler's updates.
  void append_outputs(const SchedulerOutput& scheduler_output, const RunnerOutput& runner_output,
                      const std::vector<RequestUpdate>& updates, std::vector<RequestOutput>& outputs);
  void record_step_metrics(const Scheduler& scheduler, const SchedulerOutput& scheduler_output,
                           const RunnerOutput& runner_output);
  // Ends every live completion of a public request, reporting `reason` at the next step().
  void abort_with_reason(EngineRequestId request_id, FinishReason reason);
  // Ends the requests whose timeout_ms has passed (FinishReason::kTimeout).
  void expire_deadlines();

  // One completion of a public request, as the scheduler's request `RequestId` runs it.
  struct Completion {
    EngineRequestId parent_id = 0;  // the id add_request returned
    int32_t index = 0;              // 0..n-1
    size_t virtual_engine = 0;      // whose scheduler runs it (all n of a request share one)
  };

  std::unique_ptr<Model> model_;
  std::unique_ptr<KvStorage> kv_storage_;  // K and V of every layer and block (EngineConfig::kv_cache_type)
  std::unique_ptr<ThreadPool> pool_;
  // One per pipeline stage (one without pipeline parallelism); step() takes them in turn.
  std::vector<VirtualEngine> virtual_engines_;
  size_t next_virtual_engine_ = 0;
  std::unique_ptr<ModelRunner> runner_;
  int32_t eos_token_id_ = -1;  // from the GGUF vocabulary; -1 = none
  std::vector<int32_t> eog_token_ids_;  // every id that ends generation (EOS, end of turn, ...), ascending

  std::unordered_map<RequestId, Completion> completions_;                 // live scheduler requests
  std::unordered_map<EngineRequestId, std::vector<RequestId>> children_;  // live public requests
  std::vector<RequestOutput> pending_outputs_;  // aborts, reported by the next step()
  std::unordered_map<EngineRequestId, int64_t> deadlines_us_;  // live requests with a timeout: now_us() deadline
  int32_t max_waiting_requests_ = 0;            // EngineConfig::max_waiting_requests; 0 = no limit
  EngineRequestId next_request_id_ = 1;
  RequestId next_completion_id_ = 1;

  EngineStats stats_;
  double kv_waste_sum_ = 0.0;     // sum over steps of that step's waste share
  int64_t num_waste_steps_ = 0;   // steps with allocated slots
};

}  // namespace tessera
