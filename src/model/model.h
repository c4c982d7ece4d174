// Model: a loaded network that turns a ForwardBatch into logits, reading and writing KV through
// KvStorage. Every architecture (model/arch/) runs in the one decoder shell (decoder_model.h).
// Knows nothing about requests, scheduling or sampling.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "gguf/gguf_file.h"
#include "model/forward_batch.h"
#include "model/layers/layer_context.h"
#include "model/kv_storage.h"
#include "model/model_config.h"
#include "model/parallel.h"

namespace tessera {

struct ModelOptions {
  int32_t max_batch_tokens = 512;  // activations are sized for this many tokens per forward chunk
  int32_t max_context = 0;         // longest sequence the workspace must serve; 0 = config.context_length
  const kernels::Backend* backend = nullptr;  // where weights and workspace live; null = the CPU backend
  // Split across the ranks of an MPI job (model/parallel.h, docs/distributed.md); 1 x 1: this process only.
  ParallelConfig parallel;
};

class Model {
 public:
  virtual ~Model() = default;

  // Opens `path`, validates config and every weight's type and shape, and builds the model.
  static Expected<std::unique_ptr<Model>> load(const std::string& path, const ModelOptions& options = {});
  // Same over an already opened file (the model keeps it alive).
  static Expected<std::unique_ptr<Model>> load(std::shared_ptr<const gguf::GgufFile> file,
                                               const ModelOptions& options = {});

  const ModelConfig& config() const { return config_; }
  // KV heads this process's cache holds: config().num_kv_heads, or its shard under tensor parallelism.
  int32_t kv_cache_heads() const { return kv_cache_heads_ > 0 ? kv_cache_heads_ : config_.num_kv_heads; }
  const gguf::GgufFile& file() const { return *file_; }
  int32_t max_context() const { return max_context_; }

  // Runs every token of `batch`: writes its K/V at batch.slot_mapping and returns in `logits`
  // ([batch.logit_rows.size(), vocab_size] f32) the logits of the requested rows.
  virtual void forward(const ForwardBatch& batch, KvStorage& kv, float* logits, kernels::ExecutionContext& context) = 0;
  // forward() in two halves, so that the caller can start another batch before this one's logits
  // exist (pipeline parallelism: rank 0 runs stage 0 of the next batch while the later stages run
  // this one; docs/distributed.md). forward_launch writes this process's K/V and may return
  // before `logits` is written; forward_collect, with the same batch and logits, finishes it.
  // Between the two, other batches (on other KV blocks) may be launched and collected; batches
  // are collected in launch order, and `batch` and `logits` stay untouched until then. The
  // default runs the whole forward pass in forward_launch.
  virtual void forward_launch(const ForwardBatch& batch, KvStorage& kv, float* logits,
                              kernels::ExecutionContext& context) {
    forward(batch, kv, logits, context);
  }
  virtual void forward_collect(const ForwardBatch& /*batch*/, float* /*logits*/,
                               kernels::ExecutionContext& /*context*/) {}

  // Sees the f32 input of every weight matmul before it runs (layers/layer_context.h). For activation statistics (`tessera imatrix`);
  // unset (the default) it costs one branch per matmul.
  using MatmulInputObserver = tessera::MatmulInputObserver;

  // Mixture-of-experts work since load: shows that a step reads each chosen expert once.
  struct MoeStats {
    int64_t layer_calls = 0;   // MoE FFN calls (MoE layers x forward chunks)
    int64_t expert_reads = 0;  // experts whose weights those calls read (each at most once per call)
    int64_t routed_rows = 0;   // (token, expert) pairs those calls computed
  };
  virtual MoeStats moe_stats() const { return {}; }
  // Per rank of the job (one entry for a single process): the weight bytes it holds resident (its
  // slices, off the mmapped file) and the payload bytes it has sent to other ranks since load.
  struct RankStats {
    int64_t resident_weight_bytes = 0;
    int64_t bytes_sent = 0;
  };
  virtual std::vector<RankStats> rank_stats() const { return {}; }
  void set_matmul_input_observer(MatmulInputObserver observer) { matmul_input_observer_ = std::move(observer); }

 protected:
  ModelConfig config_;
  std::shared_ptr<const gguf::GgufFile> file_;
  int32_t max_context_ = 0;
  int32_t kv_cache_heads_ = 0;  // 0: config_.num_kv_heads
  MatmulInputObserver matmul_input_observer_;  // see set_matmul_input_observer
};

}  // namespace tessera
