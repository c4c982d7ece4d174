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
    const auto& run = c.at("greedy_kv_f32");
    gc.generated_ids = run.at("generated_ids").get<std::vector<int32_t>>();
    if (run.at("generated_text").is_string()) gc.generated_text = run.at("generated_text").get<std::string>();
    for (const auto& step : run.at("top5_per_step")) {
      std::vector<std::pair<int32_t, float>> entries;
      for (const auto& e : step) entries.emplace_back(e.at(0).get<int32_t>(), e.at(1).get<float>());
      gc.top5.push_back(std::move(entries));
    }
    gc.first_step_logits = run.at("first_step_logits").get<std::vector<float>>();
    golden.cases.push_back(std::move(gc));
  }
  return golden;
}

}  // namespace tessera::testing
