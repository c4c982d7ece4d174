// Incremental Server-Sent Events parser for streamed OpenAI responses: bytes arrive in arbitrary
// pieces (a line, an event, or half of one); complete events come out as their `data` payloads.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace tessera::serve_bench {

class SseParser {
 public:
  // Called with the data of each complete event (several `data:` lines joined by '\n').
  using OnData = std::function<void(std::string_view data)>;

  explicit SseParser(OnData on_data) : on_data_(std::move(on_data)) {}

  // Feeds the next received bytes. Lines end in "\n", "\r\n" or "\r"; an empty line ends an
  // event; `data:` (one optional space after the colon) adds to it; comments (":...") and other
  // fields (event, id, retry) are ignored.
  void feed(std::string_view bytes);

  // End of stream: delivers an event whose closing empty line never came (lenient: some servers
  // end with "data: [DONE]\n" only).
  void finish();

 private:
  void handle_line(std::string_view line);

  OnData on_data_;
  std::string partial_line_;  // bytes after the last line break
  std::string data_;          // data of the event being read
  bool has_data_ = false;     // the event has at least one data line
  bool last_was_cr_ = false;  // the previous feed ended in '\r' (a following '\n' is part of it)
};

}  // namespace tessera::serve_bench
