// Fuzzes the grammar engine (src/grammar/): the input is GBNF text, or (after a first line of
// "#regex" / "#schema") a regex or a JSON schema. Whatever compiles is bound to a small
// vocabulary and walked: masks filled, allowed tokens accepted, rollback. Any input must give a
// grammar or a Status with a message; no crash, no hang, no unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "grammar/gbnf.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"
#include "grammar/regex.h"

namespace {

using namespace tessera;
using namespace tessera::grammar;

std::shared_ptr<const TokenVocabulary> fuzz_vocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  for (const char* t : {"{\"", "\":", "\",", "true", "null", "  ", "\n", "ab", "abc", "é", "\xE4\xB8\xAD", "12", "\"}", "[]", "((", "))"}) {
    tokens.emplace_back(t);
  }
  tokens.emplace_back("");  // a control token: never allowed
  tokens.emplace_back("");  // the EOG token
  const auto eog = static_cast<int32_t>(tokens.size() - 1);
  return TokenVocabulary::create(std::move(tokens), {eog});
}

GrammarLimits fuzz_limits() {
  GrammarLimits limits;
  limits.max_source_bytes = 1 << 16;
  limits.max_symbols = 1 << 16;
  limits.max_repetition = 200;
  limits.max_nesting = 64;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto vocab = fuzz_vocab();
  static const GrammarLimits limits = fuzz_limits();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Expected<std::shared_ptr<const Grammar>> grammar = invalid_argument("unset");
  if (input.rfind("#regex\n", 0) == 0) {
    grammar = compile_regex(input.substr(7), limits);
  } else if (input.rfind("#schema\n", 0) == 0) {
    const auto schema = nlohmann::ordered_json::parse(input.substr(8), nullptr, /*allow_exceptions=*/false);
    if (schema.is_discarded()) return 0;
    auto gbnf = json_schema_to_gbnf(schema);
    if (!gbnf.ok()) {
      TS_CHECK(!gbnf.status().message().empty(), "a schema error without a message");
      return 0;
    }
    grammar = parse_gbnf(*gbnf, "root", limits);  // may be refused (limits, left recursion via $ref)
  } else {
    grammar = parse_gbnf(input, "root", limits);
  }
  if (!grammar.ok()) {
    TS_CHECK(!grammar.status().message().empty(), "a grammar error without a message");
    return 0;
  }
  StackLimits stack_limits;
  stack_limits.max_depth = 256;
  stack_limits.max_stacks = 256;
  auto compiled = CompiledGrammar::create(*grammar, vocab, stack_limits);
  TS_CHECK(compiled.ok(), "compile failed: %s", compiled.status().message().c_str());
  GrammarMatcher matcher(*compiled, 4);
  std::vector<uint32_t> mask(matcher.bitmask_words());
  uint32_t choice = static_cast<uint32_t>(size);
  for (int step = 0; step < 24 && !matcher.is_terminated(); ++step) {
    matcher.fill_next_token_bitmask(mask);
    std::vector<int32_t> allowed;
    for (int32_t id = 0; id < vocab->size(); ++id) {
      if ((mask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1) allowed.push_back(id);
    }
    if (allowed.empty()) break;
    choice = choice * 1103515245u + 12345u;
    const int32_t id = allowed[(choice >> 8) % allowed.size()];
    TS_CHECK(matcher.accept_token(id), "a masked-in token was refused");
    if (step % 7 == 6) matcher.rollback(2);
  }
  return 0;
}
