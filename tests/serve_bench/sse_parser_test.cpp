// SSE framing and OpenAI stream chunks: events split across receive pieces at every byte,
// CRLF line ends, usage-only chunks, errors and [DONE].
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serve_bench/sse_parser.h"
#include "serve_bench/stream_chunk.h"

namespace tessera::serve_bench {
namespace {

std::vector<std::string> parse_in_pieces(std::string_view stream, size_t piece_bytes) {
  std::vector<std::string> events;
  SseParser parser([&](std::string_view data) { events.emplace_back(data); });
  for (size_t i = 0; i < stream.size(); i += piece_bytes) parser.feed(stream.substr(i, piece_bytes));
  parser.finish();
  return events;
}

TEST(SseParser, YieldsTheSameEventsHoweverTheBytesAreSplit) {
  const std::string stream =
      ": keep-alive comment\n\n"
      "data: {\"choices\":[{\"text\":\"Hel\"}]}\n\n"
      "event: message\r\ndata:{\"choices\":[{\"text\":\"lo\"}]}\r\n\r\n"
      "data: line one\ndata: line two\n\n"
      "data: [DONE]\n\n";
  const std::vector<std::string> expected = {R"({"choices":[{"text":"Hel"}]})", R"({"choices":[{"text":"lo"}]})",
                                             "line one\nline two", "[DONE]"};
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    EXPECT_EQ(parse_in_pieces(stream, piece), expected) << "pieces of " << piece << " bytes";
  }
}

TEST(SseParser, DeliversALastEventWithoutItsBlankLineAtEndOfStream) {
  EXPECT_EQ(parse_in_pieces("data: [DONE]\n", 4), std::vector<std::string>{"[DONE]"});
  EXPECT_EQ(parse_in_pieces("data: [DONE]", 4), std::vector<std::string>{"[DONE]"});
  EXPECT_TRUE(parse_in_pieces("\n\n: only comments\n\n", 3).empty());
}

TEST(StreamChunk, ReadsCompletionTextChatDeltaUsageAndDone) {
  auto completion = parse_stream_chunk(R"({"id":"c1","object":"text_completion","choices":[{"index":0,"text":" world","finish_reason":null}]})");
  ASSERT_TRUE(completion.ok());
  EXPECT_TRUE(completion->has_choice);
  EXPECT_EQ(completion->text, " world");
  EXPECT_FALSE(completion->completion_tokens.has_value());

  auto chat = parse_stream_chunk(R"({"choices":[{"index":0,"delta":{"content":"Hi"}}]})");
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->text, "Hi");

  auto role_only = parse_stream_chunk(R"({"choices":[{"index":0,"delta":{"role":"assistant"}}]})");
  ASSERT_TRUE(role_only.ok());
  EXPECT_TRUE(role_only->has_choice);
  EXPECT_EQ(role_only->text, "");

  auto usage = parse_stream_chunk(R"({"choices":[],"usage":{"prompt_tokens":128,"completion_tokens":64,"total_tokens":192}})");
  ASSERT_TRUE(usage.ok());
  EXPECT_FALSE(usage->has_choice);
  EXPECT_EQ(usage->completion_tokens, 64);
  EXPECT_EQ(usage->prompt_tokens, 128);

  auto done = parse_stream_chunk("[DONE]");
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
}

TEST(StreamChunk, ReportsInStreamErrorsAndRejectsNonJson) {
  auto error = parse_stream_chunk(R"({"error":{"message":"model overloaded","type":"server_error"}})");
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->error, "model overloaded");
  EXPECT_FALSE(parse_stream_chunk("not json").ok());
  EXPECT_FALSE(parse_stream_chunk("[1, 2]").ok());
}

}  // namespace
}  // namespace tessera::serve_bench
