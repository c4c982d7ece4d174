// EngineCore: the engine loop's state: the model, the KV pool's tensors, the scheduler and the
// model runner, and the mapping from public requests (n completions each) to scheduler requests.
// step() = schedule -> run -> update. Only the thread calling it may touch scheduler or KV state.
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
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  Expected<EngineRequestId> add_request(std::span<const int32_t> prompt_token_ids, const GenerationParams& params);
  Status abort(EngineRequestId request_id);
  std::vector<RequestOutput> step();
  bool has_unfinished_requests() const { return scheduler_->has_unfinished_requests() || !pending_outputs_.empty(); }

  EngineStats stats() const;
  const Scheduler& scheduler() const { return *scheduler_; }
  const Model& model() const { return *model_; }
  int32_t eos_token_id() const { return eos_token_id_; }
  const std::vector<int32_t>& eog_token_ids() const { return eog_token_ids_; }

 private:
  EngineCore() = default;
  void record_step_metrics(const SchedulerOutput& scheduler_output, const RunnerOutput& runner_output);
  // Ends every live completion of a public request, reporting `reason` at the next step().
  void abort_with_reason(EngineRequestId request_id, FinishReason reason);
  // Ends the requests whose timeout_ms has passed (FinishReason::kTimeout).
  void expire_deadlines();

  // One completion of a public request, as the scheduler's request `RequestId` runs it.
  struct Completion {
    EngineRequestId parent_id = 0;  // the id add_request returned
    int32_t index = 0;              // 0..n-1
  };

  std::unique_ptr<Model> model_;
  std::unique_ptr<KvStorage> kv_storage_;  // K and V of every layer and block (EngineConfig::kv_cache_type)
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Scheduler> scheduler_;
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
