// The tokenizer of a `tessera synth` model: a real vocabulary copied from a vocabulary-only GGUF
// (llama.cpp's models/ggml-vocab-*.gguf), or placeholder tokens when there is none. Decode speed
// depends on the vocabulary's size (the output head), not on its strings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_value.h"

namespace tessera {

struct SynthVocabulary {
  std::vector<gguf::MetadataEntry> metadata;  // every tokenizer.* key to write
  int32_t vocab_size = 0;                     // tokens in tokenizer.ggml.tokens = rows of token_embd
};

// `vocab_path` empty: `vocab_size` placeholder tokens (a SentencePiece vocabulary of <unk>, <s>,
// </s>, U+2581, the 256 byte tokens, then unused "[PADn]"), so any text still tokenizes and
// decodes (byte fallback).
// Otherwise the file's tokenizer.* keys; `vocab_size` 0 takes its token count, a larger one pads
// it with unused "[PADn]" tokens as llama.cpp's converter pads a model's vocabulary, and a
// smaller one is an error.
Expected<SynthVocabulary> synth_vocabulary(const std::string& vocab_path, int32_t vocab_size);

}  // namespace tessera
