// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.{inp,out}): every case must give
// exactly llama.cpp's ids with add_special=false, parse_special=false.
#include <gtest/gtest.h>

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

void expect_vocab_matches(const std::string& vocab_name) {
  const std::string base = kVocabDir + "ggml-vocab-" + vocab_name + ".gguf";
  auto file = gguf::GgufFile::open(base);
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();

  const std::vector<std::string> cases = split_cases(read_file(base + ".inp"));
  const std::vector<std::vector<TokenId>> expected = read_expected(base + ".out");
  ASSERT_EQ(cases.size(), 46u);
  ASSERT_EQ(expected.size(), cases.size());
  int num_failed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<TokenId> ids = (*tokenizer)->encode(cases[i], /*add_special=*/false, /*parse_special=*/false);
    if (ids != expected[i]) ++num_failed;
    EXPECT_EQ(ids_to_string(ids), ids_to_string(expected[i])) << vocab_name << " case " << i << ": '" << cases[i] << "'";
  }
  EXPECT_EQ(num_failed, 0) << vocab_name;
}

TEST(TokenizerVocabVectors, LlamaSpmMatchesLlamaCpp) { expect_vocab_matches("llama-spm"); }
TEST(TokenizerVocabVectors, Gpt2MatchesLlamaCpp) { expect_vocab_matches("gpt-2"); }
TEST(TokenizerVocabVectors, Phi3MatchesLlamaCpp) { expect_vocab_matches("phi-3"); }

}  // namespace
}  // namespace tessera
