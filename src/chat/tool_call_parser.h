// Parsing a model's output into an OpenAI assistant message: content, tool_calls and
// reasoning_content, whole (parse_assistant_output) or delta by delta (StreamingToolCallParser).
//
// Design note. One scanner serves both: it walks the output once, keeps what can no longer change
// (content before a possible call marker, finished calls) and reports the call still being written
// as a partial call (its name once the name is complete, its arguments as far as they go). The
// streaming parser re-scans only from the first unsettled byte on each delta and emits the
// difference from what it already sent, so for every output whose calls are well formed the
// events of any split of the text add up to exactly the whole parse: content pieces concatenate to
// `content`, and each call's argument fragments concatenate to its `arguments`.
// Content is trimmed at both ends as the OpenAI API returns it: leading whitespace is never sent
// and trailing whitespace is held until more text follows it. Text that could still become a call
// marker ("<tool_" at the end of a delta) is held back, as a stop-string matcher holds back.
// A malformed call (broken JSON, no name, truncated by max_tokens) stays in `content`; a stream
// that already announced such a call sends its text as content at finish(). Nothing here throws
// on any input; work is linear in the output plus one re-scan of the unsettled call per delta.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_call_format.h"

namespace tessera {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // a compact JSON object; the server adds the id and type "function"
};

struct ParsedAssistantMessage {
  std::string content;            // "" when the output was only calls (the server sends null)
  std::string reasoning_content;  // "" when none
  std::vector<ParsedToolCall> tool_calls;
};

struct ToolCallParseOptions {
  bool extract_reasoning = false;    // split a leading <think>...</think> into reasoning_content
  bool starts_in_reasoning = false;  // the prompt opened <think> (prompt_opens_reasoning)
};

ParsedAssistantMessage parse_assistant_output(ToolCallFormat format, std::string_view text,
                                              const ToolCallParseOptions& options = {});

struct ToolCallEvent {
  enum class Kind {
    kContent,        // text: more content
    kReasoning,      // text: more reasoning_content
    kToolCallStart,  // index, text: the function's name
    kArguments,      // index, text: the next fragment of that call's arguments
  };
  Kind kind = Kind::kContent;
  size_t index = 0;  // kToolCallStart, kArguments: the call's position in tool_calls
  std::string text;

  bool operator==(const ToolCallEvent&) const = default;
};

class StreamingToolCallParser {
 public:
  explicit StreamingToolCallParser(ToolCallFormat format, ToolCallParseOptions options = {});
  ~StreamingToolCallParser();
  StreamingToolCallParser(StreamingToolCallParser&&) noexcept;
  StreamingToolCallParser& operator=(StreamingToolCallParser&&) noexcept;

  // The events the text so far allows; never an incomplete UTF-8 character.
  std::vector<ToolCallEvent> feed(std::string_view delta);
  // The end of the output: flushes what was held back. Call once; feed() after it is ignored.
  std::vector<ToolCallEvent> finish();
  // The whole parse of everything fed (after finish(): equal to parse_assistant_output's).
  ParsedAssistantMessage result() const;
  // True once a call has been announced. For finish_reason "tool_calls" use result() after
  // finish(): an announced call that broke is not in it.
  bool has_tool_calls() const;

 private:
  struct State;
  std::vector<ToolCallEvent> emit(bool final);
  std::unique_ptr<State> state_;
};

}  // namespace tessera
