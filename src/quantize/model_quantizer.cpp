#include "quantize/model_quantizer.h"

#include <filesystem>

#include "base/progress.h"
#include "gguf/gguf_writer.h"
#include "quantize/importance_quantize.h"
#include "quantize/tensor_type_choice.h"
#include "tensor/quant.h"

namespace tessera::quantize {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION

Expected<ModelShapeInfo> read_model_shape(const gguf::GgufFile& input) {
  const std::string arch = input.get_string("general.architecture").value_or("");
  if (arch.empty()) return invalid_argument(input.path() + ": no general.architecture: not a model file");
  ModelShapeInfo shape;
  shape.num_layers = static_cast<int32_t>(input.get_int(arch + ".block_count").value_or(0));
  shape.num_heads = static_cast<int32_t>(input.get_int(arch + ".attention.head_count").value_or(0));
  shape.num_kv_heads = static_cast<int32_t>(input.get_int(arch + ".attention.head_count_kv").value_or(0));
  if (shape.num_layers <= 0) return invalid_argument(input.path() + ": no " + arch + ".block_count");
  return shape;
}

// The tensor as f32 rows ([num_elements] f32), from F32, F16 or BF16.
Expected<std::vector<float>> read_as_f32(const gguf::GgufFile& input, const gguf::TensorInfo& info) {
  if (traits(info.type).is_quantized) {
    return unsupported(input.path() + ": " + info.name + " is already " + std::string(dtype_name(info.type)) +
                       "; quantize from an F32, F16 or BF16 model");
  }
  std::vector<float> values(static_cast<size_t>(info.num_elements()));
  dequantize_row_ref(info.type, input.tensor_data(info), values.data(), info.num_elements());
  return values;
}

// Rows [0, num_rows) of `source` into `type`, each weighted by `importance` ([row_length] or empty).
std::string quantize_rows(const std::vector<float>& source, int64_t row_length, DType type,
                          const std::vector<float>& importance, const std::vector<float>& gram, ThreadPool& pool) {
  const int64_t num_rows = static_cast<int64_t>(source.size()) / row_length;
  const size_t bytes_per_row = row_bytes(type, row_length);
  std::string out(bytes_per_row * static_cast<size_t>(num_rows), '\0');
  const float* weights = importance.empty() ? nullptr : importance.data();
  const float* gram_or_null = gram.empty() ? nullptr : gram.data();
  pool.parallel_for(num_rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      quantize_row_with_importance(type, source.data() + r * row_length, out.data() + r * bytes_per_row, row_length,
                                   weights, gram_or_null);
    }
  });
  return out;
}

}  // namespace

Expected<QuantizeReport> quantize_model(const gguf::GgufFile& input, const std::string& output_path,
                                        const QuantizeOptions& options, const ImportanceMatrix* importance,
                                        ThreadPool& pool) {
  TS_ASSIGN_OR_RETURN(const ModelShapeInfo model_shape, read_model_shape(input));
  if (importance != nullptr) TS_RETURN_IF_ERROR(importance->check_matches(input));

  std::vector<TensorShapeInfo> tensors;
  for (const gguf::TensorInfo& info : input.tensors()) tensors.push_back({info.name, info.type, info.shape});
  sort_like_llama_cpp(tensors);
  TypeChoiceOptions choice_options{options.file_type, options.pure, options.leave_output_tensor, importance != nullptr};
  TS_ASSIGN_OR_RETURN(const std::vector<TensorTypeChoice> choices,
                      choose_tensor_types(tensors, model_shape, choice_options));

  gguf::GgufWriter writer(input.alignment());
  // llama.cpp copies every key, then re-adds these two at the end (its gguf_set_* moves a key).
  for (const gguf::MetadataEntry& entry : input.metadata()) {
    if (entry.key == "general.file_type" || entry.key == "general.quantization_version") continue;
    writer.set(entry.key, entry.value);
  }
  writer.set("general.quantization_version", gguf::MetadataValue::u32(kQuantizationVersion));
  writer.set("general.file_type", gguf::MetadataValue::u32(static_cast<uint32_t>(options.file_type)));

  QuantizeReport report;
  ProgressBar progress("quantize", static_cast<int64_t>(choices.size()), "tensors");
  for (const TensorTypeChoice& choice : choices) {
    const gguf::TensorInfo& info = *input.find_tensor(choice.name);
    TensorReport tensor{choice.name, info.type, choice.type, info.num_bytes, info.num_bytes, false, choice.fallback};
    if (!choice.quantize) {
      TS_RETURN_IF_ERROR(writer.add_tensor(info.name, info.type, info.shape, input.tensor_data(info), info.num_bytes));
    } else {
      TS_ASSIGN_OR_RETURN(const std::vector<float> source, read_as_f32(input, info));
      std::vector<float> weights, gram;
      if (importance != nullptr) {
        weights = importance->mean_squares(info.name);
        gram = importance->mean_gram(info.name);
      }
      tensor.used_importance = !weights.empty() && choice.type != DType::kQ8_0 && traits(choice.type).is_quantized;
      // An expert tensor ([cols, rows, experts]) is quantized expert by expert, each with its
      // own importance (llama-quantize's per-expert imatrix slice).
      const int64_t cols = info.shape[0];
      const int64_t num_mats = info.shape.size() >= 3 ? info.shape[2] : 1;
      std::string bytes;
      if (num_mats > 1 && static_cast<int64_t>(weights.size()) == cols * num_mats) {
        const size_t per_mat = source.size() / static_cast<size_t>(num_mats);
        for (int64_t m = 0; m < num_mats; ++m) {
          const std::vector<float> slice(source.begin() + static_cast<std::ptrdiff_t>(m * per_mat),
                                         source.begin() + static_cast<std::ptrdiff_t>((m + 1) * per_mat));
          const std::vector<float> mat_weights(weights.begin() + m * cols, weights.begin() + (m + 1) * cols);
          bytes += quantize_rows(slice, cols, choice.type, mat_weights, {}, pool);
        }
      } else {
        bytes = quantize_rows(source, cols, choice.type, weights, gram, pool);
      }
      TS_RETURN_IF_ERROR(writer.add_tensor(info.name, choice.type, info.shape, bytes.data(), bytes.size()));
      tensor.bytes_out = bytes.size();
    }
    report.tensors.push_back(std::move(tensor));
    progress.add();
  }
  progress.finish();
  TS_RETURN_IF_ERROR(writer.write(output_path));
  std::error_code error;
  report.output_file_bytes = std::filesystem::file_size(output_path, error);
  return report;
}

}  // namespace tessera::quantize
