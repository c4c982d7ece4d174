#include "model_loading.h"

namespace tessera::app {

Expected<LoadedModel> load_model(const std::string& path, bool with_weights, const ModelOptions& options) {
  LoadedModel loaded;
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) return file.status();
  loaded.file = std::move(file).value();
  auto tokenizer = Tokenizer::from_gguf(*loaded.file);
  if (!tokenizer.ok()) return tokenizer.status();
  loaded.tokenizer = std::move(tokenizer).value();
  if (with_weights) {
    auto model = Model::load(loaded.file, options);
    if (!model.ok()) return model.status();
    loaded.model = std::move(model).value();
  }
  return loaded;
}

}  // namespace tessera::app
