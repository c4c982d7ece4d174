// Builds tiny random-weight llama GGUFs in memory with our own writer, for model unit tests.
#pragma once

#include <cstdint>
#include <string>

#include "gguf/gguf_writer.h"
#include "tensor/dtype.h"

namespace tessera::testing {

struct TinyModelSpec {
  std::string architecture = "llama";
  int32_t hidden_dim = 64;
  int32_t ffn_dim = 96;
  int32_t num_layers = 2;
  int32_t num_heads = 4;
  int32_t num_kv_heads = 2;
  int32_t vocab_size = 64;
  int32_t context_length = 64;
  DType weight_type = DType::kF32;  // of the 2-D matrices
  bool tied_embeddings = false;
  uint32_t seed = 1;
};

// A writer holding a complete model (config, weights, a toy llama vocabulary).
gguf::GgufWriter make_tiny_model(const TinyModelSpec& spec);

}  // namespace tessera::testing
