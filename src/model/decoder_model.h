// DecoderModel: the shell every decoder-only architecture runs in. It owns the weights an
// architecture assembled (model/arch/), the activations (sized once), the chunk loop, the logit
// rows and last-layer pruning, the RoPE tables and the paged-KV writes; the layers
// (model/layers/) do the arithmetic. An architecture never copies any of this.
#pragma once

#include <memory>
#include <vector>

#include "base/huge_page_buffer.h"
#include "kernels/kernels.h"
#include "model/layers/attention.h"
#include "model/layers/gated_ffn.h"
#include "model/layers/linear.h"
#include "model/layers/moe_ffn.h"
#include "model/layers/rms_norm.h"
#include "model/model.h"
#include "tensor/tensor_view.h"

namespace tessera {

// One pre-norm transformer block:
//   x += post_attention_norm(attention(attn_norm(x)))
//   x += post_ffn_norm(ffn(ffn_norm(x)))
// (post norms only where the architecture has them: gemma).
struct DecoderLayer {
  RmsNorm attn_norm;
  AttentionLayer attention;
  RmsNorm post_attention_norm;  // or absent
  RmsNorm ffn_norm;
  GatedFfn ffn;                 // a dense FFN, or
  MoeFfn moe;                   // a mixture of experts (when moe.experts is not empty)
  RmsNorm post_ffn_norm;        // or absent

  bool is_moe() const { return !moe.experts.empty(); }
};

// Everything an architecture assembles: the decoder shell runs it.
struct DecoderWeights {
  MatrixView token_embedding;             // [vocab_size, hidden_dim], read in place from the file
  float embedding_scale = 1.0f;           // x = embed(tokens) * scale (gemma: sqrt(hidden_dim))
  std::vector<DecoderLayer> layers;       // [num_layers]
  RmsNorm output_norm;
  Linear output;                          // [vocab_size, hidden_dim] (token_embd's bytes when tied)
  float final_logit_softcap = 0.0f;       // > 0: logits = cap * tanh(logits / cap)
  std::vector<kernels::RopeParams> ropes; // the distinct RoPE settings; AttentionLayer::rope_index
};

class DecoderModel final : public Model {
 public:
  static Expected<std::unique_ptr<Model>> create(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                                                 DecoderWeights weights, const ModelOptions& options);
  // One rank's shard of a parallel model (`weights` already narrowed by shard_decoder_weights):
  // only its layers (and the output head on the rank that computes logits) are made resident.
  static Expected<std::unique_ptr<DecoderModel>> create_shard(std::shared_ptr<const gguf::GgufFile> file,
                                                              ModelConfig config, DecoderWeights weights,
                                                              const ModelOptions& options,
                                                              std::unique_ptr<ParallelGroups> parallel);
  ~DecoderModel() override;

  void forward(const ForwardBatch& batch, KvStorage& kv, float* logits, kernels::ExecutionContext& context) override;
  // Pipeline parallelism on rank 0: launch = the forward command and stage 0's chunks (sent on,
  // not waited for); collect = the last stage's final rows through the output head. Otherwise
  // launch is the whole pass (collect only waits for this rank's sends under tensor parallelism).
  void forward_launch(const ForwardBatch& batch, KvStorage& kv, float* logits,
                      kernels::ExecutionContext& context) override;
  void forward_collect(const ForwardBatch& batch, float* logits, kernels::ExecutionContext& context) override;
  MoeStats moe_stats() const override { return moe_stats_; }
  std::vector<RankStats> rank_stats() const override;
  // This rank's own entry of rank_stats().
  RankStats own_rank_stats() const;

