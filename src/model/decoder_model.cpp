// The decoder forward pass, read top to bottom:
//   x = embed(tokens) * embedding_scale
//   per layer: x += post_attn_norm(Wo · attention(rope(q), rope(k), v))   (q, k, v of attn_norm(x))
//              x += post_ffn_norm(Wdown · (act(Wgate·h) * Wup·h))           (h = ffn_norm(x))
//   logits = softcap(Wout · norm(x))   (only for the rows the batch asks for)
// Split across an MPI job (docs/distributed.md), a rank runs its layers on its shard: the
// attention output and FFN are all-reduced (tensor parallelism), the residual rows go from stage
// to stage (pipeline parallelism), and rank 0 runs the output head.
#include "model/decoder_model.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "kernels/kernels.h"
#include "model/distributed.h"
#include "model/shard.h"
#include "model/weight_loader.h"

namespace tessera {

Expected<std::unique_ptr<Model>> DecoderModel::create(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                                                      DecoderWeights weights, const ModelOptions& options) {
  TS_ASSIGN_OR_RETURN(std::unique_ptr<DecoderModel> model,
                      create_shard(std::move(file), std::move(config), std::move(weights), options, nullptr));
  return std::unique_ptr<Model>(std::move(model));
}

Expected<std::unique_ptr<DecoderModel>> DecoderModel::create_shard(std::shared_ptr<const gguf::GgufFile> file,
                                                                   ModelConfig config, DecoderWeights weights,
                                                                   const ModelOptions& options,
                                                                   std::unique_ptr<ParallelGroups> parallel) {
  std::unique_ptr<DecoderModel> model(new DecoderModel());
  model->file_ = std::move(file);
  model->config_ = std::move(config);
  model->w_ = std::move(weights);
  model->max_batch_tokens_ = std::max(1, options.max_batch_tokens);
  model->max_context_ = options.max_context > 0 ? options.max_context : model->config_.context_length;
  model->backend_ = options.backend != nullptr ? options.backend : &kernels::cpu_backend();
  model->parallel_ = std::move(parallel);
  const IndexRange layers =
      stage_layers(model->config_.num_layers, model->parallel_ ? model->parallel_->shard : ShardSpec{});
  model->first_layer_ = static_cast<int32_t>(layers.begin);
  model->end_layer_ = static_cast<int32_t>(layers.end);
  if (!model->w_.layers.empty()) model->kv_cache_heads_ = model->w_.layers[0].attention.num_kv_heads;
  // NOTE: a tied output head gets its own copy: get_rows reads token_embedding row by row from
  // the file, while the output head may be repacked. Slices of a fused weight (and the experts of
  // a 3-D tensor) are separate row ranges, each prepared on its own.
  std::vector<MatrixView*> streamed;
  for (Linear* linear : model->streamed_linears()) streamed.push_back(&linear->weight);
  model->resident_weights_ = model->backend_->prepare_weights(streamed);
  return model;
}

DecoderModel::~DecoderModel() {
  if (parallel_ != nullptr && parallel_->world->rank() == 0) {
    if (Status s = send_worker_command(WorkerCommand::kUnload, {}); !s.ok()) dist::abort_job(s.message());
  }
}

bool DecoderModel::computes_logits() const { return parallel_ == nullptr || parallel_->world->rank() == 0; }

Model::RankStats DecoderModel::own_rank_stats() const {
  return {static_cast<int64_t>(resident_weights_.size_bytes()),
          parallel_ == nullptr ? 0 : parallel_->world->bytes_sent() + parallel_->tensor.bytes_sent()};
}

std::vector<Model::RankStats> DecoderModel::rank_stats() const {
  std::vector<RankStats> stats = {own_rank_stats()};
  if (parallel_ == nullptr || parallel_->world->rank() != 0) return stats;
  // Asked after the command, so the workers' counts include what they sent up to now.
  Status status = send_worker_command(WorkerCommand::kStats, {});
  for (int r = 1; status.ok() && r < parallel_->world->size(); ++r) {
    RankStats theirs;
    status = parallel_->world->recv(&theirs, sizeof(theirs), r, kStatsTag);
    stats.push_back(theirs);
  }
  if (!status.ok()) dist::abort_job(status.message());
  return stats;
}

std::vector<Linear*> DecoderModel::streamed_linears() {
  std::vector<Linear*> linears;
  if (computes_logits()) linears.push_back(&w_.output);
  for (int32_t layer = first_layer_; layer < end_layer_; ++layer) {
    DecoderLayer& l = w_.layers[static_cast<size_t>(layer)];
    for (Linear* linear : {&l.attention.q, &l.attention.k, &l.attention.v, &l.attention.output}) {
      linears.push_back(linear);
    }
    if (l.is_moe()) {
      linears.push_back(&l.moe.router);
      for (GatedFfn& expert : l.moe.experts) {
        for (Linear* linear : {&expert.gate, &expert.up, &expert.down}) linears.push_back(linear);
      }
    } else {
      for (Linear* linear : {&l.ffn.gate, &l.ffn.up, &l.ffn.down}) linears.push_back(linear);
    }
  }
  return linears;
}

void DecoderModel::allocate_workspace(const kernels::ExecutionContext& context) {
  if (workspace_threads_ == context.num_threads()) return;
  const ModelConfig& c = config_;
  const size_t t = static_cast<size_t>(max_batch_tokens_);
  int64_t q_dim = 0, kv_dim = 0, ffn_dim = 0, group = 1, num_experts = 0, num_used = 0, expert_ffn = 0;
  int64_t whole_q_dim = 0;  // a whole output projection under tensor parallelism (gather_heads)
  for (const DecoderLayer& l : w_.layers) {
    q_dim = std::max<int64_t>(q_dim, l.attention.q_dim());
    if (l.attention.output.weight.num_cols != l.attention.q_dim()) {
      whole_q_dim = std::max(whole_q_dim, l.attention.output.weight.num_cols);
    }
    kv_dim = std::max<int64_t>(kv_dim, l.attention.kv_dim());
    ffn_dim = std::max(ffn_dim, l.ffn.ffn_dim());
    group = std::max<int64_t>(group, l.attention.num_heads / l.attention.num_kv_heads);
    num_experts = std::max<int64_t>(num_experts, static_cast<int64_t>(l.moe.experts.size()));
    num_used = std::max<int64_t>(num_used, l.moe.num_used);
    expert_ffn = std::max(expert_ffn, l.moe.expert_ffn_dim());
  }
  size_t scratch = 0;
  for (Linear* linear : streamed_linears()) {
    scratch = std::max(scratch, kernels::matmul_scratch_bytes(linear->weight.type, linear->weight.num_cols,
                                                              max_batch_tokens_));
  }
  size_t moe_floats[6] = {}, moe_ints[2] = {};
  if (num_experts > 0) {
    MoeFfn::scratch_sizes(max_batch_tokens_, c.hidden_dim, num_experts, num_used, expert_ffn, moe_floats, moe_ints);
    // The experts' matmul_tasks calls: every routed row, one input per chosen expert.
    for (const DecoderLayer& l : w_.layers) {
      for (const GatedFfn& e : l.moe.experts) {
        for (const Linear* linear : {&e.gate, &e.down}) {
          scratch = std::max(scratch, kernels::matmul_tasks_scratch_bound(linear->weight.type, linear->weight.num_cols,
                                                                          max_batch_tokens_ * num_used, num_experts));
        }
      }
    }
  }
  int32_t rot_dims = 0;
  for (const kernels::RopeParams& r : w_.ropes) rot_dims = std::max(rot_dims, r.rot_dims);
  ws_.rope_stride = t * static_cast<size_t>(rot_dims);
  // Every buffer's float count, in the order they are carved out (each on a 64-byte boundary).
  const size_t hidden = t * static_cast<size_t>(c.hidden_dim);
  float** buffers[] = {&ws_.x, &ws_.normed, &ws_.q, &ws_.k, &ws_.v, &ws_.attn, &ws_.proj, &ws_.gate, &ws_.up,
                       &ws_.logit_in, &ws_.rope, &ws_.scores, &ws_.heads_gathered, &ws_.heads_whole,
                       &ws_.moe.router_probs, &ws_.moe.expert_in, &ws_.moe.expert_gate, &ws_.moe.expert_up,
                       &ws_.moe.expert_out, &ws_.moe.route_weights};
  int32_t** int_buffers[] = {&ws_.moe.routes, &ws_.moe.route_rows};
  const size_t floats[] = {hidden, hidden, t * q_dim, t * kv_dim, t * kv_dim, t * q_dim, hidden, t * ffn_dim,
                           t * ffn_dim, hidden, w_.ropes.size() * ws_.rope_stride,
                           kernels::attention_scratch_floats(max_context_, group, context.pool()),
                           t * whole_q_dim, t * whole_q_dim,
                           moe_floats[0], moe_floats[1], moe_floats[2], moe_floats[3], moe_floats[4], moe_floats[5]};
  constexpr size_t kAlign = 64;
  auto aligned = [](size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; };
  size_t total = aligned(scratch);
  for (size_t n : floats) total += aligned(n * sizeof(float));
  for (size_t n : moe_ints) total += aligned(n * sizeof(int32_t));
  ws_.memory = context.backend().allocate(total);
  uint8_t* next = ws_.memory.data();
  ws_.matmul_scratch = next;
  next += aligned(scratch);
  for (size_t i = 0; i < std::size(buffers); ++i) {
    *buffers[i] = reinterpret_cast<float*>(next);
    next += aligned(floats[i] * sizeof(float));
  }
  for (size_t i = 0; i < std::size(int_buffers); ++i) {
    *int_buffers[i] = reinterpret_cast<int32_t*>(next);
    next += aligned(moe_ints[i] * sizeof(int32_t));
  }
  workspace_threads_ = context.num_threads();
}

void DecoderModel::forward(const ForwardBatch& batch, KvStorage& kv, float* logits,
                           kernels::ExecutionContext& context) {
  forward_launch(batch, kv, logits, context);
  forward_collect(batch, logits, context);
}

void DecoderModel::forward_collect(const ForwardBatch& batch, float* logits, kernels::ExecutionContext& context) {
  // NOTE: finish_pipeline receives into the workspace (ws_.normed): any batch launched since this
  // one has already left it (launch returns after its last chunk was sent on).
  if (parallel_ != nullptr) finish_pipeline(batch, logits, context.pool());
}

void DecoderModel::forward_launch(const ForwardBatch& batch, KvStorage& kv, float* logits,
                                  kernels::ExecutionContext& context) {
  allocate_workspace(context);
  TS_CHECK(kv.layout().num_layers() == config_.num_layers && kv.layout().num_groups() == batch.num_kv_groups,
           "KV cache of %d layers in %d groups for a model of %d layers and a batch of %d groups",
           kv.layout().num_layers(), kv.layout().num_groups(), config_.num_layers, batch.num_kv_groups);
  for (int32_t p : batch.positions) TS_CHECK(p >= 0 && p < max_context_, "position %d outside context %d", p, max_context_);
  if (parallel_ != nullptr && parallel_->world->rank() == 0) {
    const Status sent = send_worker_command(WorkerCommand::kForward, encode_forward(batch, kv, context.num_threads()));
    if (!sent.ok()) dist::abort_job(sent.message());
  }
  int32_t logits_written = 0;
  // NOTE: chunks run one after another through all layers, so a later chunk sees the K/V an
  // earlier chunk wrote: chunking is invisible in the result.
  const int32_t chunk = chunk_tokens(batch.num_tokens());
  for (int32_t begin = 0; begin < batch.num_tokens(); begin += chunk) {
    const int32_t end = std::min(batch.num_tokens(), begin + chunk);
    forward_chunk(batch, begin, end, kv, logits, logits_written, context.pool());
  }
  TS_CHECK(logits_written == static_cast<int32_t>(batch.logit_rows.size()), "logit rows out of order");
}

int32_t DecoderModel::chunk_tokens(int32_t num_tokens) const {
  if (parallel_ == nullptr || parallel_->shard.pp_size == 1) return max_batch_tokens_;
  // NOTE: under pipeline parallelism the chunks are the micro-batches in flight, so a step of at
  // least P * kMinMicroBatchTokens tokens is cut into P of them: stage 0 runs micro-batch i + 1
  // while stage 1 runs micro-batch i. Smaller steps stay whole: each micro-batch reads every
  // weight of its stage again, and below ~64 rows that read, not the arithmetic, sets the time
  // (measured: a 32-sequence decode step cut in two ran 7% slower, a 256-token prefill 1.18x faster).
  const int32_t micro_batches = std::clamp(num_tokens / kMinMicroBatchTokens, 1, parallel_->shard.pp_size);
  return std::min(max_batch_tokens_, (num_tokens + micro_batches - 1) / micro_batches);
}

void DecoderModel::forward_chunk(const ForwardBatch& batch, int32_t begin, int32_t end, KvStorage& kv, float* logits,
                                 int32_t& logits_written, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int32_t n = end - begin;
  const std::span<const int32_t> ids(batch.token_ids.data() + begin, static_cast<size_t>(n));
  for (int32_t id : ids) TS_CHECK(id >= 0 && id < c.vocab_size, "token id %d outside vocabulary", id);
  if (first_layer_ > 0) {
    // A later pipeline stage: the residual stream comes from the stage before.
    const int32_t from = parallel_->shard.world_rank(parallel_->shard.pp_rank - 1, parallel_->shard.tp_rank);
    if (Status s = parallel_->world->recv(ws_.x, sizeof(float) * n * c.hidden_dim, from, kActivationTag); !s.ok()) {
      dist::abort_job(s.message());
    }
  } else {
    kernels::get_rows(w_.token_embedding, ids, ws_.x);
    if (w_.embedding_scale != 1.0f) {
      kernels::scale_inplace(ws_.x, static_cast<int64_t>(n) * c.hidden_dim, w_.embedding_scale, &pool);
    }
  }
  // The angles once per chunk and RoPE setting: every layer rotates q and k at the same positions.
  const std::span<const int32_t> positions(batch.positions.data() + begin, static_cast<size_t>(n));
  for (size_t r = 0; r < w_.ropes.size(); ++r) {
    kernels::rope_table(positions, w_.ropes[r], ws_.rope + ws_.rope_stride * r);
  }

  // Rows of this chunk whose logits were requested, in output order (relative to begin).
  output_rows_.clear();
  while (logits_written + static_cast<int32_t>(output_rows_.size()) < static_cast<int32_t>(batch.logit_rows.size())) {
    const int32_t row = batch.logit_rows[static_cast<size_t>(logits_written) + output_rows_.size()];
    if (row < begin || row >= end) break;
    output_rows_.push_back(row - begin);
  }
  const int32_t num_rows = static_cast<int32_t>(output_rows_.size());
  // NOTE: the last layer needs K/V for every row, but its attention output and FFN only for the
  // rows whose logits were requested (as llama.cpp does): 1/num_layers of a prefill's work, and
  // a chunk with no such row stops after writing the last layer's K/V. The kept rows' results
  // are unchanged (each row's GEMM and attention are independent of the others). Not while
  // observing matmul inputs, whose statistics cover every row.
  const bool prune_last_layer = num_rows < n && !matmul_input_observer_;
  for (int32_t layer = first_layer_; layer < end_layer_; ++layer) {
    const bool pruned = prune_last_layer && layer == c.num_layers - 1;
    attention_block(batch, begin, end, layer, kv, pool, pruned ? &output_rows_ : nullptr);
    if (!pruned || num_rows > 0) ffn_block(pruned ? num_rows : n, layer, pool);
  }
  if (end_layer_ < c.num_layers) {
    // Not the last pipeline stage: the residual stream goes on to the next (a copy travels while
    // this stage starts the next chunk: chunks are the micro-batches in flight).
    const int32_t to = parallel_->shard.world_rank(parallel_->shard.pp_rank + 1, parallel_->shard.tp_rank);
    if (Status s = parallel_->world->send(ws_.x, sizeof(float) * n * c.hidden_dim, to, kActivationTag); !s.ok()) {
      dist::abort_job(s.message());
    }
    logits_written += num_rows;
    return;
  }

  // Final norm and output head, only for rows whose logits were requested (already the first
  // num_rows rows of x when the last layer was pruned).
  if (!prune_last_layer) {
    for (int32_t i = 0; i < num_rows; ++i) {
      std::copy_n(ws_.x + static_cast<size_t>(output_rows_[static_cast<size_t>(i)]) * c.hidden_dim,
                  c.hidden_dim, ws_.normed + static_cast<size_t>(i) * c.hidden_dim);
    }
  }
  const float* logit_rows = prune_last_layer ? ws_.x : ws_.normed;
  if (num_rows == 0) return;
  if (!computes_logits()) {
    // Rank 0 holds the output head: the last stage's first tensor rank sends it the final rows
    // (hidden_dim floats each, not vocab_size logits).
    if (parallel_->shard.tp_rank == 0) {
      const size_t bytes = sizeof(float) * static_cast<size_t>(num_rows) * c.hidden_dim;
      if (Status s = parallel_->world->send(logit_rows, bytes, 0, kFinalRowsTag); !s.ok()) dist::abort_job(s.message());
    }
    logits_written += num_rows;
    return;
  }
  output_head(logit_rows, num_rows, logits + static_cast<size_t>(logits_written) * c.vocab_size, pool);
  logits_written += num_rows;
}

void DecoderModel::output_head(const float* rows, int32_t num_rows, float* out, ThreadPool& pool) {
  w_.output_norm.apply(rows, num_rows, ws_.logit_in, &pool);
  run_linear(w_.output, ws_.logit_in, num_rows, out, layer_context(pool));
  if (w_.final_logit_softcap > 0.0f) {
    kernels::softcap_inplace(out, static_cast<int64_t>(num_rows) * config_.vocab_size, w_.final_logit_softcap);
  }
}

void DecoderModel::attention_block(const ForwardBatch& batch, int32_t begin, int32_t end, int32_t layer,
                                   KvStorage& kv, ThreadPool& pool, const std::vector<int32_t>* kept_rows) {
  const ModelConfig& c = config_;
  const DecoderLayer& l = w_.layers[static_cast<size_t>(layer)];
  const AttentionLayer& a = l.attention;
  int32_t n = end - begin;  // rows that continue past attention (kept_rows->size() when pruned)
  l.attn_norm.apply(ws_.x, n, ws_.normed, &pool);
  a.project(ws_.normed, n, rope_table(a.rope_index), ws_.q, ws_.k, ws_.v, layer_context(pool));

  // Write this chunk's K/V into its slots (one op over the chunk's slot mapping) before
  // attending, so a token sees itself.
  const int32_t group = kv.layout().group_of_layer[static_cast<size_t>(layer)];
  kv.write_rows(layer, &batch.slot_mapping[static_cast<size_t>(begin) * batch.num_kv_groups + group],
                batch.num_kv_groups, ws_.k, ws_.v, n, pool);

  const size_t q_dim = static_cast<size_t>(a.q_dim());
  attention_sequences_.clear();
  if (kept_rows == nullptr) {
    for (const SequenceInBatch& seq : batch.sequences) {
      // The part of this sequence that falls inside the chunk [begin, end).
      const int32_t first = std::max(seq.first_token, begin);
      const int32_t last = std::min(seq.first_token + seq.num_tokens, end);
      if (first >= last) continue;
      const size_t q_offset = static_cast<size_t>(first - begin) * q_dim;
      attention_sequences_.push_back(
          {ws_.q + q_offset,
           std::span<const int32_t>(batch.positions.data() + first, static_cast<size_t>(last - first)),
           batch.block_table(seq, group), ws_.attn + q_offset});
    }
  } else {
    // Only the kept rows attend (one query each, output row i for kept row i); their residual
    // rows move to the front of x, so the rest of the layer runs on n = kept_rows.size() rows.
    n = static_cast<int32_t>(kept_rows->size());
    if (n == 0) return;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t token = begin + (*kept_rows)[static_cast<size_t>(i)];
      const auto seq = std::find_if(batch.sequences.begin(), batch.sequences.end(), [&](const SequenceInBatch& s) {
        return token >= s.first_token && token < s.first_token + s.num_tokens;
      });
      TS_CHECK(seq != batch.sequences.end(), "row %d belongs to no sequence", token);
      attention_sequences_.push_back({ws_.q + static_cast<size_t>(token - begin) * q_dim,
                                      std::span<const int32_t>(batch.positions.data() + token, 1),
                                      batch.block_table(*seq, group),
                                      ws_.attn + static_cast<size_t>(i) * q_dim});
      std::copy_n(ws_.x + static_cast<size_t>(token - begin) * c.hidden_dim, c.hidden_dim,
                  ws_.normed + static_cast<size_t>(i) * c.hidden_dim);
    }
    std::copy_n(ws_.normed, static_cast<size_t>(n) * c.hidden_dim, ws_.x);
  }
  kernels::paged_attention_batch(attention_sequences_, a.num_heads, kv.layer_view(layer), a.params, ws_.scores,
                                 pool);
  if (a.output.weight.num_cols == a.q_dim()) {
    run_linear(a.output, ws_.attn, n, ws_.proj, layer_context(pool));
    reduce_partial_sums(n);  // tensor parallelism: each rank's heads gave a partial sum
  } else {
    run_linear(a.output, gather_heads(n, a), n, ws_.proj, layer_context(pool));  // the whole sum on every rank
  }
  add_residual(n, l.post_attention_norm, pool);
}

