// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.{inp,out}): every case must give
// exactly llama.cpp's ids with add_special=false, parse_special=false.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace tessera {
namespace {

const std::string kVocabDir = std::string(TESSERA_SHARED_DIR) + "/models/vocab/";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Cases are separated (and terminated) by "\n__ggml_vocab_test__\n".
std::vector<std::string> split_cases(const std::string& text) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = text.find(separator, pos);
    if (next == std::string::npos) next = text.size();
    cases.push_back(text.substr(pos, next - pos));
    pos = next + separator.size();
  }
  return cases;
}

// One line per case: space-separated ids (an empty line for no ids).
std::vector<std::vector<TokenId>> read_expected(const std::string& path) {
  std::vector<std::vector<TokenId>> expected;
  std::istringstream lines(read_file(path));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ids(line);
    std::vector<TokenId>& row = expected.emplace_back();
    TokenId id;
    while (ids >> id) row.push_back(id);
  }
  return expected;
}

std::string ids_to_string(const std::vector<TokenId>& ids) {
  std::string out;
  for (const TokenId id : ids) {
    if (!out.empty()) out += ' ';
    out += std::to_string(id);
  }
  return out;
}

// The bytes of a case with control characters escaped, so that a failure message stays readable.
std::string printable(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct VocabVectors {
  const char* name;   // ggml-vocab-<name>.gguf
  size_t num_cases;   // cases in its .inp file
};

// Names the parameter in gtest's messages instead of dumping its bytes.
void PrintTo(const VocabVectors& vocab, std::ostream* os) { *os << vocab.name; }

class TokenizerVocabVectors : public ::testing::TestWithParam<VocabVectors> {};

TEST_P(TokenizerVocabVectors, EveryCaseMatchesLlamaCpp) {
  const VocabVectors& vocab = GetParam();
  const std::string base = kVocabDir + "ggml-vocab-" + vocab.name + ".gguf";
  auto file = gguf::GgufFile::open(base);
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();

  const std::vector<std::string> cases = split_cases(read_file(base + ".inp"));
  const std::vector<std::vector<TokenId>> expected = read_expected(base + ".out");
  ASSERT_EQ(cases.size(), vocab.num_cases);
  ASSERT_EQ(expected.size(), cases.size());
  size_t num_passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<TokenId> ids = (*tokenizer)->encode(cases[i], /*add_special=*/false, /*parse_special=*/false);
    if (ids == expected[i]) {
      ++num_passed;
      continue;
    }
    ADD_FAILURE() << vocab.name << " case " << i << ": '" << printable(cases[i]) << "'\n  expected: "
                  << ids_to_string(expected[i]) << "\n  actual:   " << ids_to_string(ids);
  }
  EXPECT_EQ(num_passed, cases.size()) << vocab.name;
}

// 46 cases in llama.cpp's own files; 74 (28 more scripts, emoji, code, digits) in the modern ones.
INSTANTIATE_TEST_SUITE_P(AllVocabularies, TokenizerVocabVectors,
                         ::testing::Values(VocabVectors{"llama-spm", 46}, VocabVectors{"gpt-2", 46},
                                           VocabVectors{"phi-3", 46}, VocabVectors{"llama3", 74},
                                           VocabVectors{"qwen3", 74}, VocabVectors{"gemma3", 74}),
                         [](const ::testing::TestParamInfo<VocabVectors>& info) {
                           std::string name = info.param.name;
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

}  // namespace
}  // namespace tessera
