// The llama forward pass, read top to bottom:
//   x = embed(tokens)
//   per layer: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
//              x += Wdown · (silu(Wgate·norm(x)) * Wup·norm(x))
//   logits = Wout · norm(x)   (only for the rows the batch asks for)
#include "model/arch/llama.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "kernels/kernels.h"
#include "model/weight_loader.h"

namespace tessera {
namespace {

// Hands one matmul input to the observer, if any, under the weight's GGUF name.
void observe(const Model::MatmulInputObserver& observer, int32_t layer, const char* weight, const float* input,
             int32_t num_rows, int64_t num_cols) {
  if (!observer) return;
  observer(layer < 0 ? std::string(weight) : "blk." + std::to_string(layer) + "." + weight, input, num_rows, num_cols);
}

}  // namespace

Expected<std::unique_ptr<Model>> LlamaModel::create(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                                                    const ModelOptions& options) {
  std::unique_ptr<LlamaModel> model(new LlamaModel());
  model->file_ = std::move(file);
  model->config_ = std::move(config);
  model->max_batch_tokens_ = std::max(1, options.max_batch_tokens);
  model->max_context_ = options.max_context > 0 ? options.max_context : model->config_.context_length;
  TS_RETURN_IF_ERROR(model->load_weights());
  return std::unique_ptr<Model>(std::move(model));
}

Status LlamaModel::load_weights() {
  const ModelConfig& c = config_;
  const gguf::GgufFile& f = *file_;
  TS_ASSIGN_OR_RETURN(token_embedding_, load_matrix(f, "token_embd.weight", c.vocab_size, c.hidden_dim));
  if (c.tied_embeddings) {
    output_ = token_embedding_;
  } else {
    TS_ASSIGN_OR_RETURN(output_, load_matrix(f, "output.weight", c.vocab_size, c.hidden_dim));
  }
  TS_ASSIGN_OR_RETURN(output_norm_, load_vector(f, "output_norm.weight", c.hidden_dim));
  layers_.resize(static_cast<size_t>(c.num_layers));
  for (int32_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = layers_[static_cast<size_t>(i)];
    TS_ASSIGN_OR_RETURN(l.attn_norm, load_vector(f, p + "attn_norm.weight", c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.attn_q, load_matrix(f, p + "attn_q.weight", c.q_dim(), c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.attn_k, load_matrix(f, p + "attn_k.weight", c.kv_dim(), c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.attn_v, load_matrix(f, p + "attn_v.weight", c.kv_dim(), c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.attn_output, load_matrix(f, p + "attn_output.weight", c.hidden_dim, c.q_dim()));
    TS_ASSIGN_OR_RETURN(l.ffn_norm, load_vector(f, p + "ffn_norm.weight", c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.ffn_gate, load_matrix(f, p + "ffn_gate.weight", c.ffn_dim, c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.ffn_up, load_matrix(f, p + "ffn_up.weight", c.ffn_dim, c.hidden_dim));
    TS_ASSIGN_OR_RETURN(l.ffn_down, load_matrix(f, p + "ffn_down.weight", c.hidden_dim, c.ffn_dim));
  }
  // NOTE: a tied output_ gets its own copy: get_rows reads token_embedding_ row by row from the
  // file, while the output head may be repacked.
  std::vector<MatrixView*> streamed = {&output_};
  for (LayerWeights& l : layers_) {
    for (MatrixView* w : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      streamed.push_back(w);
    }
  }
  resident_weights_ = make_weights_resident(streamed);
  return Status();
}

void LlamaModel::allocate_workspace(ThreadPool& pool) {
  if (workspace_threads_ == pool.num_threads()) return;
  const ModelConfig& c = config_;
  const size_t t = static_cast<size_t>(max_batch_tokens_);
  ws_.x.assign(t * c.hidden_dim, 0.0f);
  ws_.normed.assign(t * c.hidden_dim, 0.0f);
  ws_.q.assign(t * c.q_dim(), 0.0f);
  ws_.k.assign(t * c.kv_dim(), 0.0f);
  ws_.v.assign(t * c.kv_dim(), 0.0f);
  ws_.attn.assign(t * c.q_dim(), 0.0f);
  ws_.proj.assign(t * c.hidden_dim, 0.0f);
  ws_.gate.assign(t * c.ffn_dim, 0.0f);
  ws_.up.assign(t * c.ffn_dim, 0.0f);
  ws_.logit_in.assign(t * c.hidden_dim, 0.0f);
  ws_.rope.assign(t * static_cast<size_t>(c.rope.rot_dims), 0.0f);
  ws_.scores.assign(kernels::attention_scratch_floats(max_context_, c.num_heads / c.num_kv_heads, pool), 0.0f);
  size_t scratch = kernels::matmul_scratch_bytes(output_.type, c.hidden_dim, max_batch_tokens_);
  for (const LayerWeights& l : layers_) {
    for (const MatrixView* w : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      scratch = std::max(scratch, kernels::matmul_scratch_bytes(w->type, w->num_cols, max_batch_tokens_));
    }
  }
  ws_.matmul_scratch.assign(scratch, 0);
  workspace_threads_ = pool.num_threads();
}

void LlamaModel::forward(const ForwardBatch& batch, KvStorage& kv, float* logits, ThreadPool& pool) {
  allocate_workspace(pool);
  for (int32_t p : batch.positions) TS_CHECK(p >= 0 && p < max_context_, "position %d outside context %d", p, max_context_);
  int32_t logits_written = 0;
  // NOTE: chunks run one after another through all layers, so a later chunk sees the K/V an
  // earlier chunk wrote: chunking is invisible in the result.
  for (int32_t begin = 0; begin < batch.num_tokens(); begin += max_batch_tokens_) {
    const int32_t end = std::min(batch.num_tokens(), begin + max_batch_tokens_);
    forward_chunk(batch, begin, end, kv, logits, logits_written, pool);
  }
  TS_CHECK(logits_written == static_cast<int32_t>(batch.logit_rows.size()), "logit rows out of order");
}

void LlamaModel::forward_chunk(const ForwardBatch& batch, int32_t begin, int32_t end, KvStorage& kv, float* logits,
                               int32_t& logits_written, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int32_t n = end - begin;
  const std::span<const int32_t> ids(batch.token_ids.data() + begin, static_cast<size_t>(n));
  for (int32_t id : ids) TS_CHECK(id >= 0 && id < c.vocab_size, "token id %d outside vocabulary", id);
  kernels::get_rows(token_embedding_, ids, ws_.x.data());
  // The angles once per chunk: every layer rotates q and k at the same positions.
  kernels::rope_table(std::span<const int32_t>(batch.positions.data() + begin, static_cast<size_t>(n)), c.rope,
                      ws_.rope.data());

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
  for (int32_t layer = 0; layer < c.num_layers; ++layer) {
    const bool pruned = prune_last_layer && layer == c.num_layers - 1;
    attention_block(batch, begin, end, layer, kv, pool, pruned ? &output_rows_ : nullptr);
    if (!pruned || num_rows > 0) ffn_block(pruned ? num_rows : n, layer, pool);
  }

  // Final norm and output head, only for rows whose logits were requested (already the first
  // num_rows rows of x when the last layer was pruned).
  if (!prune_last_layer) {
    for (int32_t i = 0; i < num_rows; ++i) {
      std::copy_n(ws_.x.data() + static_cast<size_t>(output_rows_[static_cast<size_t>(i)]) * c.hidden_dim,
                  c.hidden_dim, ws_.normed.data() + static_cast<size_t>(i) * c.hidden_dim);
    }
  }
  const float* logit_rows = prune_last_layer ? ws_.x.data() : ws_.normed.data();
  if (num_rows == 0) return;
  kernels::rms_norm(logit_rows, output_norm_.data(), num_rows, c.hidden_dim, c.rms_norm_eps, ws_.logit_in.data(),
                    &pool);
  observe(matmul_input_observer_, -1, c.tied_embeddings ? "token_embd.weight" : "output.weight", ws_.logit_in.data(),
          num_rows, c.hidden_dim);
  kernels::matmul(output_, ws_.logit_in.data(), num_rows, logits + static_cast<size_t>(logits_written) * c.vocab_size,
                  ws_.matmul_scratch.data(), pool);
  logits_written += num_rows;
}

void LlamaModel::attention_block(const ForwardBatch& batch, int32_t begin, int32_t end, int32_t layer, KvStorage& kv,
                                 ThreadPool& pool, const std::vector<int32_t>* kept_rows) {
  const ModelConfig& c = config_;
  const LayerWeights& w = layers_[static_cast<size_t>(layer)];
  int32_t n = end - begin;  // rows that continue past attention (kept_rows->size() when pruned)
  void* scratch = ws_.matmul_scratch.data();
  kernels::rms_norm(ws_.x.data(), w.attn_norm.data(), n, c.hidden_dim, c.rms_norm_eps, ws_.normed.data(), &pool);
  for (const char* weight : {"attn_q.weight", "attn_k.weight", "attn_v.weight"}) {
    observe(matmul_input_observer_, layer, weight, ws_.normed.data(), n, c.hidden_dim);
  }
  const kernels::MatmulOutput qkv[] = {
      {&w.attn_q, ws_.q.data()}, {&w.attn_k, ws_.k.data()}, {&w.attn_v, ws_.v.data()}};
  kernels::matmul_shared_input(qkv, ws_.normed.data(), n, scratch, pool);
  kernels::rope_from_table(ws_.q.data(), n, c.num_heads, c.head_dim, ws_.rope.data(), c.rope, &pool);
  kernels::rope_from_table(ws_.k.data(), n, c.num_kv_heads, c.head_dim, ws_.rope.data(), c.rope, &pool);

  // Write this chunk's K/V into its slots before attending, so a token sees itself. Rows write
  // distinct slots, so a long chunk splits them across the pool (serial, this was ~1% of a
  // batched SmolLM run).
  const size_t kv_dim = static_cast<size_t>(c.kv_dim());
  auto write_kv = [&](int64_t first, int64_t last, int) {
    for (int64_t t = first; t < last; ++t) {
      kv.write(layer, batch.slot_mapping[static_cast<size_t>(begin + t)], ws_.k.data() + t * kv_dim,
               ws_.v.data() + t * kv_dim);
    }
  };
  constexpr int32_t kMinRowsToSplit = 16;
  if (n >= kMinRowsToSplit) {
    pool.parallel_for(n, write_kv);
  } else {
    write_kv(0, n, 0);
  }

  const kernels::PagedKvLayer kv_layer = kv.layer_view(layer);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  attention_sequences_.clear();
  if (kept_rows == nullptr) {
    for (const SequenceInBatch& seq : batch.sequences) {
      // The part of this sequence that falls inside the chunk [begin, end).
      const int32_t first = std::max(seq.first_token, begin);
      const int32_t last = std::min(seq.first_token + seq.num_tokens, end);
      if (first >= last) continue;
      const size_t q_offset = static_cast<size_t>(first - begin) * c.q_dim();
      attention_sequences_.push_back(
          {ws_.q.data() + q_offset,
           std::span<const int32_t>(batch.positions.data() + first, static_cast<size_t>(last - first)),
           seq.block_table, ws_.attn.data() + q_offset});
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
      attention_sequences_.push_back({ws_.q.data() + static_cast<size_t>(token - begin) * c.q_dim(),
                                      std::span<const int32_t>(batch.positions.data() + token, 1), seq->block_table,
                                      ws_.attn.data() + static_cast<size_t>(i) * c.q_dim()});
      std::copy_n(ws_.x.data() + static_cast<size_t>(token - begin) * c.hidden_dim, c.hidden_dim,
                  ws_.normed.data() + static_cast<size_t>(i) * c.hidden_dim);
    }
    std::copy_n(ws_.normed.data(), static_cast<size_t>(n) * c.hidden_dim, ws_.x.data());
  }
  kernels::paged_attention_batch(attention_sequences_, c.num_heads, kv_layer, scale, ws_.scores.data(), pool);
  observe(matmul_input_observer_, layer, "attn_output.weight", ws_.attn.data(), n, c.q_dim());
  kernels::matmul(w.attn_output, ws_.attn.data(), n, ws_.proj.data(), scratch, pool);
  kernels::add_inplace(ws_.x.data(), ws_.proj.data(), static_cast<int64_t>(n) * c.hidden_dim, &pool);
}

void LlamaModel::ffn_block(int32_t n, int32_t layer, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const LayerWeights& w = layers_[static_cast<size_t>(layer)];
  void* scratch = ws_.matmul_scratch.data();
  kernels::rms_norm(ws_.x.data(), w.ffn_norm.data(), n, c.hidden_dim, c.rms_norm_eps, ws_.normed.data(), &pool);
  observe(matmul_input_observer_, layer, "ffn_gate.weight", ws_.normed.data(), n, c.hidden_dim);
  observe(matmul_input_observer_, layer, "ffn_up.weight", ws_.normed.data(), n, c.hidden_dim);
  const kernels::MatmulOutput gate_up[] = {{&w.ffn_gate, ws_.gate.data()}, {&w.ffn_up, ws_.up.data()}};
  kernels::matmul_shared_input(gate_up, ws_.normed.data(), n, scratch, pool);
  kernels::silu_mul(ws_.gate.data(), ws_.up.data(), static_cast<int64_t>(n) * c.ffn_dim, ws_.gate.data(), &pool);
  observe(matmul_input_observer_, layer, "ffn_down.weight", ws_.gate.data(), n, c.ffn_dim);
  kernels::matmul(w.ffn_down, ws_.gate.data(), n, ws_.proj.data(), scratch, pool);
  kernels::add_inplace(ws_.x.data(), ws_.proj.data(), static_cast<int64_t>(n) * c.hidden_dim, &pool);
}

}  // namespace tessera
