#include "quantize/importance_matrix.h"

#include <cmath>

#include "base/check.h"
#include "gguf/gguf_writer.h"

namespace tessera::quantize {
namespace {

constexpr const char* kSumSuffix = ".in_sum2";
constexpr const char* kCountSuffix = ".counts";
constexpr const char* kGramSuffix = ".in_gram";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void ImportanceMatrix::accumulate(const std::string& name, const float* input, int32_t num_rows, int64_t num_cols,
                                  int32_t mat, int32_t num_mats) {
  ImportanceEntry& entry = entries_[name];
  if (entry.sum_squares.empty()) {
    entry.sum_squares.assign(static_cast<size_t>(num_cols * num_mats), 0.0);
    entry.counts.assign(static_cast<size_t>(num_mats), 0);
    if (num_mats == 1 && num_cols <= kMaxGramColumns) entry.gram.assign(static_cast<size_t>(num_cols * num_cols), 0.0);
  }
  TS_CHECK(static_cast<int64_t>(entry.counts.size()) == num_mats &&
               static_cast<int64_t>(entry.sum_squares.size()) == num_cols * num_mats && mat >= 0 && mat < num_mats,
           "%s: matrix %d of %d with %lld columns after %zu sums of %zu matrices", name.c_str(), mat, num_mats,
           static_cast<long long>(num_cols), entry.sum_squares.size(), entry.counts.size());
  double* sums = entry.sum_squares.data() + static_cast<int64_t>(mat) * num_cols;
  for (int32_t r = 0; r < num_rows; ++r) {
    const float* row = input + static_cast<int64_t>(r) * num_cols;
    for (int64_t c = 0; c < num_cols; ++c) sums[c] += static_cast<double>(row[c]) * row[c];
    if (entry.gram.empty()) continue;
    for (int64_t i = 0; i < num_cols; ++i) {
      double* gram_row = entry.gram.data() + i * num_cols;
      const double a = row[i];
      for (int64_t j = 0; j < num_cols; ++j) gram_row[j] += a * row[j];
    }
  }
  entry.counts[static_cast<size_t>(mat)] += num_rows;
}

std::vector<float> ImportanceMatrix::mean_squares(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) return {};
  const ImportanceEntry& e = it->second;
  int64_t total = 0;
  for (int64_t count : e.counts) total += count;
  if (total == 0) return {};
  const size_t cols = e.sum_squares.size() / e.counts.size();
  std::vector<float> out(e.sum_squares.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t count = e.counts[i / cols];
    out[i] = count == 0 ? 1.0f : static_cast<float>(e.sum_squares[i] / static_cast<double>(count));
  }
  return out;
}

std::vector<float> ImportanceMatrix::mean_gram(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end() || it->second.gram.empty() || it->second.counts[0] == 0) return {};
  std::vector<float> out(it->second.gram.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(it->second.gram[i] / static_cast<double>(it->second.counts[0]));
  }
  return out;
}

Status ImportanceMatrix::check_matches(const gguf::GgufFile& model) const {
  if (entries_.empty()) return invalid_argument("the importance matrix holds no entries");
  for (const auto& [name, entry] : entries_) {
    const gguf::TensorInfo* tensor = model.find_tensor(name);
    if (tensor == nullptr || tensor->shape.size() < 2) {
      return invalid_argument("the importance matrix has an entry for " + name + ", which " + model.path() +
                              " does not have as a matrix: it was made for another model");
    }
    const int64_t num_mats = static_cast<int64_t>(entry.counts.size());
    const int64_t cols = static_cast<int64_t>(entry.sum_squares.size()) / num_mats;
    const int64_t tensor_mats = tensor->shape.size() >= 3 ? tensor->shape[2] : 1;
    if (tensor->shape[0] != cols || tensor_mats != num_mats) {
      auto shape = [](int64_t mats, int64_t columns) {
        return (mats > 1 ? std::to_string(mats) + " experts x " : std::string()) + std::to_string(columns);
      };
      return invalid_argument("the importance matrix has " + shape(num_mats, cols) + " columns for " + name +
                              ", the tensor in " + model.path() + " has " + shape(tensor_mats, tensor->shape[0]) +
                              ": it was made for another model");
    }
  }
  return Status();
}

