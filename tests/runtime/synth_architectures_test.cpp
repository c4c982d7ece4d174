// `tessera synth` writes models of every architecture Tessera runs: the tiny shape of each loads,
// holds exactly its architecture's tensor table in the quantizer's types, reads back the config
// it was written from, and runs forward. The real shapes are checked without writing their
// weights (hundreds of MB): their configs and metadata only.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <unistd.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/model_config_writer.h"
#include "model/tensor_names.h"
#include "runtime/generator.h"
#include "runtime/synth_model.h"
#include "runtime/synth_vocab.h"
#include "tokenizer/tokenizer.h"

namespace tessera {
namespace {

using quantize::FileType;

const std::string kVocabDir = std::string(TESSERA_SHARED_DIR) + "/models/vocab/";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tessera_synth_arch_" + std::to_string(getpid()) + "_" + name))
      .string();
}

// The hyper-parameters the loader read back are those synth wrote.
void expect_same_config(const ModelConfig& read, const ModelConfig& written) {
  EXPECT_EQ(read.architecture, written.architecture);
  EXPECT_EQ(read.num_layers, written.num_layers);
  EXPECT_EQ(read.hidden_dim, written.hidden_dim);
  EXPECT_EQ(read.ffn_dim, written.ffn_dim);
  EXPECT_EQ(read.num_heads, written.num_heads);
  EXPECT_EQ(read.num_kv_heads, written.num_kv_heads);
  EXPECT_EQ(read.head_dim, written.head_dim);
  EXPECT_EQ(read.context_length, written.context_length);
  EXPECT_EQ(read.tied_embeddings, written.tied_embeddings);
  EXPECT_FLOAT_EQ(read.rms_norm_eps, written.rms_norm_eps);
  EXPECT_FLOAT_EQ(read.rope.freq_base, written.rope.freq_base);
  EXPECT_FLOAT_EQ(read.rope.freq_scale, written.rope.freq_scale);
  EXPECT_EQ(read.rope.rot_dims, written.rope.rot_dims);
  EXPECT_EQ(read.rope.order, written.rope.order);
  EXPECT_EQ(read.sliding_window, written.sliding_window);
  EXPECT_FLOAT_EQ(read.rope_local.freq_base, written.rope_local.freq_base);
  EXPECT_FLOAT_EQ(read.rope_local.freq_scale, written.rope_local.freq_scale);
}

class SynthArchitectureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SynthArchitectureTest, TinyShapeLoadsHoldsItsTensorTableAndRunsForward) {
  const SynthShape shape = *synth_shape(GetParam());
  SynthOptions options;
  options.shape = shape;
  options.type = FileType::kQ4_K_M;
  options.vocab_path = kVocabDir + shape.vocab_file;
  options.num_threads = 2;
  const std::string path = temp_path(shape.name + ".gguf");
  ASSERT_TRUE(write_synth_model(options, path).ok());

  ModelConfig written = shape.config;
  written.vocab_size = 32000;  // the llama-spm vocabulary's
  const Architecture* arch = find_architecture(written.architecture);
  ASSERT_NE(arch, nullptr);
  const std::vector<TensorSpec> table = tensor_table(written, arch->recipe);
  auto plan = synth_tensor_plan(written, options.type);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  {
    auto file = gguf::GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.status().message();
    const auto& tensors = (*file)->tensors();
    ASSERT_EQ(tensors.size(), table.size());
    for (size_t i = 0; i < table.size(); ++i) {
      EXPECT_EQ(tensors[i].name, table[i].name);
      EXPECT_EQ(tensors[i].shape, table[i].shape) << table[i].name;
      EXPECT_EQ(tensors[i].type, (*plan)[i].type) << table[i].name;
      if (table[i].is_vector) {
        EXPECT_EQ(tensors[i].type, DType::kF32) << table[i].name;
      }
    }
    EXPECT_EQ((*file)->get_string("general.architecture"), written.architecture);
  }

  ModelOptions model_options;
  model_options.max_context = 64;
  auto model = Model::load(path, model_options);
  std::filesystem::remove(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->config().vocab_size, 32000);
  expect_same_config((*model)->config(), written);

  // A prompt longer than tiny-gemma3's 16-token window, so its local layers slide.
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 24; ++i) prompt.push_back(100 + 37 * i);
  ThreadPool pool(2);
  Generator generator(**model, pool, 64);
  SamplingParams sampling;
  sampling.temperature = 0.0f;
  Sampler sampler(sampling);
  auto result = generator.generate(prompt, 4, sampler, [](int32_t) { return false; }, [](int32_t) {});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tokens.size(), 4u);
  for (int32_t id : result->tokens) EXPECT_TRUE(id >= 0 && id < 32000);
}

