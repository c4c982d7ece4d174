#include "serve/stop_matcher.h"

#include <algorithm>

namespace tessera::serve {

StopStringMatcher::StopStringMatcher(StopStrings stop_strings) : stop_strings_(std::move(stop_strings)) {}

std::string StopStringMatcher::push(std::string_view text) {
  if (stopped_) return "";
  pending_.append(text);
  size_t earliest = std::string::npos;
  for (const std::string& stop : *stop_strings_) {
    if (!stop.empty()) earliest = std::min(earliest, pending_.find(stop));
  }
  if (earliest != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, earliest);
    pending_.clear();
    return out;
  }
  // Longest tail of pending_ that a stop string starts with; it must wait for more text.
  size_t held = 0;
  for (const std::string& stop : *stop_strings_) {
    if (stop.empty()) continue;
    for (size_t len = std::min(stop.size() - 1, pending_.size()); len > held; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) == std::string_view(stop).substr(0, len)) {
        held = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - held);
  pending_.erase(0, pending_.size() - held);
  return out;
}

std::string StopStringMatcher::flush() {
  std::string out;
  out.swap(pending_);
  return stopped_ ? std::string() : out;
}

}  // namespace tessera::serve