void DecoderModel::ffn_block(int32_t n, int32_t layer, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const DecoderLayer& l = w_.layers[static_cast<size_t>(layer)];
  l.ffn_norm.apply(ws_.x, n, ws_.normed, &pool);
  if (l.is_moe()) {
    moe_stats_.expert_reads += l.moe.forward(ws_.normed, n, ws_.proj, ws_.moe, layer_context(pool));
    moe_stats_.layer_calls += 1;
    moe_stats_.routed_rows += static_cast<int64_t>(n) * l.moe.num_used;
  } else {
    l.ffn.forward(ws_.normed, n, ws_.gate, ws_.up, ws_.proj, layer_context(pool));
    if (l.ffn.ffn_dim() < c.ffn_dim) reduce_partial_sums(n);  // tensor parallelism: a slice of the FFN
  }
  add_residual(n, l.post_ffn_norm, pool);
}

void DecoderModel::add_residual(int32_t n, const RmsNorm& post_norm, ThreadPool& pool) {
  if (post_norm.present()) post_norm.apply(ws_.proj, n, ws_.proj, &pool);
  kernels::add_inplace(ws_.x, ws_.proj, static_cast<int64_t>(n) * config_.hidden_dim, &pool);
}


void DecoderModel::reduce_partial_sums(int32_t n) {
  if (parallel_ == nullptr || parallel_->tensor.size() == 1) return;
  if (Status s = parallel_->tensor.all_reduce_sum(ws_.proj, static_cast<size_t>(n) * config_.hidden_dim); !s.ok()) {
    dist::abort_job(s.message());
  }
}

