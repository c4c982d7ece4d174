#include "serve/choice_state.h"

namespace tessera::serve {

ChoiceState::ChoiceState(const Tokenizer& tokenizer, StopStringMatcher::StopStrings stop_strings, bool want_logprobs,
                         bool render_control_tokens)
    : tokenizer_(tokenizer), detokenizer_(tokenizer, render_control_tokens), stop_matcher_(std::move(stop_strings)), want_logprobs_(want_logprobs) {}

LogprobEntry ChoiceState::entry_for(int32_t token_id, const SampledLogprobs& lp) const {
  LogprobEntry entry{tokenizer_.token_to_piece(token_id), lp.sampled.logprob, {}};
  for (const TokenLogprob& top : lp.top) entry.top.emplace_back(tokenizer_.token_to_piece(top.token_id), top.logprob);
  return entry;
}

ChoiceDelta ChoiceState::push(const RequestOutput& output) {
  ChoiceDelta delta;
  if (finished()) return delta;
  for (size_t i = 0; i < output.new_token_ids.size(); ++i) {
    const int32_t id = output.new_token_ids[i];
    ++num_tokens_;
    if (want_logprobs_ && i < output.logprobs.size()) delta.logprobs.push_back(entry_for(id, output.logprobs[i]));
    delta.text += stop_matcher_.push(detokenizer_.push(id));
    if (stop_matcher_.stopped()) {
      finish_reason_ = "stop";
      break;
    }
  }
  if (!finished() && output.finished()) {
    delta.text += stop_matcher_.push(detokenizer_.flush());
    delta.text += stop_matcher_.flush();
    finish_reason_ = stop_matcher_.stopped() ? "stop" : to_string(output.finish_reason);
  }
  text_ += delta.text;
  logprobs_.insert(logprobs_.end(), delta.logprobs.begin(), delta.logprobs.end());
  if (finish_reason_) delta.finish_reason = finish_reason_;
  return delta;
}

}  // namespace tessera::serve
