#include "serve/structured_output.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "chat/tool_call_grammar.h"
#include "grammar/gbnf.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"
#include "grammar/regex.h"

namespace tessera::serve {
namespace {

std::string cache_key(const OutputConstraint& c) {
  switch (c.kind) {
    case OutputConstraint::Kind::kJsonObject: return "json_object";
    case OutputConstraint::Kind::kJsonSchema: return "schema:" + c.source;
    case OutputConstraint::Kind::kGbnf: return "gbnf:" + c.source;
    case OutputConstraint::Kind::kRegex: return "regex:" + c.source;
    case OutputConstraint::Kind::kChoice: return "gbnf:" + choice_gbnf(c.choices);
    case OutputConstraint::Kind::kNone: break;
  }
  return "";
}

Status named(const std::string& param, const Status& status) {
  return invalid_argument("'" + param + "' " + status.message());
}

}  // namespace

std::shared_ptr<const grammar::TokenVocabulary> grammar_vocabulary(const Tokenizer& tokenizer,
                                                                   const std::vector<int32_t>& eog_token_ids) {
  std::vector<std::string> bytes(static_cast<size_t>(tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) bytes[size_t(id)] = tokenizer.token_to_piece(id);
  return grammar::TokenVocabulary::create(std::move(bytes), eog_token_ids);
}

Expected<std::string> forced_tool_call_gbnf(ToolCallFormat format, const ToolRequest& tools) {
  std::vector<std::string> rule_names;
  std::vector<const ToolDefinition*> chosen;
  for (const ToolDefinition& tool : tools.tools) {
    if (tools.choice == ToolChoice::kNamed && tool.name != tools.named_function) continue;
    chosen.push_back(&tool);
  }
  if (chosen.empty()) return invalid_argument("'tool_choice' names no function of 'tools'");
  std::string argument_rules;
  for (size_t i = 0; i < chosen.size(); ++i) {
    nlohmann::ordered_json schema = nlohmann::ordered_json::parse(chosen[i]->parameters_json, nullptr, /*allow_exceptions=*/false);
    // OpenAI: absent parameters mean a function that takes no arguments: the empty object.
    if (schema.is_discarded() || schema.empty()) {
      schema = nlohmann::ordered_json{{"type", "object"}, {"properties", nlohmann::ordered_json::object()}, {"additionalProperties", false}};
    }
    const std::string prefix = "tool" + std::to_string(i) + "-";
    Expected<std::string> rules = grammar::json_schema_to_gbnf_rules(schema, prefix);
    if (!rules.ok()) {
      return invalid_argument("'tools' the parameters of function '" + chosen[i]->name + "': " + rules.status().message());
    }
    argument_rules += *rules;
    argument_rules += '\n';
    rule_names.push_back(prefix + "root");
  }
  std::vector<ToolGrammarEntry> entries;
  for (size_t i = 0; i < chosen.size(); ++i) entries.push_back({chosen[i]->name, rule_names[i]});
  const bool parallel = tools.parallel && tools.choice == ToolChoice::kRequired;
  std::string skeleton = tool_call_gbnf(format, entries, parallel);
  if (skeleton.empty()) return invalid_argument("'tools' no tool-call grammar for this model's format");
  return skeleton + "\n" + argument_rules;
}

std::string choice_gbnf(const std::vector<std::string>& choices) {
  std::string out = "root ::= ";
  for (size_t i = 0; i < choices.size(); ++i) out += (i == 0 ? "" : " | ") + grammar::gbnf_literal(choices[i]);
  return out + "\n";
}

GrammarCompiler::GrammarCompiler(std::shared_ptr<const grammar::TokenVocabulary> vocab, size_t cache_capacity)
    : vocab_(std::move(vocab)), capacity_(std::max<size_t>(cache_capacity, 1)) {}

Expected<std::shared_ptr<const grammar::CompiledGrammar>> GrammarCompiler::compile(const OutputConstraint& c) {
  if (c.kind == OutputConstraint::Kind::kNone) return Compiled();
  const std::string key = cache_key(c);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++num_hits_;
      return it->second->second;
    }
  }
  // NOTE: compiled outside the lock: a large schema must not hold up other requests' lookups. Two
  // requests with the same new schema may both compile it; the second insert wins, harmlessly.
  Expected<std::shared_ptr<const grammar::Grammar>> parsed = Status();
  switch (c.kind) {
    case OutputConstraint::Kind::kJsonObject:
      parsed = grammar::json_object_grammar();
      break;
    case OutputConstraint::Kind::kJsonSchema: {
      const nlohmann::ordered_json schema = nlohmann::ordered_json::parse(c.source, nullptr, /*allow_exceptions=*/false);
      if (schema.is_discarded()) return invalid_argument("'" + c.param + "' is not valid JSON");
      parsed = grammar::compile_json_schema(schema);
      break;
    }
    case OutputConstraint::Kind::kGbnf:
      parsed = grammar::parse_gbnf(c.source);
      break;
    case OutputConstraint::Kind::kRegex:
      parsed = grammar::compile_regex(c.source);
      break;
    case OutputConstraint::Kind::kChoice:
      parsed = grammar::parse_gbnf(choice_gbnf(c.choices));
      break;
    case OutputConstraint::Kind::kNone:
      break;
  }
  if (!parsed.ok()) return named(c.param, parsed.status());
  Expected<Compiled> compiled = grammar::CompiledGrammar::create(std::move(parsed).value(), vocab_);
  if (!compiled.ok()) return named(c.param, compiled.status());
  {
    // A vocabulary that cannot even begin the grammar (TinyStories has no "{" token) would end
    // every such request at once: a 400 says why instead.
    grammar::GrammarMatcher probe(*compiled);
    std::vector<uint32_t> words(probe.bitmask_words(), 0);
    probe.fill_next_token_bitmask(words);
    if (std::all_of(words.begin(), words.end(), [](uint32_t w) { return w == 0; })) {
      return invalid_argument("'" + c.param + "' cannot be written with this model's vocabulary: no token can begin it");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++num_compiled_;
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.emplace_front(key, *compiled);
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return *compiled;
}

Expected<std::shared_ptr<const grammar::CompiledGrammar>> GrammarCompiler::compile_gbnf(const std::string& gbnf,
                                                                                       const std::string& param) {
  OutputConstraint c;
  c.kind = OutputConstraint::Kind::kGbnf;
  c.source = gbnf;
  c.param = param;
  return compile(c);
}

int64_t GrammarCompiler::num_compiled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return num_compiled_;
}

int64_t GrammarCompiler::num_cache_hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return num_hits_;
}

}  // namespace tessera::serve
