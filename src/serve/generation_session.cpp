#include "serve/generation_session.h"

#include <mutex>

#include "base/timer.h"

namespace tessera::serve {

Status resolve_max_tokens(SamplingRequest& sampling, int32_t longest_prompt, int32_t max_model_len, bool chat) {
  const int64_t room = int64_t(max_model_len) - longest_prompt;
  if (room < 1) {
    return invalid_argument("'prompt' This model's maximum context length is " + std::to_string(max_model_len) +
                            " tokens. However, your prompt has " + std::to_string(longest_prompt) +
                            " tokens, leaving no room for a completion.");
  }
  int32_t& max_tokens = sampling.params.max_tokens;
  if (sampling.max_tokens_given) {
    if (int64_t(max_tokens) > room) {
      return invalid_argument("'max_tokens' This model's maximum context length is " + std::to_string(max_model_len) +
                              " tokens. However, you requested " + std::to_string(int64_t(longest_prompt) + max_tokens) +
                              " tokens (" + std::to_string(longest_prompt) + " in the prompt, " +
                              std::to_string(max_tokens) + " for the completion).");
    }
    return Status();
  }
  max_tokens = static_cast<int32_t>(chat ? room : std::min<int64_t>(16, room));
  return Status();
}

GenerationSession::GenerationSession(std::weak_ptr<EngineClient> client, const Tokenizer& tokenizer,
                                     ServeMetrics& metrics, const GenerationJob& job)
    : client_(std::move(client)), metrics_(metrics), job_(job), start_us_(now_us()), channel_(std::make_shared<RequestChannel>()),
      runs_(job.prompts.size()) {
  const int32_t n = job.sampling.params.n;
  choices_.reserve(job.prompts.size() * size_t(n));
  for (size_t i = 0; i < job.prompts.size() * size_t(n); ++i) {
    // With tools, the model's call markers may be control tokens: the parser must see them.
    choices_.emplace_back(tokenizer, job.sampling.stop, job.sampling.want_logprobs, job.tool_format != ToolCallFormat::kNone);
  }
}

GenerationSession::~GenerationSession() {
  for (PromptRun& run : runs_) {
    if (run.num_engine_finished < job_.sampling.params.n) abort_run(run);
  }
}

void GenerationSession::abort_run(PromptRun& run) {
  if (run.request_id < 0 || run.aborted) return;
  run.aborted = true;
  if (auto client = client_.lock()) client->abort(run.request_id);
}

Status GenerationSession::start() {
  auto client = client_.lock();
  if (client == nullptr) return Status(StatusCode::kInternal, "the engine has stopped");
  for (size_t p = 0; p < job_.prompts.size(); ++p) {
    Expected<EngineRequestId> id = client->submit(job_.prompts[p], job_.sampling.params, channel_, int32_t(p));
    if (!id.ok()) return id.status();  // the destructor aborts the ones already submitted
    runs_[p].request_id = *id;
  }
  return Status();
}

void GenerationSession::start_async(std::function<void(StartResult)> on_done) {
  auto client = client_.lock();
  if (client == nullptr) return on_done({Status(StatusCode::kInternal, "the engine has stopped"), {}});
  // Filled on the loop thread, except after an engine failure (EngineLoop::fail_queued), when
  // the failing thread answers what the loop had not taken: hence the lock.
  struct Pending {
    std::mutex mutex;
    StartResult result;
    size_t num_left = 0;
    std::function<void(StartResult)> on_done;
  };
  auto pending = std::make_shared<Pending>();
  pending->result.ids.assign(job_.prompts.size(), -1);
  pending->num_left = job_.prompts.size();
  pending->on_done = std::move(on_done);
  for (size_t p = 0; p < job_.prompts.size(); ++p) {
    client->submit_async(job_.prompts[p], job_.sampling.params, channel_, int32_t(p),
                         [pending, p](Expected<EngineRequestId> id) {
                           std::unique_lock<std::mutex> lock(pending->mutex);
                           if (id.ok()) {
                             pending->result.ids[p] = *id;
                           } else if (pending->result.status.ok()) {
                             pending->result.status = id.status();
                           }
                           if (--pending->num_left > 0) return;
                           lock.unlock();
                           pending->on_done(std::move(pending->result));
                         });
  }
}

Status GenerationSession::finish_start(StartResult result) {
  for (size_t p = 0; p < runs_.size() && p < result.ids.size(); ++p) runs_[p].request_id = result.ids[p];
  if (!result.status.ok() || cancelled_) {
    for (PromptRun& run : runs_) abort_run(run);
  }
  return result.status;
}

std::vector<std::pair<int32_t, ChoiceDelta>> GenerationSession::poll(std::chrono::milliseconds timeout) {
  std::vector<std::pair<int32_t, ChoiceDelta>> deltas;
  if (!channel_->wait(scratch_, timeout)) return deltas;
  const int32_t n = job_.sampling.params.n;
  for (const auto& [prompt_index, output] : scratch_) {
    const auto p = static_cast<size_t>(prompt_index);
    if (p >= runs_.size() || output.index < 0 || output.index >= n) continue;
    if (output.finished()) ++runs_[p].num_engine_finished;
    if (output.finish_reason == FinishReason::kError) engine_failed_ = true;
    const int32_t choice_index = static_cast<int32_t>(p) * n + output.index;
    ChoiceState& choice = choices_[size_t(choice_index)];
    if (choice.finished()) continue;
    ChoiceDelta delta = choice.push(output);
    if (choice.finished()) note_finished(choice_index);
    deltas.emplace_back(choice_index, std::move(delta));
    abort_unneeded(p);
  }
  return deltas;
}

void GenerationSession::cancel() {
  cancelled_ = true;
  for (PromptRun& run : runs_) abort_run(run);
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (choices_[i].finished()) continue;
    choices_[i].finish("abort");
    note_finished(static_cast<int32_t>(i));
  }
}

void GenerationSession::note_finished(int32_t choice_index) {
  ++num_finished_;
  metrics_.record_finished(choices_[size_t(choice_index)].finish_reason().c_str());
  metrics_.observe_e2e_latency(double(now_us() - start_us_) / 1e6);
}

// Every choice of the prompt is done (stop strings) while the engine still runs some: stop it.
void GenerationSession::abort_unneeded(size_t p) {
  PromptRun& run = runs_[p];
  const int32_t n = job_.sampling.params.n;
  if (run.aborted || run.num_engine_finished == n) return;
  for (int32_t i = 0; i < n; ++i) {
    if (!choices_[p * size_t(n) + size_t(i)].finished()) return;
  }
  abort_run(run);
}

std::string GenerationSession::failure() const {
  auto client = client_.lock();
  const std::string why = client != nullptr ? client->failure() : "";
  return why.empty() ? "the engine failed" : why;
}

int64_t GenerationSession::prompt_tokens() const {
  int64_t total = 0;
  for (const auto& prompt : job_.prompts) total += static_cast<int64_t>(prompt.size());
  return total;
}

int64_t GenerationSession::completion_tokens() const {
  int64_t total = 0;
  for (const ChoiceState& choice : choices_) total += choice.num_tokens();
  return total;
}

}  // namespace tessera::serve
