// StopStringMatcher: cuts generated text at the first OpenAI `stop` string, which is never shown.
// Text arrives in pieces (one detokenized token at a time), so a stop string may span pieces:
// the matcher holds back any tail that could still be the start of a stop string.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::serve {

class StopStringMatcher {
 public:
  using StopStrings = std::shared_ptr<const std::vector<std::string>>;
  // NOTE: the strings are shared, not copied: a request's n x prompts choices all match the same
  // list, and copying it into each once multiplied a 1 MB stop string into gigabytes.
  explicit StopStringMatcher(StopStrings stop_strings);
  explicit StopStringMatcher(std::vector<std::string> stop_strings)
      : StopStringMatcher(std::make_shared<const std::vector<std::string>>(std::move(stop_strings))) {}

  // Appends `text` and returns what is now safe to show: everything before the earliest stop
  // string once one is found (then stopped() is true and later calls return ""), otherwise
  // everything except the longest tail that is a proper prefix of some stop string.
  std::string push(std::string_view text);
  // At the end of generation: the held-back tail (it never completed a stop string).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  StopStrings stop_strings_;               // empty strings are skipped
  std::string pending_;                    // text not yet returned
  bool stopped_ = false;
};

}  // namespace tessera::serve
