// The growing-text JSON scanner: complete values, every proper prefix of one incomplete, broken
// text invalid; minify keeps prefixes as prefixes; string decoding and encoding.
#include <gtest/gtest.h>

#include "chat/json_scan.h"

namespace tessera::chat {
namespace {

JsonState state_of(std::string_view text) { return scan_json_value(text, 0).state; }

TEST(JsonScan, CompleteValuesEndWhereTheyEnd) {
  const std::string_view values[] = {R"({"a": [1, -2.5e+3, true, false, null, "x\"\\\u00e9"], "b": {}})", "[]", R"("Zürich")", "0 ", "-0.1 ",
                                     "true"};
  for (std::string_view v : values) {
    const JsonScan scan = scan_json_value(v, 0);
    ASSERT_EQ(scan.state, JsonState::kComplete) << v;
    EXPECT_EQ(v.substr(scan.end).find_first_not_of(' '), std::string_view::npos) << v;
  }
  const std::string_view trailing = R"({"a": 1} tail)";
  EXPECT_EQ(scan_json_value(trailing, 0).end, 8u);
}

TEST(JsonScan, EveryProperPrefixOfAValueIsIncomplete) {
  const std::string value = R"({"city": "Zürich", "n": [1, 2.5e-3, true, null], "s": "a\"b\u00e9\n"})";
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_EQ(state_of(value.substr(0, n)), JsonState::kIncomplete) << value.substr(0, n);
  }
  EXPECT_EQ(state_of(value), JsonState::kComplete);
}

TEST(JsonScan, TheMachineFedInPiecesAgreesWithOneScan) {
  const std::string texts[] = {R"({"city": "Zürich", "n": [1, 2.5e-3, true, null], "s": "a\"b\u00e9\n"} tail)", "[1, 2,, 3]", "-12.5e+7 ",
                               "{\"a\": \"\xc3\xa9\xff\"}", "[[[]], {}]"};
  for (const std::string& text : texts) {
    const JsonScan whole = scan_json_value(text, 0);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      JsonMachine machine;
      JsonScan first = machine.feed(std::string_view(text).substr(0, cut), 0);
      if (first.state != JsonState::kIncomplete) {
        EXPECT_EQ(first.state, whole.state) << text << " cut " << cut;
        continue;
      }
      const JsonScan rest = machine.feed(text, cut);
      EXPECT_EQ(rest.state, whole.state) << text << " cut " << cut;
      EXPECT_EQ(rest.end, whole.end) << text << " cut " << cut;
    }
  }
}

TEST(JsonScan, BrokenTextIsInvalid) {
  const std::string_view broken[] = {"{a: 1}", "{\"a\" 1}", "[1,]", "[1 2]", "[01]", "-", "1.", "1e", "tru ", "nul!",
                                     "\"\x01\"", "\"\\x\"", "\"\\u12G4\"", "\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "}", "{\"a\":1,}"};
  for (std::string_view b : broken) {
    // A text that is only a prefix at its end ("-", "1.", "1e") is incomplete, not invalid.
    const JsonState state = state_of(b);
    if (b == "-" || b == "1." || b == "1e") {
      EXPECT_EQ(state, JsonState::kIncomplete) << b;
    } else {
      EXPECT_EQ(state, JsonState::kInvalid) << b;
    }
  }
  EXPECT_EQ(state_of("\"\xc3"), JsonState::kIncomplete);  // a UTF-8 character cut in two
}

TEST(JsonScan, DepthIsBounded) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(scan_json_value(deep, 0, 64).state, JsonState::kInvalid);
  EXPECT_EQ(scan_json_value(deep, 0, 128).state, JsonState::kComplete);
  const std::string very_deep(1 << 20, '[');
  EXPECT_EQ(scan_json_value(very_deep, 0).state, JsonState::kInvalid);
}

TEST(JsonScan, MinifyDropsOnlyWhitespaceOutsideStringsAndKeepsPrefixes) {
  const std::string value = "{ \"a b\" : [ 1 ,\n 2 ], \"c\\\" d\": \"x  y\" }";
  EXPECT_EQ(minify_json(value), R"({"a b":[1,2],"c\" d":"x  y"})");
  const std::string whole = minify_json(value);
  for (size_t n = 0; n <= value.size(); ++n) {
    const std::string prefix = minify_json(value.substr(0, n));
    EXPECT_EQ(whole.compare(0, prefix.size(), prefix), 0) << n;
  }
}

TEST(JsonScan, DecodesAndEncodesStrings) {
  std::string out;
  ASSERT_TRUE(decode_json_string(R"("a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800")", &out));
  EXPECT_EQ(out, "a\"\\/\b\f\n\r\té😀\xef\xbf\xbd");
  EXPECT_FALSE(decode_json_string(R"("abc)", &out));
  EXPECT_FALSE(decode_json_string(R"("a" )", &out));
  std::string encoded;
  append_json_string("q\"\\\n\x01é", &encoded);
  EXPECT_EQ(encoded, "\"q\\\"\\\\\\n\\u0001é\"");
}

TEST(JsonScan, ValidUtf8) {
  EXPECT_TRUE(valid_utf8("Zürich 😀"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("a\xc3"));
  EXPECT_FALSE(valid_utf8("\xc0\x80"));      // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));  // a surrogate
}

TEST(JsonScan, Utf8WholePrefixStopsBeforeACutCharacter) {
  EXPECT_EQ(utf8_whole_prefix("abc"), 3u);
  EXPECT_EQ(utf8_whole_prefix("a\xc3"), 1u);
  EXPECT_EQ(utf8_whole_prefix("a\xc3\xa9"), 3u);
  EXPECT_EQ(utf8_whole_prefix("\xf0\x9f\x98"), 0u);
  EXPECT_EQ(utf8_whole_prefix("\xf0\x9f\x98\x80"), 4u);
  EXPECT_EQ(utf8_whole_prefix(""), 0u);
}

}  // namespace
}  // namespace tessera::chat
