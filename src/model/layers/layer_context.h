// LayerContext: what every layer's forward needs besides its weights and activations: the
// threads, the matmul scratch and the matmul-input observer (`tessera imatrix`).
// NOTE: the CPU execution seam today; a GPU backend would put its stream here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/thread_pool.h"

namespace tessera {

// Sees the f32 input of every weight matmul before it runs: the weight's GGUF name and its
// [num_rows, num_cols] row-major input rows.
using MatmulInputObserver =
    std::function<void(const std::string& weight_name, const float* input, int32_t num_rows, int64_t num_cols)>;

struct LayerContext {
  ThreadPool& pool;
  void* matmul_scratch;                 // kernels::matmul_scratch_bytes() for the largest linear
  const MatmulInputObserver* observer;  // null or empty: nobody watches (one branch per linear)
};

}  // namespace tessera
