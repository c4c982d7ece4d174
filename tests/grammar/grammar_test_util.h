// Shared helpers for the grammar tests: real vocabularies as TokenVocabulary, a byte-level
// reference mask, random walks through the mask.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar_matcher.h"
#include "grammar/token_vocabulary.h"

namespace tessera::testing {

// The vocabulary of ../shared/models/vocab/ggml-vocab-<name>.gguf (token_to_piece bytes, EOG
// ids), loaded once per test binary.
std::shared_ptr<const grammar::TokenVocabulary> vocab_for(const std::string& name);

// The reference mask: each token's bytes fed to a copy of the matcher's state through
// accept_bytes (no cache, no trie), EOG ids iff can_terminate.
std::vector<uint32_t> reference_mask(const grammar::GrammarMatcher& matcher);

// Samples a token uniformly among those allowed (or, with probability long_bias, the longest
// allowed token of a few candidates). Returns -1 when nothing is allowed.
int32_t sample_allowed(const std::vector<uint32_t>& mask, const grammar::TokenVocabulary& vocab, std::mt19937& rng,
                       double long_bias);

struct WalkResult {
  std::string text;
  bool terminated = false;
  int steps = 0;
  std::string error;  // set when something went wrong (empty mask, refused token)
};
// Walks the mask from a fresh matcher until an EOG token is accepted or max_steps.
WalkResult random_walk(const std::shared_ptr<const grammar::CompiledGrammar>& compiled, std::mt19937& rng,
                       double long_bias, int max_steps);

}  // namespace tessera::testing
