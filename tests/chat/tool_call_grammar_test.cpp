// The GBNF skeletons: their text structure, and the round trip that matters: every string the
// grammar allows (sampled by a small GBNF expander written here, with sample argument rules)
// parses back, with the format grammar_tool_call_format names, into exactly the forced calls.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "chat/json_scan.h"
#include "chat/tool_call_grammar.h"
#include "chat/tool_call_parser.h"

namespace tessera {
namespace {

// A random-expansion GBNF reader for the subset the skeletons use: rules `name ::= ...`, string
// literals with \" \\ \n escapes, rule references, [..] classes of single characters and ranges,
// ( ) groups, | alternatives, and the ? * + postfixes (repeats drawn from 0..2).
class GbnfSampler {
 public:
  explicit GbnfSampler(std::string_view grammar) {
    size_t at = 0;
    while (at < grammar.size()) {
      size_t end = grammar.find('\n', at);
      if (end == std::string_view::npos) end = grammar.size();
      const std::string_view line = grammar.substr(at, end - at);
      at = end + 1;
      const size_t def = line.find(" ::= ");
      if (def == std::string_view::npos) continue;
      rules_[std::string(line.substr(0, def))] = std::string(line.substr(def + 5));
    }
  }
  bool has(const std::string& rule) const { return rules_.contains(rule); }
  const std::string& body(const std::string& rule) const { return rules_.at(rule); }

  std::string sample(const std::string& rule, std::mt19937& rng) {
    std::string out;
    const std::string& text = rules_.at(rule);
    size_t at = 0;
    expand_alternatives(text, &at, rng, &out);
    return out;
  }

 private:
  // alternatives := sequence ('|' sequence)*; picks one and skips the rest.
  void expand_alternatives(const std::string& t, size_t* at, std::mt19937& rng, std::string* out) {
    std::vector<size_t> starts = {*at};
    size_t scan = *at;
    for (int depth = 0; scan < t.size(); ++scan) {
      const char c = t[scan];
      if (c == '"') {
        for (++scan; t[scan] != '"'; ++scan) scan += t[scan] == '\\';
      } else if (c == '[') {
        for (++scan; t[scan] != ']'; ++scan) scan += t[scan] == '\\';
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (depth-- == 0) break;
      } else if (c == '|' && depth == 0) {
        starts.push_back(scan + 1);
      }
    }
    size_t pick = starts[rng() % starts.size()];
    expand_sequence(t, &pick, rng, out);
    *at = scan;  // at the closing ')' or the end
  }

  void expand_sequence(const std::string& t, size_t* at, std::mt19937& rng, std::string* out) {
    while (*at < t.size()) {
      const char c = t[*at];
      if (c == ' ') {
        ++*at;
        continue;
      }
      if (c == '|' || c == ')') return;
      const size_t item = *at;
      skip_item(t, at);
      int times = 1;
      if (*at < t.size() && (t[*at] == '?' || t[*at] == '*' || t[*at] == '+')) {
        const char op = t[(*at)++];
        times = op == '?' ? static_cast<int>(rng() % 2) : op == '*' ? static_cast<int>(rng() % 3) : 1 + static_cast<int>(rng() % 2);
      }
      for (int i = 0; i < times; ++i) {
        size_t again = item;
        expand_item(t, &again, rng, out);
      }
    }
  }

  void skip_item(const std::string& t, size_t* at) {
    std::mt19937 unused;
    std::string sink;
    if (t[*at] == '(') {
      ++*at;
      int depth = 0;
      for (; *at < t.size(); ++*at) {
        if (t[*at] == '"') {
          for (++*at; t[*at] != '"'; ++*at) *at += t[*at] == '\\';
        } else if (t[*at] == '(') {
          ++depth;
        } else if (t[*at] == ')' && depth-- == 0) {
          ++*at;
          return;
        }
      }
      return;
    }
    expand_item(t, at, unused, &sink, /*dry=*/true);
  }

  void expand_item(const std::string& t, size_t* at, std::mt19937& rng, std::string* out, bool dry = false) {
    const char c = t[*at];
    if (c == '"') {
      for (++*at; t[*at] != '"'; ++*at) {
        char ch = t[*at];
        if (ch == '\\') {
          ch = t[++*at];
          ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch == 'r' ? '\r' : ch;
        }
        out->push_back(ch);
      }
      ++*at;
    } else if (c == '[') {
      std::vector<std::pair<char, char>> ranges;
      for (++*at; t[*at] != ']'; ++*at) {
        const char lo = t[*at];
        if (t[*at + 1] == '-' && t[*at + 2] != ']') {
          ranges.push_back({lo, t[*at + 2]});
          *at += 2;
        } else {
          ranges.push_back({lo, lo});
        }
      }
      ++*at;
      const auto [lo, hi] = ranges[rng() % ranges.size()];
      out->push_back(static_cast<char>(lo + static_cast<int>(rng() % (hi - lo + 1))));
    } else if (c == '(') {
      ++*at;
      expand_alternatives(t, at, rng, out);
      ++*at;  // ')'
    } else {
      size_t end = *at;
      while (end < t.size() && (std::isalnum(static_cast<unsigned char>(t[end])) || t[end] == '-')) ++end;
      const std::string rule = t.substr(*at, end - *at);
      *at = end;
      if (!dry) out->append(sample(rule, rng));
    }
  }

