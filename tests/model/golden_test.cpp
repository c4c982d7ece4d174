// Our forward pass against llama.cpp's recorded greedy runs (../shared/golden).
//  - f32 weights: free-running greedy ids must equal the reference exactly.
//  - quantized weights: teacher-forced logits of the golden top-5 within a tolerance, and
//    free-running ids equal up to the first step whose golden top-1/top-2 margin is a near-tie.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <tuple>

#include "golden.h"
#include "kernels/cpu/cpu_features.h"
#include "model/model.h"
#include "runtime/generator.h"

namespace tessera {
namespace {

using testing::GoldenCase;
using testing::GoldenFile;

struct GoldenParam {
  const char* name;         // golden file, without .json
  float logit_tolerance;    // max |ours - llama.cpp| over the golden top-5 of every step
  bool exact_ids;           // all 32 free-running ids must match
  double min_close_share = 0.5;  // share of teacher-forced steps within kCloseLogit of llama.cpp
};

// A step whose top-5 logits are all within this of llama.cpp's counts as "on the same path".
constexpr float kCloseLogit = 1e-3f;

// NOTE on tolerances (measured, see docs/correctness.md): f32 models agree with llama.cpp to
// 6e-5 at every step (the golden files print 6 significant digits). Quantized models agree to
// 5e-5 on most steps, but llama.cpp's SIMD float sums (softmax exp, f16 dots, accumulation order)
// differ from ours in the last bit, and now and then that flips the rounding of one 8-bit
// activation; on these tiny models one such flip moves a logit by up to ~0.15. So quantized runs
// are checked twice: a loose bound on every step, and a majority of steps on the exact path.
constexpr float kQuantizedTolerance = 0.3f;
// NOTE: the quantized files of the other architectures (random weights, d 128-256, llama.cpp
// 2026) are far more sensitive: in llama.cpp itself an F16 instead of F32 KV cache changes the
// greedy path of gemma3-d256-Q4_K_M from step 1. Here, teacher-forced, every step matches to
// 6e-5 until one step jumps (a flipped 8-bit activation rounding changes that position's K/V)
// and later steps then drift by up to 1.24 (gemma3-d256-Q4_K_M on every ISA, 47 of 96 steps
// within 1e-3) or 0.67 (qwen3-d256-Q4_K_M, scalar only; AVX2/AVX-512 match all 96 steps). A
// wrong graph shows from step 0 of every prompt, and the f32 files hold the graph to 1e-4.
constexpr float kSensitiveTolerance = 1.5f;
constexpr double kSensitiveCloseShare = 0.4;
// NOTE: gemma3's FFN rounds GELU's input and output to f16 (ggml's GELU table), so a last-bit
// difference in an f32 sum now and then moves one activation by an f16 step: the f32 file keeps
// every greedy id, but its logits differ from llama.cpp's by up to 3e-3 (1e-4 cannot hold).
constexpr float kGemmaF32Tolerance = 5e-3f;
// NOTE: synthetic Q6_K (every matrix Q6_K, d 256): the steps on llama.cpp's exact path depend on
// how a Q6_K row's sums are rounded. Scalar and AVX2 keep 63 of 96, the row-major AVX-512 kernel
// (16 float lanes per row, like llama.cpp's 8) kept 95; the repacked AVX-512 VNNI kernel sums each
// super-block exactly in int32 and converts it once, and keeps 44 (43 with one conversion per
// half). Its worst top-5 error stays the scalar reference's (0.176, under kQuantizedTolerance).
constexpr double kQ6KCloseShare = 0.4;
const GoldenParam kGoldenParams[] = {
    {"stories260K-f32", 2e-4f, true},
    {"stories260K-Q8_0", kQuantizedTolerance, false},
    {"stories260K-Q4_0", kQuantizedTolerance, false},
    {"stories260K-Q4_K_M", kQuantizedTolerance, false},
    {"TinyStories-656K-f32", 2e-4f, true},
    {"TinyStories-656K-Q8_0", kQuantizedTolerance, false},
    {"TinyStories-656K-Q4_0", kQuantizedTolerance, false},
    {"TinyStories-656K-Q4_K_M", kQuantizedTolerance, false},
    {"synthetic/synth-kq-d256-f32", 2e-4f, true},
    {"synthetic/synth-kq-d256-Q2_K", kQuantizedTolerance, false},
    {"synthetic/synth-kq-d256-Q3_K_M", kQuantizedTolerance, false},
    {"synthetic/synth-kq-d256-Q4_K_M", kQuantizedTolerance, false},
    {"synthetic/synth-kq-d256-Q5_K_M", kQuantizedTolerance, false},
    {"synthetic/synth-kq-d256-Q6_K", kQuantizedTolerance, false, kQ6KCloseShare},
    // The other architectures (llama.cpp 2026 goldens): MQA, qwen2 biases, qwen3 Q/K norms,
    // gemma3 sliding window + GeGLU + post norms, phi3 fused QKV and gate/up. The bound
    // for their f32 files is 1e-4.
    {"synthetic/synth-llama-mqa-d128-f32", 1e-4f, true},
    {"synthetic/synth-llama-mqa-d128-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-llama-mqa-d256-Q4_K_M", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-qwen2-d128-f32", 1e-4f, true},
    {"synthetic/synth-qwen2-d128-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-qwen2-d256-Q4_K_M", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-qwen3-d128-f32", 1e-4f, true},
    {"synthetic/synth-qwen3-d128-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-qwen3-d256-Q4_K_M", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-gemma3-d64-swa16-f32", kGemmaF32Tolerance, true},
    {"synthetic/synth-gemma3-d64-swa16-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    // 47 (AVX-512), 25 (scalar), 17 (AVX2) of 96 steps close; first steps all within 5e-5.
    {"synthetic/synth-gemma3-d256-swa16-Q4_K_M", kSensitiveTolerance, false, 0.1},
    // Mixture of experts: Mixtral-style llama and qwen3moe (softmax routing, top-2, renormalised).
    {"synthetic/synth-moe-d128-e8k2-f32", 1e-4f, true},
    {"synthetic/synth-moe-d128-e8k2-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-qwen3moe-d64-e8k2-f32", 1e-4f, true},
    {"synthetic/synth-qwen3moe-d64-e8k2-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-qwen3moe-d256-e4k2-Q4_K_M", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-phi3-d128-f32", 1e-4f, true},
    {"synthetic/synth-phi3-d128-Q8_0", kSensitiveTolerance, false, kSensitiveCloseShare},
    {"synthetic/synth-phi3-d256-Q4_K_M", kSensitiveTolerance, false, kSensitiveCloseShare},
};

// Every golden file runs once per instruction set (skipped where the CPU lacks it), so each
// SIMD kernel table is held to the same tolerances as the scalar reference.
using kernels::Isa;
const Isa kIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};

class GoldenTest : public ::testing::TestWithParam<std::tuple<GoldenParam, Isa>> {
 protected:
  static const GoldenParam& param() { return std::get<0>(GetParam()); }

  void SetUp() override {
    const Isa isa = std::get<1>(GetParam());
    if (!kernels::isa_supported(isa)) GTEST_SKIP() << kernels::isa_name(isa) << " not supported by this CPU";
    kernels::set_isa_override(isa);
    golden_ = testing::load_golden(param().name);
    auto model = Model::load(golden_.model_path);
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = std::move(model).value();
  }

  void TearDown() override { kernels::set_isa_override(std::nullopt); }

  // Logits after every prefix prompt + generated[0..i) for i < steps, from ONE batched forward.
  std::vector<float> teacher_forced_logits(const GoldenCase& c, size_t steps) {
    std::vector<int32_t> tokens = c.prompt_ids;
    tokens.insert(tokens.end(), c.generated_ids.begin(), c.generated_ids.begin() + static_cast<long>(steps - 1));
    const int32_t block_size = 16;
    std::vector<int32_t> block_table((tokens.size() + block_size - 1) / block_size);
    for (size_t i = 0; i < block_table.size(); ++i) block_table[i] = static_cast<int32_t>(block_table.size() - 1 - i);
    KvStorage kv(model_->config().num_layers, static_cast<int32_t>(block_table.size()), block_size,
                 model_->config().num_kv_heads, model_->config().head_dim);
    ForwardBatch batch;
    batch.add_sequence(tokens, 0, block_table, block_size, /*want_logits=*/false);
    for (size_t i = c.prompt_ids.size() - 1; i < tokens.size(); ++i) batch.logit_rows.push_back(static_cast<int32_t>(i));
    std::vector<float> logits(steps * static_cast<size_t>(model_->config().vocab_size));
    kernels::ExecutionContext context(pool_);
    model_->forward(batch, kv, logits.data(), context);
    return logits;
  }

  GoldenFile golden_;
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

TEST_P(GoldenTest, TeacherForcedTop5LogitsMatchReference) {
  const float tolerance = param().logit_tolerance;
  const int32_t vocab = model_->config().vocab_size;
  int num_steps = 0, num_close_steps = 0;
  for (const GoldenCase& c : golden_.cases) {
    const size_t steps = c.generated_ids.size();
    const std::vector<float> logits = teacher_forced_logits(c, steps);
    float worst = 0.0f;
    for (size_t step = 0; step < steps; ++step) {
      float step_worst = 0.0f;
      for (const auto& [id, expected] : c.top5[step]) {
        step_worst = std::max(step_worst, std::fabs(logits[step * vocab + id] - expected));
      }
      worst = std::max(worst, step_worst);
      num_steps += 1;
      num_close_steps += step_worst < kCloseLogit ? 1 : 0;
    }
    EXPECT_LT(worst, tolerance) << "prompt '" << c.prompt << "'";
    float worst_first = 0.0f;
    for (int32_t id = 0; id < vocab; ++id) worst_first = std::max(worst_first, std::fabs(logits[id] - c.first_step_logits[id]));
    EXPECT_LT(worst_first, tolerance) << "whole first-step logit vector, prompt '" << c.prompt << "'";
    std::printf("[ golden   ] %s '%s': max |dlogit| top5 %.5f, first step all-vocab %.5f\n", param().name,
                c.prompt.c_str(), worst, worst_first);
  }
  const double close_share = static_cast<double>(num_close_steps) / num_steps;
  std::printf("[ golden   ] %s: %d of %d steps within %.0e of llama.cpp\n", param().name, num_close_steps,
              num_steps, static_cast<double>(kCloseLogit));
  EXPECT_GE(close_share, param().min_close_share);
}

// Free-running greedy generation with our KV cache of `kv_type` against llama.cpp's run with the
// same cache type. The first divergence, if any, must fall on a step where llama.cpp itself had
// a near-tie (top-1/top-2 margin below the logit tolerance); after it the paths legitimately
// differ.
// A quantized cache (q8_0 / q4_0) is compared with the f16-cache run, with `tie_margin` in
// place of the model's logit tolerance: the 8-bit K/V move logits by far more than f16 does.
void expect_free_running_ids_match(Model& model, ThreadPool& pool, const GoldenFile& golden, const GoldenParam& param,
                                   DType kv_type, float tie_margin = 0.0f) {
  Generator generator(model, pool, 256, kv_type);
  SamplingParams params;
  params.temperature = 0.0f;
  const bool quantized = kernels::quantized_kv(kv_type);
  const bool f16 = kv_type == DType::kF16 || quantized;
  const float tolerance = quantized ? tie_margin : param.logit_tolerance;
  for (const GoldenCase& c : golden.cases) {
    const std::vector<int32_t>& expected = f16 ? c.generated_ids_kv_f16 : c.generated_ids;
    Sampler sampler(params);
    std::vector<int32_t> ids;
    auto result = generator.generate(c.prompt_ids, static_cast<int32_t>(expected.size()), sampler,
                                     [](int32_t) { return false; }, [&](int32_t id) { ids.push_back(id); });
    ASSERT_TRUE(result.ok()) << result.status().message();
    ASSERT_EQ(ids.size(), expected.size());
    size_t step = 0;
    while (step < ids.size() && ids[step] == expected[step]) ++step;
    if (step < ids.size()) {
      const float margin = f16 ? c.margin_kv_f16(step) : c.margin(step);
      if (!quantized) EXPECT_FALSE(param.exact_ids) << "prompt '" << c.prompt << "' diverges at step " << step;
      EXPECT_LT(margin, tolerance)
          << "prompt '" << c.prompt << "' diverges at step " << step << " where the reference margin is " << margin;
    }
    std::printf("[ golden   ] %s '%s' (KV %s): free-running ids equal for %zu of %zu steps (margin there %.4f)\n",
                param.name, c.prompt.c_str(), std::string(dtype_name(kv_type)).c_str(), step, ids.size(),
                step < ids.size() ? (f16 ? c.margin_kv_f16(step) : c.margin(step)) : 0.0f);
  }
}

TEST_P(GoldenTest, FreeRunningGreedyIdsMatchReference) {
  expect_free_running_ids_match(*model_, pool_, golden_, param(), DType::kF32);
}

TEST_P(GoldenTest, FreeRunningGreedyIdsWithF16KvCacheMatchReference) {
  expect_free_running_ids_match(*model_, pool_, golden_, param(), DType::kF16);
}

// A q8_0 cache against llama.cpp's f16-cache goldens, on the f32-weight models whose head size the
// 32-value blocks hold (the TinyStories / stories260K heads are 16 and 8: skipped; quantized
// weights add their own path differences). A divergence must fall on a step whose f16-run
// top-1/top-2 margin is below kQ8KvTieMargin: a near-tie at the scale q8_0 K/V moves logits.
// NOTE: measured (first divergence per prompt, 3 prompts x 32 steps, every ISA the same): the
// largest margin at a divergence is 0.149 (gemma3-d64 f32), then 0.077 (qwen3), 0.059 (qwen2),
// 0.037, 0.013, 0.012; llama-mqa and phi3 match all 96 steps. These synthetic models have random
// weights and flat logits; the f16 cache needs 2e-4 only because it is llama.cpp's own path.
constexpr float kQ8KvTieMargin = 0.25f;

TEST_P(GoldenTest, FreeRunningGreedyIdsWithQ8_0KvCacheMatchF16KvGoldens) {
  if (model_->config().head_dim % 32 != 0) GTEST_SKIP() << "head size " << model_->config().head_dim;
  if (!param().exact_ids) GTEST_SKIP() << "quantized weights";
  expect_free_running_ids_match(*model_, pool_, golden_, param(), DType::kQ8_0, kQ8KvTieMargin);
}

INSTANTIATE_TEST_SUITE_P(AllModels, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(kGoldenParams), ::testing::ValuesIn(kIsas)),
                         [](const ::testing::TestParamInfo<std::tuple<GoldenParam, Isa>>& info) {
                           std::string name = std::string(std::get<0>(info.param).name) + "_" +
                                              std::string(kernels::isa_name(std::get<1>(info.param)));
                           std::replace_if(name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
                           return name;
                         });

}  // namespace
}  // namespace tessera
