// ChoiceState: one OpenAI choice being generated. Turns the engine's token ids into text
// (UTF-8-safe streaming detokenizer), applies stop strings (hidden, possibly spanning tokens),
// collects logprobs and decides the finish reason. Used alike by streaming and plain responses.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "serve/stop_matcher.h"
#include "tessera/request.h"
#include "tokenizer/tokenizer.h"

namespace tessera::serve {

// One generated token's logprobs with its text, as both OpenAI formats need.
struct LogprobEntry {
  std::string token;                                   // the token's text (may be part of a UTF-8 character)
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top;      // most likely tokens at this position, highest first
};

// What one engine output added to a choice.
struct ChoiceDelta {
  std::string text;                         // newly visible text (stop strings cut, held-back tails excluded)
  std::vector<LogprobEntry> logprobs;       // one per consumed token when logprobs were asked for
  std::optional<std::string> finish_reason; // "stop" | "length" | "abort" | "timeout" | "error" once ended
};

class ChoiceState {
 public:
  // render_control_tokens: control tokens reach the text (tool-call markers such as [TOOL_CALLS]).
  ChoiceState(const Tokenizer& tokenizer, StopStringMatcher::StopStrings stop_strings, bool want_logprobs,
              bool render_control_tokens = false);

  // Consumes one engine output of this choice. After finished(), further outputs are ignored.
  ChoiceDelta push(const RequestOutput& output);
  // Ends the choice from outside (client gone, shutdown) with `reason`.
  void finish(const std::string& reason) { if (!finish_reason_) finish_reason_ = reason; }

  bool finished() const { return finish_reason_.has_value(); }
  const std::string& finish_reason() const { return *finish_reason_; }
  const std::string& text() const { return text_; }        // everything shown so far
  int32_t num_tokens() const { return num_tokens_; }       // tokens consumed (usage.completion_tokens)
  const std::vector<LogprobEntry>& logprobs() const { return logprobs_; }

 private:
  LogprobEntry entry_for(int32_t token_id, const SampledLogprobs& lp) const;

  const Tokenizer& tokenizer_;
  StreamingDetokenizer detokenizer_;
  StopStringMatcher stop_matcher_;
  bool want_logprobs_ = false;
  std::string text_;
  int32_t num_tokens_ = 0;
  std::vector<LogprobEntry> logprobs_;
  std::optional<std::string> finish_reason_;
};

}  // namespace tessera::serve
