// RmsNorm: x / sqrt(mean(x^2) + eps) * weight over rows of `dim` (hidden rows, or per-head rows
// for Q/K norms). An empty weight means the architecture has no such norm.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/tensor_names.h"

namespace tessera {

struct RmsNorm {
  std::vector<float> weight;  // [dim] f32 (stored as used: gemma's +1 is already in the file)
  float eps = 1e-5f;

  bool present() const { return !weight.empty(); }
  int64_t dim() const { return static_cast<int64_t>(weight.size()); }
  // out[r, :] = norm(x[r, :]) for num_rows rows of dim(); out may be x.
  void apply(const float* x, int64_t num_rows, float* out, ThreadPool* pool) const;
};

Expected<RmsNorm> load_rms_norm(const gguf::GgufFile& file, TensorKind kind, int32_t layer, int64_t dim, float eps);

}  // namespace tessera
