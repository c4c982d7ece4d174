// What `tessera perplexity` and `tessera imatrix` share: their common flags (model, text, chunk
// size, chunk count, threads), loading the model sized for the chunks, and reading + tokenizing
// the text as llama.cpp's tools do (BOS added when the vocabulary asks, special tokens not parsed).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model_loading.h"

namespace tessera::app {

struct ChunkedTextFlags {
  std::string model_path;
  std::string text_path;
  int32_t context = 0;      // tokens per chunk; 0: min(512, the model's trained context)
  int32_t max_chunks = -1;  // -1: every whole chunk
  int32_t num_threads = 0;  // 0: all cores
};

// Registers -m, -f, -c/--ctx, --chunks and -t on `cmd`.
void add_chunked_text_options(CLI::App* cmd, ChunkedTextFlags& flags, const std::string& text_help);

struct ChunkedText {
  LoadedModel loaded;           // model (max_context = context) and tokenizer
  std::vector<int32_t> tokens;  // the whole text, BOS first when the vocabulary adds one
  int32_t context = 0;          // tokens per chunk
  int32_t bos_id = -1;          // each chunk's first token; -1: keep the text's
  int32_t num_chunks = 0;       // whole chunks that will run (--chunks applied): the progress total
  int num_threads = 1;
};

// Validates the flags, loads the model and tokenizes the text. Errors: absurd flags, a bad model
// file, a missing, unreadable or empty text file.
Expected<ChunkedText> load_chunked_text(ChunkedTextFlags flags);

}  // namespace tessera::app
