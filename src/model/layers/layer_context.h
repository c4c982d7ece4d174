// LayerContext: what every layer's forward needs besides its weights and activations: the
// threads, the matmul scratch and the matmul-input observer (`tessera imatrix`).
// NOTE: the CPU execution seam today; a GPU backend would put its stream here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/thread_pool.h"

namespace tessera {

// The f32 input of one weight matmul: the weight's GGUF name and its [num_rows, num_cols]
// row-major input rows; for an expert of a 3-D tensor, which one (only its rows).
struct MatmulInput {
  const std::string& weight_name;
  const float* rows;
  int32_t num_rows;
  int64_t num_cols;
  int32_t expert = 0;       // matrix of the tensor the rows went through
  int32_t num_experts = 1;  // matrices in the tensor (1 for a 2-D weight)
};
// Sees the input of every weight matmul before it runs (`tessera imatrix`).
using MatmulInputObserver = std::function<void(const MatmulInput& input)>;

struct LayerContext {
  ThreadPool& pool;
  void* matmul_scratch;                 // kernels::matmul_scratch_bytes() for the largest linear
  const MatmulInputObserver* observer;  // null or empty: nobody watches (one branch per linear)
};

}  // namespace tessera
