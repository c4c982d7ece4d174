// The inverse of read_model_config: a ModelConfig as the GGUF metadata keys llama.cpp expects
// for its architecture. Used by `tessera synth` to write models of real shapes; tests read the
// keys back with read_model_config.
#pragma once

#include "gguf/gguf_writer.h"
#include "model/model_config.h"

namespace tessera {

// Writes general.architecture and the {arch}.* hyper-parameters of `config`: block_count,
// embedding_length, feed_forward_length, attention.head_count(_kv), attention.key_length and
// value_length when head_dim is not hidden_dim / num_heads, rope.freq_base and
// dimension_count, linear rope.scaling when freq_scale != 1, layer_norm_rms_epsilon,
// context_length, vocab_size, and where the config has them the sliding window (with the local
// layers' rope.freq_base_swa) and the logit soft-caps. Not tokenizer.* or general.file_type.
// NOTE: layer_is_local is not written: the loader derives it from the architecture's pattern.
void write_model_config(const ModelConfig& config, gguf::GgufWriter& writer);

}  // namespace tessera
