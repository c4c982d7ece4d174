// Fuzzes the GGUF reader: any byte string must either be rejected with a Status or give a file
// whose every metadata value and tensor byte range can be read (ASan catches a read past the end).
// Also loads the tokenizer from the parsed metadata: malformed tokenizer.* arrays must be rejected.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "gguf/gguf_file.h"
#include "model/arch/architecture.h"
#include "tokenizer/tokenizer.h"

using tessera::gguf::GgufFile;
using tessera::gguf::TensorInfo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = GgufFile::from_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!file.ok()) {
    TS_CHECK(!file.status().message().empty(), "rejection without a message");
    return 0;
  }
  const GgufFile& f = **file;
  TS_CHECK(f.alignment() > 0, "alignment 0 accepted");
  for (const auto& entry : f.metadata()) {
    (void)f.get_int(entry.key);
    (void)f.get_float(entry.key);
    (void)f.get_string(entry.key);
    if (const auto* array = f.get_array(entry.key)) (void)array->size();
  }
  volatile uint8_t sink = 0;
  for (const TensorInfo& info : f.tensors()) {
    // Overflow-free form of data_offset + offset + num_bytes <= file_bytes.
    TS_CHECK(f.data_offset() <= f.file_bytes() && info.offset <= f.file_bytes() - f.data_offset() &&
                 info.num_bytes <= f.file_bytes() - f.data_offset() - info.offset,
             "tensor %s runs past the end of the file", info.name.c_str());
    (void)info.num_elements();
    const uint8_t* bytes = f.tensor_data(info);
    if (info.num_bytes > 0) sink = sink + bytes[0] + bytes[info.num_bytes - 1];  // first and last byte
    TS_CHECK(f.find_tensor(info.name) != nullptr, "tensor %s not found by name", info.name.c_str());
  }
  auto tokenizer = tessera::Tokenizer::from_gguf(f);
  if (tokenizer.ok()) {
    const auto ids = (*tokenizer)->encode("Hello world, 123 <s>!", true, true);
    for (int32_t id : ids) TS_CHECK(id >= 0 && id < (*tokenizer)->vocab_size(), "token id %d outside the vocabulary", id);
    (void)(*tokenizer)->decode(ids);
  }
  // The model loader: hyper-parameters, then every weight the architecture's recipe calls for
  // (views into the file and small f32 vectors; nothing is run). Any failure is one message.
  auto config = tessera::read_model_config(f);
  if (!config.ok()) {
    TS_CHECK(!config.status().message().empty(), "config rejection without a message");
    return 0;
  }
  const tessera::Architecture* arch = tessera::find_architecture(config->architecture);
  TS_CHECK(arch != nullptr, "config of an unknown architecture accepted");
  auto weights = tessera::load_decoder_weights(f, *config, *arch);
  if (!weights.ok()) TS_CHECK(!weights.status().message().empty(), "weight rejection without a message");
  return 0;
}
