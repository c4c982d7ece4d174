// The one scanner behind parse_assistant_output and StreamingToolCallParser (internal to
// src/chat): walks a model's output as it grows, settles what no later text can change and
// reports the call still being written as a partial call.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "chat/json_scan.h"
#include "chat/tool_call_parser.h"
#include "chat/tool_call_spec.h"

namespace tessera::chat {

struct ScannedCall {
  std::string name;       // complete
  std::string arguments;  // compact JSON; a prefix of the final text while the call is open
};

class OutputScanner {
 public:
  OutputScanner(ToolCallFormat format, const ToolCallParseOptions& options);

  // `text` is the whole output so far and extends the text of the previous call. final: nothing
  // follows, so held-back text is content and an unfinished call is malformed (content).
  void scan(std::string_view text, bool final);

  const std::string& content() const { return content_; }      // untrimmed; grows only
  const std::string& reasoning() const { return reasoning_; }  // untrimmed; grows only
  // The finished calls, then the calls of the region still open (their names are complete).
  const std::vector<ScannedCall>& calls() const { return calls_; }

 private:
  enum class Phase { kBeforeThink, kInThink, kMain };

 public:
  struct Region;

 private:

  void scan_think(std::string_view text, bool final);
  void scan_main(std::string_view text, bool final);
  Region scan_region(std::string_view text, size_t marker_end, bool bare, bool final) const;
  Region scan_json_region(std::string_view text, size_t pos, bool final) const;
  Region scan_named_region(std::string_view text, size_t pos, bool final) const;
  Region scan_xml_region(std::string_view text, size_t pos, bool final) const;
  Region scan_call_value(std::string_view text, size_t pos, int nesting) const;
  size_t held_back(std::string_view text, size_t pos) const;

  // A call's arguments object, read once across scans: the JSON machine and the compact text so
  // far resume where the last scan stopped, so a stream's delta costs its own bytes rather than
  // the whole call's. Entries before pos_ are dropped at each scan.
  struct ArgsRead {
    size_t start = 0;
    size_t read = 0;  // text before this is in machine and compact
    JsonMachine machine;
    JsonMinifier minifier;
    JsonScan scan{JsonState::kIncomplete, 0};
    std::string compact;
  };
  const ArgsRead& read_arguments(std::string_view text, size_t start) const;
  mutable std::deque<ArgsRead> args_reads_;

  const FormatSpec& spec_;
  Phase phase_;
  size_t pos_ = 0;            // text before pos_ is settled
  bool seen_output_ = false;  // settled non-space content or a call exists (ends bare-JSON calls)
  std::string content_;
  std::string reasoning_;
  std::vector<ScannedCall> calls_;
  size_t settled_calls_ = 0;
};

// ASCII whitespace, as Python's str.strip() removes around content.
bool is_space(char c);
std::string_view trim_spaces(std::string_view text);

}  // namespace tessera::chat
