#include "model/model.h"

#include "model/arch/architecture.h"
#include "model/decoder_model.h"
#include "model/distributed.h"

namespace tessera {

Expected<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelOptions& options) {
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) return file.status();
  return load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), options);
}

Expected<std::unique_ptr<Model>> Model::load(std::shared_ptr<const gguf::GgufFile> file, const ModelOptions& options) {
  if (!options.parallel.single()) return load_parallel_model(std::move(file), options);
  TS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
  const Architecture* arch = find_architecture(config.architecture);  // read_model_config checked it
  TS_ASSIGN_OR_RETURN(DecoderWeights weights, load_decoder_weights(*file, config, *arch));
  return DecoderModel::create(std::move(file), std::move(config), std::move(weights), options);
}

}  // namespace tessera
