#include "model/layers/rms_norm.h"

#include "kernels/kernels.h"
#include "model/weight_loader.h"

namespace tessera {

void RmsNorm::apply(const float* x, int64_t num_rows, float* out, ThreadPool* pool) const {
  kernels::rms_norm(x, weight.data(), num_rows, dim(), eps, out, pool);
}

Expected<RmsNorm> load_rms_norm(const gguf::GgufFile& file, TensorKind kind, int32_t layer, int64_t dim, float eps) {
  RmsNorm norm;
  norm.eps = eps;
  TS_ASSIGN_OR_RETURN(norm.weight, load_vector(file, tensor_name(kind, layer), dim));
  return norm;
}

}  // namespace tessera
