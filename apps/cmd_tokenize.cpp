// `tessera tokenize`: show how a model's tokenizer splits a text.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model_loading.h"

namespace tessera::app {
namespace {

struct TokenizeFlags {
  std::string model_path;
  std::string text;
  bool json = false;
  bool no_special = false;  // do not add BOS/EOS
};

int run_tokenize(TokenizeFlags f) {
  if (f.model_path.empty()) f.model_path = default_model_path();
  auto loaded = load_model(f.model_path, /*with_weights=*/false);
  if (!loaded.ok()) return fail(loaded.status().message());
  const Tokenizer& tokenizer = *loaded->tokenizer;
  const std::vector<int32_t> ids = tokenizer.encode(f.text, !f.no_special, /*parse_special=*/true);
  if (f.json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(tokenizer.token_to_piece(id));
    nlohmann::json out = {{"tokens", ids}, {"pieces", pieces}};
    std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  for (int32_t id : ids) {
    std::printf("%6d -> '%s'\n", id, tokenizer.token_to_piece(id).c_str());
  }
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Split a text into tokens");
  cmd->add_option("-m,--model", flags->model_path, "GGUF model or vocabulary file");
  cmd->add_option("-p,--prompt", flags->text, "Text to tokenize")->required();
  cmd->add_flag("--json", flags->json, "Print {\"tokens\": [...], \"pieces\": [...]}");
  cmd->add_flag("--no-special", flags->no_special, "Do not add BOS/EOS");
  return {cmd, [flags] { return run_tokenize(*flags); }};
}

}  // namespace tessera::app