const float* DecoderModel::gather_heads(int32_t n, const AttentionLayer& a) {
  const size_t local = static_cast<size_t>(n) * a.q_dim();
  if (Status s = parallel_->tensor.all_gather(ws_.attn, local, ws_.heads_gathered); !s.ok()) {
    dist::abort_job(s.message());
  }
  // Rank r's heads are columns [r * q_dim, (r + 1) * q_dim) of the whole rows (shard.h splits evenly).
  const size_t row = static_cast<size_t>(a.q_dim()), whole = static_cast<size_t>(a.output.weight.num_cols);
  for (int r = 0; r < parallel_->tensor.size(); ++r) {
    for (int32_t i = 0; i < n; ++i) {
      std::copy_n(ws_.heads_gathered + r * local + i * row, row, ws_.heads_whole + i * whole + r * row);
    }
  }
  return ws_.heads_whole;
}

void DecoderModel::finish_pipeline(const ForwardBatch& batch, float* logits, ThreadPool& pool) {
  const ShardSpec& shard = parallel_->shard;
  const int32_t source = shard.world_rank(shard.pp_size - 1, 0);
  Status s;
  if (source != 0 && parallel_->world->rank() == 0) {
    // The final rows of each chunk, in chunk order, through the output head.
    size_t done = 0;
    const int32_t chunk = chunk_tokens(batch.num_tokens());
    for (int32_t begin = 0; begin < batch.num_tokens() && s.ok(); begin += chunk) {
      const int32_t end = std::min(batch.num_tokens(), begin + chunk);
      int32_t rows = 0;
      while (done + rows < batch.logit_rows.size() && batch.logit_rows[done + rows] < end) ++rows;
      if (rows == 0) continue;
      s = parallel_->world->recv(ws_.normed, sizeof(float) * static_cast<size_t>(rows) * config_.hidden_dim, source,
                                 kFinalRowsTag);
      if (s.ok()) output_head(ws_.normed, rows, logits + done * static_cast<size_t>(config_.vocab_size), pool);
      done += static_cast<size_t>(rows);
    }
  }
  if (s.ok()) s = parallel_->world->flush();
  if (!s.ok()) dist::abort_job(s.message());
}

}  // namespace tessera
