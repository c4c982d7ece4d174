// Reading ../shared/golden/*.json (schema tessera-golden/v1): llama.cpp's greedy runs.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera::testing {

struct GoldenCase {
  std::string prompt;
  std::vector<int32_t> prompt_ids;                            // with BOS
  std::vector<int32_t> generated_ids;                         // greedy_kv_f32
  std::vector<std::vector<std::pair<int32_t, float>>> top5;   // [step][5] (id, logit)
  std::vector<float> first_step_logits;                       // [vocab] after the prompt
  std::string generated_text;
  // llama.cpp's run with its default F16 KV cache (greedy_kv_f16).
  std::vector<int32_t> generated_ids_kv_f16;
  std::vector<std::vector<std::pair<int32_t, float>>> top5_kv_f16;

  // top-1 minus top-2 logit of the golden run at `step`.
  float margin(size_t step) const { return top5[step][0].second - top5[step][1].second; }
  float margin_kv_f16(size_t step) const { return top5_kv_f16[step][0].second - top5_kv_f16[step][1].second; }
};

struct GoldenFile {
  std::string model_path;  // absolute path of the model in ../shared/models
  std::vector<GoldenCase> cases;
};

std::string shared_dir();
// Loads golden/<name>.json; name like "stories260K-f32" or "synthetic/synth-kq-d256-Q4_K_M".
GoldenFile load_golden(const std::string& name);

}  // namespace tessera::testing
