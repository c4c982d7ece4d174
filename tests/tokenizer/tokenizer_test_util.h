// Shared helpers for the tokenizer tests: load a tokenizer from ../shared once per file.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace tessera::testing {

inline std::string shared_path(const std::string& relative) { return std::string(TESSERA_SHARED_DIR) + "/" + relative; }

// Tokenizer of a GGUF file under ../shared, loaded once and kept for the test binary's life.
// Fails the current test (and returns nullptr) when the file cannot be read.
inline const Tokenizer* load_tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(relative);
  if (it != cache.end()) return it->second.get();
  auto file = gguf::GgufFile::open(shared_path(relative));
  if (!file.ok()) {
    ADD_FAILURE() << file.status().message();
    return nullptr;
  }
  auto tokenizer = Tokenizer::from_gguf(**file);
  if (!tokenizer.ok()) {
    ADD_FAILURE() << tokenizer.status().message();
    return nullptr;
  }
  return cache.emplace(relative, std::move(tokenizer).value()).first->second.get();
}

}  // namespace tessera::testing
