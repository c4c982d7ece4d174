// parse_assistant_output and StreamingToolCallParser over the one OutputScanner: the whole parse
// is a final scan; the stream sends what each scan adds to what it already sent.
#include "chat/tool_call_parser.h"

#include "chat/json_scan.h"
#include "chat/tool_call_scanner.h"

namespace tessera {
namespace {

ParsedAssistantMessage message_of(const chat::OutputScanner& scanner) {
  ParsedAssistantMessage message;
  message.content = std::string(chat::trim_spaces(scanner.content()));
  message.reasoning_content = std::string(chat::trim_spaces(scanner.reasoning()));
  for (const chat::ScannedCall& call : scanner.calls()) message.tool_calls.push_back({call.name, call.arguments});
  return message;
}

// Sends a growing text trimmed at both ends: never its leading spaces, its trailing spaces only
// once more text follows them, never a partial UTF-8 character.
struct TrimmedSender {
  size_t sent = 0;  // bytes of the source consumed

  void send(const std::string& source, bool final, ToolCallEvent::Kind kind, std::vector<ToolCallEvent>* events) {
    size_t end = source.size();
    while (end > sent && chat::is_space(source[end - 1])) --end;
    if (!final) end = sent + chat::utf8_whole_prefix(std::string_view(source).substr(sent, end - sent));
    size_t start = sent;
    if (sent == 0) {
      while (start < end && chat::is_space(source[start])) ++start;
    }
    if (start >= end) return;
    events->push_back({kind, 0, source.substr(start, end - start)});
    sent = end;
  }
};

}  // namespace

ParsedAssistantMessage parse_assistant_output(ToolCallFormat format, std::string_view text, const ToolCallParseOptions& options) {
  chat::OutputScanner scanner(format, options);
  scanner.scan(text, true);
  return message_of(scanner);
}

struct StreamingToolCallParser::State {
  State(ToolCallFormat format, const ToolCallParseOptions& options) : scanner(format, options) {}
  chat::OutputScanner scanner;
  std::string text;
  bool finished = false;
  TrimmedSender content;
  TrimmedSender reasoning;
  struct SentCall {
    std::string name;
    size_t arguments = 0;  // bytes of its arguments sent
  };
  std::vector<SentCall> sent_calls;
};

StreamingToolCallParser::StreamingToolCallParser(ToolCallFormat format, ToolCallParseOptions options)
    : state_(std::make_unique<State>(format, options)) {}
StreamingToolCallParser::~StreamingToolCallParser() = default;
StreamingToolCallParser::StreamingToolCallParser(StreamingToolCallParser&&) noexcept = default;
StreamingToolCallParser& StreamingToolCallParser::operator=(StreamingToolCallParser&&) noexcept = default;

std::vector<ToolCallEvent> StreamingToolCallParser::feed(std::string_view delta) {
  if (state_->finished) return {};
  state_->text.append(delta);
  state_->scanner.scan(state_->text, false);
  return emit(false);
}

std::vector<ToolCallEvent> StreamingToolCallParser::finish() {
  if (state_->finished) return {};
  state_->finished = true;
  state_->scanner.scan(state_->text, true);
  return emit(true);
}

std::vector<ToolCallEvent> StreamingToolCallParser::emit(bool final) {
  std::vector<ToolCallEvent> events;
  State& s = *state_;
  s.reasoning.send(s.scanner.reasoning(), final, ToolCallEvent::Kind::kReasoning, &events);
  s.content.send(s.scanner.content(), final, ToolCallEvent::Kind::kContent, &events);
  const std::vector<chat::ScannedCall>& calls = s.scanner.calls();
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i == s.sent_calls.size()) {
      events.push_back({ToolCallEvent::Kind::kToolCallStart, i, calls[i].name});
      s.sent_calls.push_back({calls[i].name, 0});
    }
    State::SentCall& sent = s.sent_calls[i];
    const std::string& arguments = calls[i].arguments;
    // A well-formed call's arguments only grow (the scanner's prefix property, tested on every
    // split); a call that broke is content now, and another call in its place gets no fragments.
    if (calls[i].name != sent.name || arguments.size() <= sent.arguments) continue;
    const size_t end = final ? arguments.size() : chat::utf8_whole_prefix(arguments);
    if (end <= sent.arguments) continue;
    events.push_back({ToolCallEvent::Kind::kArguments, i, arguments.substr(sent.arguments, end - sent.arguments)});
    sent.arguments = end;
  }
  return events;
}

ParsedAssistantMessage StreamingToolCallParser::result() const { return message_of(state_->scanner); }

bool StreamingToolCallParser::has_tool_calls() const { return !state_->sent_calls.empty(); }

}  // namespace tessera
