// Looks up weights in a GGUF file by name and checks their type and shape, turning a missing or
// misshapen tensor into a Status that names it. Matrices stay in the file's (mmapped) bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "tensor/tensor_view.h"

namespace tessera {

// A [num_rows, num_cols] matrix (ggml shape {num_cols, num_rows}) in any supported dtype.
Expected<MatrixView> load_matrix(const gguf::GgufFile& file, const std::string& name, int64_t num_rows,
                                 int64_t num_cols);
// The num_experts matrices of a 3-D expert tensor (ggml shape {num_cols, num_rows, num_experts}),
// each [num_rows, num_cols], views into the file.
Expected<std::vector<MatrixView>> load_expert_matrices(const gguf::GgufFile& file, const std::string& name,
                                                       int64_t num_experts, int64_t num_rows, int64_t num_cols);
// A 1-D tensor of `length` elements, converted to f32 (norm weights are small).
Expected<std::vector<float>> load_vector(const gguf::GgufFile& file, const std::string& name, int64_t length);

}  // namespace tessera
