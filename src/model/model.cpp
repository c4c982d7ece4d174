#include "model/model.h"

#include "model/arch/llama.h"

namespace tessera {

Expected<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelOptions& options) {
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) return file.status();
  return load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), options);
}

Expected<std::unique_ptr<Model>> Model::load(std::shared_ptr<const gguf::GgufFile> file, const ModelOptions& options) {
  auto config = read_model_config(*file);
  if (!config.ok()) return config.status();
  // Every supported architecture is llama-shaped today; read_model_config rejects the rest.
  return LlamaModel::create(std::move(file), std::move(config).value(), options);
}

}  // namespace tessera
