// LlamaModel: the llama block (RMSNorm -> RoPE'd GQA attention -> RMSNorm -> SwiGLU FFN) with
// tied or untied output head. Serves llama and mistral GGUFs.
#pragma once

#include <memory>
#include <vector>

#include "base/huge_page_buffer.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tensor/tensor_view.h"

namespace tessera {

class LlamaModel final : public Model {
 public:
  static Expected<std::unique_ptr<Model>> create(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                                                 const ModelOptions& options);

  void forward(const ForwardBatch& batch, KvStorage& kv, float* logits, ThreadPool& pool) override;

 private:
  struct LayerWeights {
    std::vector<float> attn_norm;  // [hidden_dim] f32
    MatrixView attn_q;             // [q_dim, hidden_dim]
    MatrixView attn_k;             // [kv_dim, hidden_dim]
    MatrixView attn_v;             // [kv_dim, hidden_dim]
    MatrixView attn_output;        // [hidden_dim, q_dim]
    std::vector<float> ffn_norm;   // [hidden_dim] f32
    MatrixView ffn_gate;           // [ffn_dim, hidden_dim]
    MatrixView ffn_up;             // [ffn_dim, hidden_dim]
    MatrixView ffn_down;           // [hidden_dim, ffn_dim]
  };

  // Activations for one chunk of at most max_batch_tokens_ tokens, allocated once.
  struct Workspace {
    std::vector<float> x;          // [max_tokens, hidden_dim] residual stream
    std::vector<float> normed;     // [max_tokens, hidden_dim] RMSNorm output
    std::vector<float> q;          // [max_tokens, q_dim]
    std::vector<float> k;          // [max_tokens, kv_dim]
    std::vector<float> v;          // [max_tokens, kv_dim]
    std::vector<float> attn;       // [max_tokens, q_dim] attention output
    std::vector<float> proj;       // [max_tokens, hidden_dim] output of attn_output / ffn_down
    std::vector<float> gate;       // [max_tokens, ffn_dim]
    std::vector<float> up;         // [max_tokens, ffn_dim]
    std::vector<float> logit_in;   // [max_tokens, hidden_dim] final-normed rows that need logits
    std::vector<float> rope;       // [max_tokens, rot_dims] the chunk's RoPE angles (rope_table)
    std::vector<float> scores;     // attention_scratch_floats(...) softmax rows
    std::vector<uint8_t> matmul_scratch;  // activations converted to each weight's vec_dot_type
  };

  LlamaModel() = default;
  Status load_weights();
  void allocate_workspace(ThreadPool& pool);
  // Runs tokens [begin, end) of `batch` through every layer; returns logits for requested rows.
  void forward_chunk(const ForwardBatch& batch, int32_t begin, int32_t end, KvStorage& kv, float* logits,
                     int32_t& logits_written, ThreadPool& pool);
  // kept_rows null: every row of the chunk continues. Otherwise (the last layer; rows relative
  // to begin) K/V are still written for every row, but only the kept rows attend and continue,
  // moved to the front of x in kept_rows order.
  void attention_block(const ForwardBatch& batch, int32_t begin, int32_t end, int32_t layer, KvStorage& kv,
                       ThreadPool& pool, const std::vector<int32_t>* kept_rows);
  void ffn_block(int32_t num_tokens, int32_t layer, ThreadPool& pool);

  int32_t max_batch_tokens_ = 0;
  MatrixView token_embedding_;       // [vocab_size, hidden_dim]
  MatrixView output_;                // [vocab_size, hidden_dim]; token_embedding_ when tied
  std::vector<float> output_norm_;   // [hidden_dim] f32
  std::vector<LayerWeights> layers_; // [num_layers]
  // The bytes of output_ and every layer matrix, off the mmapped file and repacked for the
  // kernels where they prefer it (make_weights_resident); token_embedding_ stays in the file.
  HugePageBuffer resident_weights_;
  Workspace ws_;
  std::vector<kernels::AttentionSequence> attention_sequences_;  // per layer call, reused
  std::vector<int32_t> output_rows_;  // per chunk: rows (relative to its start) that need logits
  int workspace_threads_ = 0;        // pool size the attention scratch was sized for
};

}  // namespace tessera
