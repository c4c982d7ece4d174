#include "golden.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tessera::testing {

std::string shared_dir() { return TESSERA_SHARED_DIR; }

GoldenFile load_golden(const std::string& name) {
  const std::string path = shared_dir() + "/golden/" + name + ".json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  const nlohmann::json doc = nlohmann::json::parse(in);
  GoldenFile golden;
  const std::string model_file = doc.at("model_file").get<std::string>();
  const bool synthetic = name.rfind("synthetic/", 0) == 0;
  const bool has_folder = model_file.find('/') != std::string::npos;
  golden.model_path = shared_dir() + "/models/" + (synthetic && !has_folder ? "synthetic/" : "") + model_file;
  for (const auto& c : doc.at("cases")) {
    GoldenCase gc;
    gc.prompt = c.at("prompt").get<std::string>();
    gc.prompt_ids = c.at("prompt_ids").get<std::vector<int32_t>>();
    auto read_top5 = [](const nlohmann::json& run) {
      std::vector<std::vector<std::pair<int32_t, float>>> top5;
      for (const auto& step : run.at("top5_per_step")) {
        std::vector<std::pair<int32_t, float>> entries;
        for (const auto& e : step) entries.emplace_back(e.at(0).get<int32_t>(), e.at(1).get<float>());
        top5.push_back(std::move(entries));
      }
      return top5;
    };
    const auto& run = c.at("greedy_kv_f32");
    gc.generated_ids = run.at("generated_ids").get<std::vector<int32_t>>();
    if (run.at("generated_text").is_string()) gc.generated_text = run.at("generated_text").get<std::string>();
    gc.top5 = read_top5(run);
    gc.first_step_logits = run.at("first_step_logits").get<std::vector<float>>();
    const auto& run_f16 = c.at("greedy_kv_f16");
    gc.generated_ids_kv_f16 = run_f16.at("generated_ids").get<std::vector<int32_t>>();
    gc.top5_kv_f16 = read_top5(run_f16);
    golden.cases.push_back(std::move(gc));
  }
  return golden;
}

}  // namespace tessera::testing