Status ImportanceMatrix::save(const std::string& path) const {
  gguf::GgufWriter writer;
  writer.set("general.type", gguf::MetadataValue::string("imatrix"));
  writer.set("imatrix.datasets", gguf::MetadataValue::string_array(datasets));
  writer.set("imatrix.chunk_count", gguf::MetadataValue::u32(static_cast<uint32_t>(num_chunks)));
  writer.set("imatrix.chunk_size", gguf::MetadataValue::u32(static_cast<uint32_t>(chunk_size)));
  for (const auto& [name, entry] : entries_) {
    const std::vector<float> sums(entry.sum_squares.begin(), entry.sum_squares.end());
    const std::vector<float> counts(entry.counts.begin(), entry.counts.end());
    const auto num_mats = static_cast<int64_t>(counts.size());
    const int64_t cols = static_cast<int64_t>(sums.size()) / num_mats;
    TS_RETURN_IF_ERROR(writer.add_tensor(name + kSumSuffix, DType::kF32, {cols, num_mats}, sums.data(),
                                         sums.size() * sizeof(float)));
    TS_RETURN_IF_ERROR(writer.add_tensor(name + kCountSuffix, DType::kF32, {1, num_mats}, counts.data(),
                                         counts.size() * sizeof(float)));
    if (!entry.gram.empty()) {
      const std::vector<float> gram(entry.gram.begin(), entry.gram.end());
      TS_RETURN_IF_ERROR(writer.add_tensor(name + kGramSuffix, DType::kF32, {cols, cols}, gram.data(),
                                           gram.size() * sizeof(float)));
    }
  }
  return writer.write(path);
}

Expected<ImportanceMatrix> ImportanceMatrix::load(const std::string& path) {
  TS_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(path));
  if (file->get_string("general.type").value_or("") != "imatrix") {
    return invalid_argument(path + ": not an importance matrix (general.type is not \"imatrix\")");
  }
  ImportanceMatrix matrix;
  if (const gguf::ArrayValue* sets = file->get_array("imatrix.datasets")) matrix.datasets = sets->strings;
  matrix.num_chunks = static_cast<int32_t>(file->get_int("imatrix.chunk_count").value_or(0));
  matrix.chunk_size = static_cast<int32_t>(file->get_int("imatrix.chunk_size").value_or(0));
  for (const gguf::TensorInfo& info : file->tensors()) {
    if (!ends_with(info.name, kSumSuffix)) continue;
    const std::string name = info.name.substr(0, info.name.size() - std::string(kSumSuffix).size());
    const gguf::TensorInfo* counts = file->find_tensor(name + kCountSuffix);
    if (info.type != DType::kF32 || counts == nullptr || counts->type != DType::kF32 || counts->num_elements() < 1) {
      return corrupt_data(path + ": " + name + " lacks f32 in_sum2/counts tensors");
    }
    const int64_t num_mats = info.shape.size() >= 2 ? info.shape[1] : 1;
    if (num_mats < 1 || counts->num_elements() != num_mats) {
      return corrupt_data(path + ": " + name + " has " + std::to_string(counts->num_elements()) + " counts for " +
                          std::to_string(num_mats) + " matrices");
    }
    const auto* sums = reinterpret_cast<const float*>(file->tensor_data(info));
    const auto* count_values = reinterpret_cast<const float*>(file->tensor_data(*counts));
    ImportanceEntry entry;
    entry.sum_squares.assign(sums, sums + info.num_elements());
    int64_t total = 0;
    for (int64_t m = 0; m < num_mats; ++m) {
      const float count = count_values[m];
      if (!std::isfinite(count) || count < 0) return corrupt_data(path + ": " + name + " has a bad count");
      entry.counts.push_back(static_cast<int64_t>(count));
      total += entry.counts.back();
    }
    for (double v : entry.sum_squares) {
      if (!std::isfinite(v) || v < 0) return corrupt_data(path + ": " + name + " holds a negative or non-finite sum");
    }
    if (total == 0) return corrupt_data(path + ": " + name + " has no tokens counted");
    if (const gguf::TensorInfo* gram = file->find_tensor(name + kGramSuffix)) {
      if (gram->type != DType::kF32 || gram->num_elements() != info.shape[0] * info.shape[0]) {
        return corrupt_data(path + ": " + name + kGramSuffix + " is not an f32 [" + std::to_string(info.shape[0]) +
                            ", " + std::to_string(info.shape[0]) + "] matrix");
      }
      const auto* values = reinterpret_cast<const float*>(file->tensor_data(*gram));
      entry.gram.assign(values, values + gram->num_elements());
      if (num_mats != 1) return corrupt_data(path + ": " + name + kGramSuffix + " on a tensor of several matrices");
    }
    matrix.entries_[name] = std::move(entry);
  }
  if (matrix.entries_.empty()) return invalid_argument(path + ": the importance matrix holds no entries");
  return matrix;
}

}  // namespace tessera::quantize
