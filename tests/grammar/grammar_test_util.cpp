// Helpers of grammar_test_util.h.
#include "grammar_test_util.h"

#include <map>

#include "tokenizer/tokenizer_test_util.h"

namespace tessera::testing {

std::shared_ptr<const grammar::TokenVocabulary> vocab_for(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const grammar::TokenVocabulary>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const Tokenizer* tokenizer = load_tokenizer("models/vocab/ggml-vocab-" + name + ".gguf");
  if (!tokenizer) return nullptr;
  std::vector<std::string> bytes;
  for (int32_t id = 0; id < tokenizer->vocab_size(); ++id) bytes.push_back(tokenizer->token_to_piece(id));
  std::vector<int32_t> eog(tokenizer->eog_ids().begin(), tokenizer->eog_ids().end());
  auto vocab = grammar::TokenVocabulary::create(std::move(bytes), std::move(eog));
  cache.emplace(name, vocab);
  return vocab;
}

std::vector<uint32_t> reference_mask(const grammar::GrammarMatcher& matcher) {
  const grammar::TokenVocabulary& vocab = matcher.compiled().vocab();
  std::vector<uint32_t> mask(matcher.bitmask_words(), 0);
  if (matcher.is_terminated()) return mask;
  grammar::GrammarMatcher copy = matcher;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    bool ok;
    if (vocab.is_eog(id)) {
      ok = matcher.can_terminate();
    } else if (vocab.token_bytes(id).empty()) {
      ok = false;
    } else {
      ok = copy.accept_bytes(vocab.token_bytes(id));
      if (ok) copy.rollback(1);
    }
    if (ok) mask[static_cast<size_t>(id) >> 5] |= uint32_t(1) << (id & 31);
  }
  return mask;
}

int32_t sample_allowed(const std::vector<uint32_t>& mask, const grammar::TokenVocabulary& vocab, std::mt19937& rng,
                       double long_bias) {
  std::vector<int32_t> allowed;
  for (size_t word = 0; word < mask.size(); ++word) {
    for (uint32_t bits = mask[word]; bits != 0; bits &= bits - 1) {
      allowed.push_back(static_cast<int32_t>(word * 32 + static_cast<size_t>(__builtin_ctz(bits))));
    }
  }
  if (allowed.empty()) return -1;
  std::uniform_int_distribution<size_t> pick(0, allowed.size() - 1);
  if (std::uniform_real_distribution<double>(0, 1)(rng) < long_bias) {
    int32_t best = allowed[pick(rng)];
    for (int i = 0; i < 8; ++i) {
      const int32_t c = allowed[pick(rng)];
      if (vocab.token_bytes(c).size() > vocab.token_bytes(best).size()) best = c;
    }
    return best;
  }
  return allowed[pick(rng)];
}

WalkResult random_walk(const std::shared_ptr<const grammar::CompiledGrammar>& compiled, std::mt19937& rng,
                       double long_bias, int max_steps) {
  WalkResult result;
  grammar::GrammarMatcher matcher(compiled);
  std::vector<uint32_t> mask(matcher.bitmask_words());
  const grammar::TokenVocabulary& vocab = compiled->vocab();
  for (; result.steps < max_steps && !matcher.is_terminated(); ++result.steps) {
    matcher.fill_next_token_bitmask(mask);
    const int32_t id = sample_allowed(mask, vocab, rng, long_bias);
    if (id < 0) {
      result.error = "empty mask after '" + result.text + "'";
      return result;
    }
    if (!matcher.accept_token(id)) {
      result.error = "masked-in token " + std::to_string(id) + " refused after '" + result.text + "'";
      return result;
    }
    if (!vocab.is_eog(id)) result.text += vocab.token_bytes(id);
  }
  result.terminated = matcher.is_terminated();
  return result;
}

}  // namespace tessera::testing
