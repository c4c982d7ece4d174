// quantize_model against files llama.cpp's llama-quantize made from the same f32 inputs: the
// synthetic k-quant model (real Q2_K...Q6_K tensors) and the two TinyStories models' Q4_K_M
// (narrow rows: fallbacks). Whole files must be byte-identical: metadata, tensor order, types,
// offsets and data (the two stories260K legacy files were written by another tool: tensors only).
// On a difference the test reports which tensors differ and by how many bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/gguf_file.h"
#include "quantize/model_quantizer.h"
#include "quantize/tensor_type_choice.h"

namespace tessera::quantize {
namespace {

const std::string kModels = std::string(TESSERA_SHARED_DIR) + "/models/";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Per-tensor differences between two files, one line each; empty when every tensor matches.
std::string tensor_differences(const gguf::GgufFile& ours, const gguf::GgufFile& theirs) {
  std::ostringstream out;
  for (const gguf::TensorInfo& t : theirs.tensors()) {
    const gguf::TensorInfo* o = ours.find_tensor(t.name);
    if (o == nullptr) {
      out << t.name << ": missing\n";
      continue;
    }
    if (o->type != t.type || o->num_bytes != t.num_bytes) {
      out << t.name << ": " << dtype_name(o->type) << " vs " << dtype_name(t.type) << "\n";
      continue;
    }
    int64_t differing = 0;
    for (uint64_t b = 0; b < t.num_bytes; ++b) differing += ours.tensor_data(*o)[b] != theirs.tensor_data(t)[b];
    if (differing > 0) out << t.name << " (" << dtype_name(t.type) << "): " << differing << " bytes differ\n";
  }
  return out.str();
}

struct Case {
  std::string input;      // f32 file under models/
  std::string reference;  // llama.cpp's quantized file
  std::string type;       // recipe
  bool whole_file = true;  // false: the reference was written by another tool (llama.cpp's Python
                           // converter: file order, no quantization_version), so compare tensors only
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.reference; }

class LlamaCppFiles : public testing::TestWithParam<Case> {};

TEST_P(LlamaCppFiles, QuantizedFileIsByteIdentical) {
  const Case& c = GetParam();
  if (!std::filesystem::exists(kModels + c.reference)) GTEST_SKIP() << "no " << c.reference;
  auto input = gguf::GgufFile::open(kModels + c.input);
  ASSERT_TRUE(input.ok()) << input.status().message();
  // One path per case: ctest runs the cases in parallel.
  const std::string out_path =
      testing::TempDir() + "/quantized_" + std::filesystem::path(c.reference).stem().string() + ".gguf";
  ThreadPool pool(2);
  auto report = quantize_model(**input, out_path, QuantizeOptions{*file_type_from_name(c.type)}, nullptr, pool);
  ASSERT_TRUE(report.ok()) << report.status().message();
  auto ours = gguf::GgufFile::open(out_path);
  auto theirs = gguf::GgufFile::open(kModels + c.reference);
  ASSERT_TRUE(ours.ok() && theirs.ok());
  const std::string differences = tensor_differences(**ours, **theirs);
  EXPECT_EQ(differences, "") << c.reference;
  EXPECT_EQ((*ours)->tensors().size(), (*theirs)->tensors().size());
  if (c.whole_file) {
    EXPECT_TRUE(read_all(out_path) == read_all(kModels + c.reference)) << c.reference << " differs";
  }
  std::filesystem::remove(out_path);
}

INSTANTIATE_TEST_SUITE_P(
    Shared, LlamaCppFiles,
    testing::Values(Case{"synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q2_K.gguf", "Q2_K"},
                    Case{"synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q3_K_M.gguf", "Q3_K_M"},
                    Case{"synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q4_K_M.gguf", "Q4_K_M"},
                    Case{"synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q5_K_M.gguf", "Q5_K_M"},
                    Case{"synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q6_K.gguf", "Q6_K"},
                    Case{"TinyStories-656K-f32.gguf", "TinyStories-656K-Q4_K_M.gguf", "Q4_K_M"},
                    Case{"TinyStories-656K-f32.gguf", "TinyStories-656K-Q8_0.gguf", "Q8_0"},
                    Case{"TinyStories-656K-f32.gguf", "TinyStories-656K-Q4_0.gguf", "Q4_0"},
                    Case{"stories260K-f32.gguf", "stories260K-Q4_K_M.gguf", "Q4_K_M"},
                    // NOTE: stories260K-Q4_0.gguf is not compared: its converter kept output.weight in
                    // Q4_0, where llama-quantize's rule (and ours) gives it Q8_0.
                    Case{"stories260K-f32.gguf", "stories260K-Q8_0.gguf", "Q8_0", false},
                    // Mixtures of experts: 3-D expert tensors quantized per row, the router kept f32.
                    Case{"synthetic/synth-moe-d128-e8k2-f32.gguf", "synthetic/synth-moe-d128-e8k2-Q8_0.gguf", "Q8_0"},
                    Case{"synthetic/synth-qwen3moe-d64-e8k2-f32.gguf", "synthetic/synth-qwen3moe-d64-e8k2-Q8_0.gguf",
                         "Q8_0"}),
    [](const auto& info) {
      std::string name = info.param.reference.substr(info.param.reference.rfind('/') + 1);
      for (char& ch : name) if (ch == '-' || ch == '.') ch = '_';
      return name;
    });

// The Q4_K_M mix of every architecture's synthetic file, as llama-quantize typed it (phi3's fused
// attn_qkv takes attn_v's extra bits; per-head norms, biases and the router stay f32): the
// choices made from the names and shapes alone, with f32 inputs.
TEST(LlamaCppTypeChoices, EveryArchitecturesQ4KMMixMatchesLlamaQuantize) {
  for (const char* name : {"synth-phi3-d256-Q4_K_M", "synth-qwen3-d256-Q4_K_M", "synth-qwen2-d256-Q4_K_M",
                           "synth-gemma3-d256-swa16-Q4_K_M", "synth-llama-mqa-d256-Q4_K_M",
                           "synth-qwen3moe-d256-e4k2-Q4_K_M"}) {
    SCOPED_TRACE(name);
    const std::string path = kModels + "synthetic/" + name + ".gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    auto file = gguf::GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.status().message();
    const std::string arch = *(*file)->get_string("general.architecture");
    const ModelShapeInfo model{static_cast<int32_t>(*(*file)->get_int(arch + ".block_count")),
                               static_cast<int32_t>(*(*file)->get_int(arch + ".attention.head_count")),
                               static_cast<int32_t>(*(*file)->get_int(arch + ".attention.head_count_kv"))};
    std::vector<TensorShapeInfo> tensors;
    for (const gguf::TensorInfo& t : (*file)->tensors()) tensors.push_back({t.name, DType::kF32, t.shape});
    auto choices = choose_tensor_types(tensors, model, TypeChoiceOptions{FileType::kQ4_K_M, false, false, false});
    ASSERT_TRUE(choices.ok()) << choices.status().message();
    for (const TensorTypeChoice& c : *choices) {
      EXPECT_EQ(c.type, (*file)->find_tensor(c.name)->type) << c.name;
    }
  }
}

}  // namespace
}  // namespace tessera::quantize