  std::map<std::string, std::string> rules_;
};

const ToolGrammarEntry kTools[] = {{"get_weather", "tool0-root"}, {"get_time", "tool1-root"}};
const std::map<std::string, std::string> kArguments = {{"get_weather", R"({"city":"Zürich","days":3})"},
                                                       {"get_time", R"({"tz":"Europe/Zurich"})"}};
const char kArgumentRules[] = "tool0-root ::= \"{\\\"city\\\": \\\"Zürich\\\", \\\"days\\\": 3}\"\n"
                              "tool1-root ::= \"{\\\"tz\\\": \\\"Europe/Zurich\\\"}\"\n";

TEST(ToolCallGrammar, SkeletonHasRootMarkersNamesAndArgumentRules) {
  const std::string g = tool_call_gbnf(ToolCallFormat::kHermes, kTools, false);
  EXPECT_EQ(g,
            "root ::= tool-call\n"
            "tool-call ::= tool-call-0 | tool-call-1\n"
            "tool-call-0 ::= \"<tool_call>\\n{\\\"name\\\": \\\"get_weather\\\", \\\"arguments\\\": \" tool0-root \"}\\n</tool_call>\"\n"
            "tool-call-1 ::= \"<tool_call>\\n{\\\"name\\\": \\\"get_time\\\", \\\"arguments\\\": \" tool1-root \"}\\n</tool_call>\"\n");
  EXPECT_TRUE(tool_call_gbnf(ToolCallFormat::kHermes, kTools, true).starts_with("root ::= tool-call (\"\\n\" tool-call)*\n"));
  EXPECT_TRUE(tool_call_gbnf(ToolCallFormat::kMistralV1, kTools, true)
                  .starts_with("root ::= \"[TOOL_CALLS][\" tool-call (\", \" tool-call)* \"]\"\n"));
  EXPECT_TRUE(tool_call_gbnf(ToolCallFormat::kKimiK2, kTools, false).ends_with("tool-call-id ::= [0-9] [0-9]? [0-9]?\n"));
  EXPECT_EQ(tool_call_gbnf(ToolCallFormat::kHermes, {}, true), "");
  EXPECT_EQ(grammar_tool_call_format(ToolCallFormat::kQwen3CoderXml), ToolCallFormat::kHermes);
  EXPECT_EQ(grammar_tool_call_format(ToolCallFormat::kNone), ToolCallFormat::kGeneric);
}

TEST(ToolCallGrammar, EveryAllowedTextParsesBackIntoTheForcedCalls) {
  const ToolCallFormat formats[] = {
      ToolCallFormat::kGeneric,        ToolCallFormat::kHermes,       ToolCallFormat::kLlama3Json,  ToolCallFormat::kMistralV1,
      ToolCallFormat::kMistralV2,      ToolCallFormat::kCommandR7B,   ToolCallFormat::kFirefunctionV2, ToolCallFormat::kGranite,
      ToolCallFormat::kNemotronV2,     ToolCallFormat::kApriel,       ToolCallFormat::kFunctionaryV31, ToolCallFormat::kDeepSeekR1,
      ToolCallFormat::kDeepSeekV31,    ToolCallFormat::kKimiK2,       ToolCallFormat::kQwen3CoderXml,  ToolCallFormat::kGlm45,
      ToolCallFormat::kMiniMaxM2,      ToolCallFormat::kSeedOss,      ToolCallFormat::kGigaChat31,     ToolCallFormat::kDeepSeekV32, ToolCallFormat::kDeepSeekV4,
      ToolCallFormat::kNone};
  std::mt19937 rng(4);
  for (ToolCallFormat format : formats) {
    for (bool parallel : {false, true}) {
      SCOPED_TRACE(std::string(tool_call_format_name(format)) + (parallel ? " parallel" : " single"));
      const std::string grammar = tool_call_gbnf(format, kTools, parallel);
      ASSERT_FALSE(grammar.empty());
      GbnfSampler sampler(grammar + kArgumentRules);
      ASSERT_TRUE(sampler.has("root"));
      size_t most_calls = 0;
      for (int trial = 0; trial < 30; ++trial) {
        const std::string text = sampler.sample("root", rng);
        const ParsedAssistantMessage m = parse_assistant_output(grammar_tool_call_format(format), text);
        EXPECT_EQ(m.content, "") << text;
        ASSERT_FALSE(m.tool_calls.empty()) << text;
        if (!parallel) {
          EXPECT_EQ(m.tool_calls.size(), 1u) << text;
        }
        for (const ParsedToolCall& call : m.tool_calls) {
          ASSERT_TRUE(kArguments.contains(call.name)) << text;
          EXPECT_EQ(call.arguments, kArguments.at(call.name)) << text;
        }
        most_calls = std::max(most_calls, m.tool_calls.size());
      }
      if (parallel && format != ToolCallFormat::kGigaChat31) {
        EXPECT_GT(most_calls, 1u);
      }
    }
  }
}

}  // namespace
}  // namespace tessera