 private:
  // Activations for one chunk of at most max_batch_tokens_ tokens: views into one backend
  // allocation (`memory`), made once per thread count.
  struct Workspace {
    HugePageBuffer memory;         // everything below
    float* x = nullptr;            // [max_tokens, hidden_dim] residual stream
    float* normed = nullptr;       // [max_tokens, hidden_dim] norm output
    float* q = nullptr;            // [max_tokens, max q_dim]
    float* k = nullptr;            // [max_tokens, max kv_dim]
    float* v = nullptr;            // [max_tokens, max kv_dim]
    float* attn = nullptr;         // [max_tokens, max q_dim] attention output
    // Tensor parallelism with a whole output projection (shard.h): every rank's heads, as gathered
    // ([ranks][max_tokens][its q_dim]) and in row order ([max_tokens, whole q_dim]); null otherwise.
    float* heads_gathered = nullptr;
    float* heads_whole = nullptr;
    float* proj = nullptr;         // [max_tokens, hidden_dim] output of attn_output / ffn_down
    float* gate = nullptr;         // [max_tokens, max ffn_dim]
    float* up = nullptr;           // [max_tokens, max ffn_dim]
    float* logit_in = nullptr;     // [max_tokens, hidden_dim] final-normed rows that need logits
    float* rope = nullptr;         // [num ropes, rope_stride] the chunk's RoPE angles per setting
    size_t rope_stride = 0;        // max_tokens * max rot_dims
    float* scores = nullptr;       // attention_scratch_floats(...) softmax rows
    void* matmul_scratch = nullptr;  // activations converted to each weight's vec_dot_type
    MoeScratch moe{};              // MoE routing and expert buffers (null without MoE layers)
  };

  DecoderModel() = default;
  void allocate_workspace(const kernels::ExecutionContext& context);
  // Every weight matrix the forward pass streams (the backend prepares them at load).
  std::vector<Linear*> streamed_linears();
  LayerContext layer_context(ThreadPool& pool) { return {pool, ws_.matmul_scratch, &matmul_input_observer_}; }
  const float* rope_table(int32_t rope_index) const { return ws_.rope + ws_.rope_stride * static_cast<size_t>(rope_index); }
  // Tokens per chunk of a forward pass of num_tokens tokens (docs/distributed.md, "Micro-batches").
  static constexpr int32_t kMinMicroBatchTokens = 64;
  int32_t chunk_tokens(int32_t num_tokens) const;
  // Runs tokens [begin, end) of `batch` through every layer; returns logits for requested rows.
  void forward_chunk(const ForwardBatch& batch, int32_t begin, int32_t end, KvStorage& kv, float* logits,
                     int32_t& logits_written, ThreadPool& pool);
  // kept_rows null: every row of the chunk continues. Otherwise (the last layer; rows relative
  // to begin) K/V are still written for every row, but only the kept rows attend and continue,
  // moved to the front of x in kept_rows order.
  void attention_block(const ForwardBatch& batch, int32_t begin, int32_t end, int32_t layer, KvStorage& kv,
                       ThreadPool& pool, const std::vector<int32_t>* kept_rows);
  void ffn_block(int32_t num_tokens, int32_t layer, ThreadPool& pool);
  // Adds proj (or its post-norm) to the residual stream: x += norm ? norm(proj) : proj.
  void add_residual(int32_t num_tokens, const RmsNorm& post_norm, ThreadPool& pool);
  // Tensor parallelism: sums proj's partial rows over the stage's ranks (nothing when T = 1).
  void reduce_partial_sums(int32_t num_tokens);
  // Tensor parallelism where `a`'s output projection stays whole: every rank's attention rows
  // (ws_.attn) gathered into ws_.heads_whole, which it returns.
  const float* gather_heads(int32_t num_tokens, const AttentionLayer& a);
  // Final norm, output head and soft-cap of num_rows rows into out ([num_rows, vocab_size]).
  void output_head(const float* rows, int32_t num_rows, float* out, ThreadPool& pool);
  // Pipeline parallelism, after the chunks: rank 0 takes the last stage's final rows through the
  // output head; every rank waits for its sends to leave.
  void finish_pipeline(const ForwardBatch& batch, float* logits, ThreadPool& pool);
  // Whether this rank runs the output head (and holds it): rank 0 only.
  bool computes_logits() const;

  int32_t max_batch_tokens_ = 0;
  DecoderWeights w_;
  // The bytes of the output head and every layer matrix, off the mmapped file, prepared by the
  // backend (the CPU repacks them where its kernels prefer it); token_embedding stays in the file.
  HugePageBuffer resident_weights_;
  Workspace ws_;
  std::vector<kernels::AttentionSequence> attention_sequences_;  // per layer call, reused
  std::vector<int32_t> output_rows_;  // per chunk: rows (relative to its start) that need logits
  int workspace_threads_ = 0;        // pool size the attention scratch was sized for
  MoeStats moe_stats_;
  const kernels::Backend* backend_ = nullptr;  // holds the weights and the workspace
  // Tensor / pipeline parallelism: this rank's groups (null: a single process) and the layers it runs.
  std::unique_ptr<ParallelGroups> parallel_;
  int32_t first_layer_ = 0, end_layer_ = 0;
};

}  // namespace tessera
