#include "runtime/synth_vocab.h"

#include <cstdio>

#include "gguf/gguf_file.h"

namespace tessera {
namespace {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUnused = 5, kByte = 6;
constexpr int32_t kPlaceholderPrefix = 3 + 1 + 256;  // <unk> <s> </s>, the word boundary, the bytes

std::string pad_token(int64_t id) { return "[PAD" + std::to_string(id) + "]"; }

Expected<SynthVocabulary> placeholder_vocabulary(int32_t vocab_size) {
  using gguf::MetadataValue;
  if (vocab_size < kPlaceholderPrefix) {
    return invalid_argument("synth: a placeholder vocabulary needs at least " + std::to_string(kPlaceholderPrefix) +
                            " tokens, not " + std::to_string(vocab_size));
  }
  // U+2581, SentencePiece's space: without it every space would decode as its three bytes.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81"};
  std::vector<int32_t> types = {kUnknown, kControl, kControl, kNormal};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    tokens.push_back(name);
    types.push_back(kByte);
  }
  for (int32_t id = kPlaceholderPrefix; id < vocab_size; ++id) {
    tokens.push_back(pad_token(id));
    types.push_back(kUnused);
  }
  SynthVocabulary v;
  v.vocab_size = vocab_size;
  v.metadata = {
      {"tokenizer.ggml.model", MetadataValue::string("llama")},
      {"tokenizer.ggml.tokens", MetadataValue::string_array(std::move(tokens))},
      {"tokenizer.ggml.scores", MetadataValue::f32_array(std::vector<float>(static_cast<size_t>(vocab_size), 0.0f))},
      {"tokenizer.ggml.token_type", MetadataValue::i32_array(std::move(types))},
      {"tokenizer.ggml.unknown_token_id", MetadataValue::u32(0)},
      {"tokenizer.ggml.bos_token_id", MetadataValue::u32(1)},
      {"tokenizer.ggml.eos_token_id", MetadataValue::u32(2)},
  };
  return v;
}

// Grows the per-token arrays to `vocab_size`: "[PADn]" tokens of type unused and score -1000, as
// llama.cpp's convert_hf_to_gguf.py pads a vocabulary smaller than the embedding matrix.
void pad_vocabulary(gguf::MetadataEntry& entry, size_t old_size, int32_t vocab_size) {
  auto* array = std::get_if<gguf::ArrayValue>(&entry.value.data);
  if (array == nullptr || array->size() != old_size) return;
  for (int64_t id = static_cast<int64_t>(old_size); id < vocab_size; ++id) {
    if (entry.key == "tokenizer.ggml.tokens") array->strings.push_back(pad_token(id));
    if (entry.key == "tokenizer.ggml.token_type") array->ints.push_back(kUnused);
    if (entry.key == "tokenizer.ggml.scores") array->floats.push_back(-1000.0);
  }
}

}  // namespace

Expected<SynthVocabulary> synth_vocabulary(const std::string& vocab_path, int32_t vocab_size) {
  if (vocab_path.empty()) return placeholder_vocabulary(vocab_size);
  TS_ASSIGN_OR_RETURN(const std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(vocab_path));
  const gguf::ArrayValue* tokens = file->get_array("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->size() == 0) return invalid_argument(vocab_path + ": no tokenizer.ggml.tokens");
  const size_t file_size = tokens->size();
  if (vocab_size == 0) vocab_size = static_cast<int32_t>(file_size);
  if (file_size > static_cast<size_t>(vocab_size)) {
    return invalid_argument(vocab_path + " holds " + std::to_string(file_size) + " tokens, more than the shape's " +
                            std::to_string(vocab_size));
  }
  SynthVocabulary v;
  v.vocab_size = vocab_size;
  for (const gguf::MetadataEntry& e : file->metadata()) {
    if (e.key.rfind("tokenizer.", 0) != 0) continue;
    v.metadata.push_back(e);
    pad_vocabulary(v.metadata.back(), file_size, vocab_size);
  }
  return v;
}

}  // namespace tessera