INSTANTIATE_TEST_SUITE_P(Shapes, SynthArchitectureTest,
                         ::testing::Values("tiny", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3", "tiny-qwen3moe"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(SynthShapeTest, Qwen3HasTheRealModelsDims) {
  auto shape = synth_shape("qwen3-0.6b");
  ASSERT_TRUE(shape.has_value());
  const ModelConfig& c = shape->config;
  EXPECT_EQ(c.architecture, "qwen3");
  EXPECT_EQ(c.hidden_dim, 1024);
  EXPECT_EQ(c.num_layers, 28);
  EXPECT_EQ(c.num_heads, 16);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.ffn_dim, 3072);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FLOAT_EQ(c.rope.freq_base, 1e6f);
  EXPECT_EQ(c.rope.rot_dims, 128);
  EXPECT_EQ(c.rope.order, kernels::RopeOrder::kNeox);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_EQ(shape->vocab_file, "ggml-vocab-qwen3.gguf");
  auto plan = synth_tensor_plan(c, FileType::kQ4_0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  // token_embd, output_norm, then 11 per layer (norms, q/k/v, q/k norms, output, gate/up/down).
  EXPECT_EQ(plan->size(), 2u + 28u * 11u);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const SynthTensor& t : *plan) shapes[t.spec.name] = t.spec.shape;
  EXPECT_EQ(shapes["blk.0.attn_q.weight"], (std::vector<int64_t>{1024, 2048}));
  EXPECT_EQ(shapes["blk.0.attn_k.weight"], (std::vector<int64_t>{1024, 1024}));
  EXPECT_EQ(shapes["blk.27.attn_output.weight"], (std::vector<int64_t>{2048, 1024}));
  EXPECT_EQ(shapes["blk.0.attn_q_norm.weight"], (std::vector<int64_t>{128}));
  EXPECT_EQ(shapes["token_embd.weight"], (std::vector<int64_t>{1024, 151936}));
}

// Each real shape's metadata, written without its weights (one 1-row token_embd stands in so the
// loader can read the file), reads back as the shape's config: the keys are the ones llama.cpp
// reads for its architecture.
TEST(SynthShapeTest, RealShapesMetadataReadsBackAsTheirConfig) {
  for (const char* name : {"qwen3-0.6b", "gemma3-1b", "phi3-mini", "smollm-135m", "tinyllama-1.1b"}) {
    SCOPED_TRACE(name);
    const ModelConfig written = synth_shape(name)->config;
    gguf::GgufWriter writer;
    write_model_config(written, writer);
    const std::vector<float> row(static_cast<size_t>(written.hidden_dim), 0.0f);
    ASSERT_TRUE(writer.add_tensor(tensor_name(TensorKind::kTokenEmbedding), DType::kF32, {written.hidden_dim, 1},
                                  row.data(), row.size() * sizeof(float)).ok());
    auto file = gguf::GgufFile::from_bytes(writer.to_bytes());
    ASSERT_TRUE(file.ok()) << file.status().message();
    auto read = read_model_config(**file);
    ASSERT_TRUE(read.ok()) << read.status().message();
    ModelConfig expected = written;
    expected.tied_embeddings = true;  // no output.weight in this stand-in
    expect_same_config(*read, expected);
  }
  // Gemma-3-1B: window 512 on 5 of every 6 layers, local RoPE base 1e4, no global scaling.
  const ModelConfig gemma = synth_shape("gemma3-1b")->config;
  EXPECT_EQ(gemma.sliding_window, 512);
  EXPECT_FLOAT_EQ(gemma.rope.freq_scale, 1.0f);
  EXPECT_FLOAT_EQ(gemma.rope_local.freq_base, 1e4f);
  EXPECT_EQ(gemma.head_dim, 256);
  EXPECT_EQ(gemma.num_kv_heads, 1);
  EXPECT_EQ(gemma.vocab_size, 262144);
  const ModelConfig phi3 = synth_shape("phi3-mini")->config;
  EXPECT_EQ(phi3.head_dim, 96);
  EXPECT_EQ(phi3.vocab_size, 32064);
  EXPECT_FALSE(phi3.tied_embeddings);
}

TEST(SynthVocabularyTest, PlaceholderTokensTokenizeByByteFallback) {
  auto vocab = synth_vocabulary("", 300);
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  EXPECT_EQ(vocab->vocab_size, 300);
  gguf::GgufWriter writer;
  for (const gguf::MetadataEntry& e : vocab->metadata) writer.set(e.key, e.value);
  auto file = gguf::GgufFile::from_bytes(writer.to_bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  EXPECT_EQ((*tokenizer)->vocab_size(), 300);
  EXPECT_EQ((*tokenizer)->decode((*tokenizer)->encode("hi there", false, false)), " hi there");
  EXPECT_FALSE(synth_vocabulary("", 100).ok());  // cannot even hold the byte tokens
}

TEST(SynthVocabularyTest, ASmallerVocabularyFileIsPaddedAsLlamaCppDoes) {
  auto vocab = synth_vocabulary(kVocabDir + "ggml-vocab-llama-spm.gguf", 32064);
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  EXPECT_EQ(vocab->vocab_size, 32064);
  for (const gguf::MetadataEntry& e : vocab->metadata) {
    const auto* array = std::get_if<gguf::ArrayValue>(&e.value.data);
    if (array == nullptr || e.key == "tokenizer.ggml.merges") continue;
    EXPECT_EQ(array->size(), 32064u) << e.key;
    if (e.key == "tokenizer.ggml.tokens") {
      EXPECT_EQ(array->strings.back(), "[PAD32063]");
    }
  }
  auto own_size = synth_vocabulary(kVocabDir + "ggml-vocab-llama-spm.gguf", 0);
  ASSERT_TRUE(own_size.ok());
  EXPECT_EQ(own_size->vocab_size, 32000);
  EXPECT_FALSE(synth_vocabulary(kVocabDir + "ggml-vocab-llama-spm.gguf", 1000).ok());  // would drop tokens
}

}  // namespace
}  // namespace tessera
