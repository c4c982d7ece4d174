// Opening a model file with its tokenizer, shared by the subcommands.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tessera::app {

struct LoadedModel {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Model> model;          // null when only the tokenizer was asked for
  std::unique_ptr<Tokenizer> tokenizer;
};

Expected<LoadedModel> load_model(const std::string& path, bool with_weights, const ModelOptions& options = {});

}  // namespace tessera::app
