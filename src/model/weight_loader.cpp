#include "model/weight_loader.h"

#include <cstring>

#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "{";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "}";
}

Expected<const gguf::TensorInfo*> find_with_shape(const gguf::GgufFile& file, const std::string& name,
                                                  const std::vector<int64_t>& shape) {
  const gguf::TensorInfo* info = file.find_tensor(name);
  if (info == nullptr) return corrupt_data(file.path() + ": missing tensor '" + name + "'");
  std::vector<int64_t> actual = info->shape;
  while (actual.size() > shape.size() && actual.back() == 1) actual.pop_back();
  if (actual != shape) {
    return corrupt_data(file.path() + ": tensor '" + name + "' has shape " + shape_string(info->shape) + ", expected " +
                        shape_string(shape));
  }
  return info;
}

}  // namespace

Expected<MatrixView> load_matrix(const gguf::GgufFile& file, const std::string& name, int64_t num_rows,
                                 int64_t num_cols) {
  auto info = find_with_shape(file, name, {num_cols, num_rows});
  if (!info.ok()) return info.status();
  const gguf::TensorInfo& tensor = **info;
  if (tensor.type == DType::kQ8_1 || tensor.type == DType::kQ8_K) {
    return unsupported(file.path() + ": tensor '" + name + "' has type " + std::string(dtype_name(tensor.type)) +
                       ", which is an activation-only format");
  }
  MatrixView view;
  view.type = tensor.type;
  view.num_rows = num_rows;
  view.num_cols = num_cols;
  view.data = file.tensor_data(tensor);
  view.row_stride_bytes = row_bytes(tensor.type, num_cols);
  return view;
}

Expected<std::vector<MatrixView>> load_expert_matrices(const gguf::GgufFile& file, const std::string& name,
                                                       int64_t num_experts, int64_t num_rows, int64_t num_cols) {
  auto info = find_with_shape(file, name, {num_cols, num_rows, num_experts});
  if (!info.ok()) return info.status();
  const gguf::TensorInfo& tensor = **info;
  if (tensor.type == DType::kQ8_1 || tensor.type == DType::kQ8_K) {
    return unsupported(file.path() + ": tensor '" + name + "' has type " + std::string(dtype_name(tensor.type)) +
                       ", which is an activation-only format");
  }
  std::vector<MatrixView> experts(static_cast<size_t>(num_experts));
  const size_t stride = row_bytes(tensor.type, num_cols);
  for (int64_t e = 0; e < num_experts; ++e) {
    MatrixView& view = experts[static_cast<size_t>(e)];
    view.type = tensor.type;
    view.num_rows = num_rows;
    view.num_cols = num_cols;
    view.row_stride_bytes = stride;
    view.data = file.tensor_data(tensor) + static_cast<size_t>(e * num_rows) * stride;
  }
  return experts;
}

Expected<std::vector<float>> load_vector(const gguf::GgufFile& file, const std::string& name, int64_t length) {
  auto info = find_with_shape(file, name, {length});
  if (!info.ok()) return info.status();
  std::vector<float> values(static_cast<size_t>(length));
  dequantize_row_ref((*info)->type, file.tensor_data(**info), values.data(), length);
  return values;
}

}  // namespace tessera
