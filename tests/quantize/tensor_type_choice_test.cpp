// The per-tensor types of llama.cpp's mixes and its fallbacks for narrow rows.
#include "quantize/tensor_type_choice.h"

#include <gtest/gtest.h>

#include <map>

namespace tessera::quantize {
namespace {

// A llama model's tensor list: hidden x ffn, `layers` blocks, optional separate output.
std::vector<TensorShapeInfo> llama_tensors(int64_t hidden, int64_t kv, int64_t ffn, int layers, bool tied) {
  std::vector<TensorShapeInfo> t = {{"token_embd.weight", DType::kF32, {hidden, 512}},
                                    {"output_norm.weight", DType::kF32, {hidden}}};
  if (!tied) t.push_back({"output.weight", DType::kF32, {hidden, 512}});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", DType::kF32, {hidden}});
    t.push_back({p + "attn_q.weight", DType::kF32, {hidden, hidden}});
    t.push_back({p + "attn_k.weight", DType::kF32, {hidden, kv}});
    t.push_back({p + "attn_v.weight", DType::kF32, {hidden, kv}});
    t.push_back({p + "attn_output.weight", DType::kF32, {hidden, hidden}});
    t.push_back({p + "ffn_norm.weight", DType::kF32, {hidden}});
    t.push_back({p + "ffn_gate.weight", DType::kF32, {hidden, ffn}});
    t.push_back({p + "ffn_up.weight", DType::kF32, {hidden, ffn}});
    t.push_back({p + "ffn_down.weight", DType::kF32, {ffn, hidden}});
  }
  sort_like_llama_cpp(t);
  return t;
}

std::map<std::string, DType> types_of(const std::vector<TensorShapeInfo>& tensors, const ModelShapeInfo& model,
                                      FileType file_type, bool pure = false) {
  auto choices = choose_tensor_types(tensors, model, TypeChoiceOptions{file_type, pure, false, false});
  EXPECT_TRUE(choices.ok()) << choices.status().message();
  std::map<std::string, DType> out;
  for (const auto& c : *choices) out[c.name] = c.type;
  return out;
}

TEST(FileType, ParsesNamesAndLlamaQuantizeAliases) {
  EXPECT_EQ(file_type_from_name("q4_k_m"), FileType::kQ4_K_M);
  EXPECT_EQ(file_type_from_name("Q4_K"), FileType::kQ4_K_M);
  EXPECT_EQ(file_type_from_name("Q3_K"), FileType::kQ3_K_M);
  EXPECT_EQ(file_type_from_name("Q8_0"), FileType::kQ8_0);
  EXPECT_FALSE(file_type_from_name("IQ2_XXS").has_value());
  EXPECT_EQ(static_cast<uint32_t>(FileType::kQ4_K_M), 15u);  // general.file_type of llama.cpp's files
  EXPECT_EQ(default_tensor_type(FileType::kQ5_K_M), DType::kQ5_K);
}

TEST(TensorTypeChoice, SortsLikeLlamaCpp) {
  auto t = llama_tensors(256, 128, 768, 11, false);
  EXPECT_EQ(t[0].name, "output.weight");
  EXPECT_EQ(t[1].name, "output_norm.weight");
  EXPECT_EQ(t[2].name, "token_embd.weight");
  EXPECT_EQ(t[3].name, "blk.0.attn_k.weight");
  EXPECT_EQ(t.back().name, "blk.10.ffn_up.weight");  // by layer number, not "blk.10" < "blk.2"
}

// The synthetic d256 model's mixes, as found in llama.cpp's files (see the model test for bytes).
TEST(TensorTypeChoice, MixesOfATwoLayerModel) {
  const auto t = llama_tensors(256, 128, 768, 2, false);
  const ModelShapeInfo m{2, 8, 4};
  auto q4km = types_of(t, m, FileType::kQ4_K_M);
  EXPECT_EQ(q4km["output.weight"], DType::kQ6_K);
  EXPECT_EQ(q4km["token_embd.weight"], DType::kQ4_K);
  EXPECT_EQ(q4km["blk.0.attn_v.weight"], DType::kQ4_K);
  EXPECT_EQ(q4km["blk.1.attn_v.weight"], DType::kQ6_K);  // use_more_bits(1, 2): the last eighth
  EXPECT_EQ(q4km["blk.1.ffn_down.weight"], DType::kQ6_K);
  EXPECT_EQ(q4km["blk.0.attn_norm.weight"], DType::kF32);
  auto q2k = types_of(t, m, FileType::kQ2_K);
  EXPECT_EQ(q2k["blk.0.attn_v.weight"], DType::kQ3_K);  // GQA 2 < 4
  EXPECT_EQ(q2k["blk.0.ffn_down.weight"], DType::kQ3_K);
  EXPECT_EQ(q2k["blk.0.attn_output.weight"], DType::kQ3_K);
  EXPECT_EQ(q2k["blk.0.ffn_up.weight"], DType::kQ2_K);
  auto q3km = types_of(t, m, FileType::kQ3_K_M);
  EXPECT_EQ(q3km["blk.1.attn_v.weight"], DType::kQ5_K);  // the first two attn_v
  EXPECT_EQ(q3km["blk.0.ffn_down.weight"], DType::kQ4_K);
  EXPECT_EQ(q3km["blk.0.attn_output.weight"], DType::kQ4_K);
  auto pure = types_of(t, m, FileType::kQ4_K_M, /*pure=*/true);
  EXPECT_EQ(pure["output.weight"], DType::kQ4_K);
  EXPECT_EQ(pure["blk.1.ffn_down.weight"], DType::kQ4_K);
}

TEST(TensorTypeChoice, UseMoreBitsPattern) {
  const auto t = llama_tensors(256, 128, 768, 16, false);
  auto q4km = types_of(t, ModelShapeInfo{16, 8, 4}, FileType::kQ4_K_M);
  std::string six;
  for (int i = 0; i < 16; ++i) six += q4km["blk." + std::to_string(i) + ".ffn_down.weight"] == DType::kQ6_K ? '6' : '4';
  // i < 2, i >= 14, or (i - 2) % 3 == 2: layers 0, 1, 4, 7, 10, 13, 14, 15.
  EXPECT_EQ(six, "6644644644644666");
}

// Rows of 128 (TinyStories-656K, tied embeddings) and 64/172 (stories260K).
TEST(TensorTypeChoice, FallbacksForNarrowRows) {
  const ModelShapeInfo m656{2, 8, 4};
  auto q4km = types_of(llama_tensors(128, 64, 384, 2, true), m656, FileType::kQ4_K_M);
  EXPECT_EQ(q4km["token_embd.weight"], DType::kQ8_0);  // tied: the output rule, 128 % 256 != 0
  EXPECT_EQ(q4km["blk.0.attn_q.weight"], DType::kQ5_0);  // Q4_K -> Q5_0
  EXPECT_EQ(q4km["blk.1.attn_v.weight"], DType::kQ8_0);  // Q6_K -> Q8_0
  auto q5km = types_of(llama_tensors(128, 64, 384, 2, true), m656, FileType::kQ5_K_M);
  EXPECT_EQ(q5km["blk.0.attn_q.weight"], DType::kQ5_1);  // Q5_K -> Q5_1
  auto q2k = types_of(llama_tensors(128, 64, 384, 2, true), m656, FileType::kQ2_K);
  EXPECT_EQ(q2k["blk.0.attn_q.weight"], DType::kQ4_0);  // Q2_K -> Q4_0
  const ModelShapeInfo m260{5, 8, 4};
  auto q4_0 = types_of(llama_tensors(64, 32, 172, 5, false), m260, FileType::kQ4_0);
  EXPECT_EQ(q4_0["blk.0.ffn_down.weight"], DType::kF16);  // 172 % 32 != 0
  EXPECT_EQ(q4_0["blk.0.ffn_up.weight"], DType::kQ4_0);
  EXPECT_EQ(q4_0["output.weight"], DType::kQ8_0);  // output rule Q6_K, then 64 % 256: Q8_0
}

// Phi-3's fused QKV holds V: llama.cpp's category_is_attn_v gives it attn_v's extra bits and
// counter. Per-head Q/K norms are 1-D: never quantized.
TEST(TensorTypeChoice, FusedQkvGetsAttnVBitsAndHeadNormsStayF32) {
  std::vector<TensorShapeInfo> t = {{"token_embd.weight", DType::kF32, {256, 512}},
                                    {"output.weight", DType::kF32, {256, 512}}};
  for (int i = 0; i < 16; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_qkv.weight", DType::kF32, {256, 768}});
    t.push_back({p + "attn_q_norm.weight", DType::kF32, {64}});
    t.push_back({p + "attn_k_norm.weight", DType::kF32, {64}});
    t.push_back({p + "ffn_down.weight", DType::kF32, {512, 256}});
  }
  const ModelShapeInfo m{16, 4, 4};
  auto q4km = types_of(t, m, FileType::kQ4_K_M);
  std::string six;
  for (int i = 0; i < 16; ++i) six += q4km["blk." + std::to_string(i) + ".attn_qkv.weight"] == DType::kQ6_K ? '6' : '4';
  EXPECT_EQ(six, "6644644644644666");  // use_more_bits over the 16 attn_qkv, as attn_v
  EXPECT_EQ(q4km["blk.0.attn_q_norm.weight"], DType::kF32);
  EXPECT_EQ(q4km["blk.0.attn_k_norm.weight"], DType::kF32);
  auto q3km = types_of(t, m, FileType::kQ3_K_M);
  EXPECT_EQ(q3km["blk.1.attn_qkv.weight"], DType::kQ5_K);  // the first two attn_v-like
  EXPECT_EQ(q3km["blk.2.attn_qkv.weight"], DType::kQ4_K);
  auto q2k = types_of(t, m, FileType::kQ2_K);
  EXPECT_EQ(q2k["blk.0.attn_qkv.weight"], DType::kQ3_K);  // GQA 1 < 4
  auto q4_0 = types_of(t, m, FileType::kQ4_0);
  EXPECT_EQ(q4_0["blk.0.attn_qkv.weight"], DType::kQ4_0);
  EXPECT_EQ(q4_0["blk.0.attn_q_norm.weight"], DType::kF32);
}

TEST(TensorTypeChoice, PureRejectsATensorTooNarrowForTheType) {
  auto choices = choose_tensor_types(llama_tensors(128, 64, 384, 2, true), ModelShapeInfo{2, 8, 4},
                                     TypeChoiceOptions{FileType::kQ4_K_M, /*pure=*/true, false, false});
  ASSERT_FALSE(choices.ok());
  EXPECT_NE(choices.status().message().find("rows of 128 are not a multiple of 256"), std::string::npos)
      << choices.status().message();
}

TEST(TensorTypeChoice, LeaveOutputTensorKeepsItsType) {
  auto choices = choose_tensor_types(llama_tensors(256, 128, 768, 2, false), ModelShapeInfo{2, 8, 4},
                                     TypeChoiceOptions{FileType::kQ4_K_M, false, /*leave_output_tensor=*/true, false});
  ASSERT_TRUE(choices.ok());
  EXPECT_EQ((*choices)[0].name, "output.weight");
  EXPECT_EQ((*choices)[0].type, DType::kF32);
  EXPECT_FALSE((*choices)[0].quantize);
}

}  // namespace
}  // namespace tessera::quantize
