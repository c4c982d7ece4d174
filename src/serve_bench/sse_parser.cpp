#include "serve_bench/sse_parser.h"

namespace tessera::serve_bench {

void SseParser::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (last_was_cr_) {
      last_was_cr_ = false;
      if (c == '\n') continue;  // the "\n" of a "\r\n" split across feeds
    }
    if (c == '\r' || c == '\n') {
      last_was_cr_ = c == '\r';
      handle_line(partial_line_);
      partial_line_.clear();
    } else {
      partial_line_.push_back(c);
    }
  }
}

void SseParser::finish() {
  if (!partial_line_.empty()) {
    handle_line(partial_line_);
    partial_line_.clear();
  }
  handle_line("");
}

void SseParser::handle_line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) on_data_(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment / keep-alive
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  if (field != "data") return;
  std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

}  // namespace tessera::serve_bench
