// GenerationSession: one completions or chat HTTP request while the engine runs it. Submits one
// engine request per prompt (n completions each), turns their outputs into per-choice deltas,
// aborts engine work nobody needs any more (all of a prompt's choices hit stop strings, the
// client left) and records the per-choice metrics. No networking: callers pass outputs on.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/tool_call_format.h"
#include "chat/tool_call_parser.h"
#include "serve/choice_state.h"
#include "serve/engine_client.h"
#include "serve/openai_request.h"

namespace tessera::serve {

// A validated request, ready for the engine.
struct GenerationJob {
  bool chat = false;
  std::string model;                            // the served model name, echoed in responses
  std::vector<std::vector<int32_t>> prompts;    // token ids of each prompt
  std::vector<std::string> echo_texts;          // [prompts] completions echo: text shown before each choice
  SamplingRequest sampling;                     // params.max_tokens already resolved
  // Chat with tools: the format tool calls are parsed out of each choice's text in
  // (message.tool_calls / delta.tool_calls); kNone = the text is all content.
  ToolCallFormat tool_format = ToolCallFormat::kNone;
  bool parallel_tool_calls = true;  // false: only a reply's first call is returned
  // Chat with a reasoning parser: a leading <think>...</think> becomes reasoning_content.
  ToolCallParseOptions parse_options;
  // Whether chat replies go through the tool-call / reasoning parser at all.
  bool parses_output() const { return chat && (tool_format != ToolCallFormat::kNone || parse_options.extract_reasoning); }
};

// Chooses max_tokens against the context like vLLM: a given value must fit (else an
// kInvalidArgument naming 'max_tokens'); an absent one is min(default, what is left), where the
// default is 16 for completions and the whole rest of the context for chat.
Status resolve_max_tokens(SamplingRequest& sampling, int32_t longest_prompt, int32_t max_model_len, bool chat);

// NOTE: the session holds the EngineClient weakly: at shutdown the engine stops before the last
// sessions (held by HTTP callbacks) are destroyed, and a destroyed engine has nothing to abort.
class GenerationSession {
 public:
  GenerationSession(std::weak_ptr<EngineClient> client, const Tokenizer& tokenizer, ServeMetrics& metrics,
                    const GenerationJob& job);
  ~GenerationSession();  // aborts whatever engine work is left
  GenerationSession(const GenerationSession&) = delete;
  GenerationSession& operator=(const GenerationSession&) = delete;

  // Submits every prompt and waits for the engine to take them; on a rejection aborts the ones
  // already in and returns it.
  Status start();
  // The same without waiting: every prompt goes to the engine at once, and `on_done` runs on the
  // engine loop thread with the outcome, which the session's owner passes to finish_start().
  struct StartResult {
    Status status;                       // the first rejection, if any
    std::vector<EngineRequestId> ids;    // [prompts] -1 where refused
  };
  void start_async(std::function<void(StartResult)> on_done);
  Status finish_start(StartResult result);
  // Waits up to `timeout` for engine outputs and applies them. Returns (choice index, delta) for
  // every choice that changed, in arrival order.
  std::vector<std::pair<int32_t, ChoiceDelta>> poll(std::chrono::milliseconds timeout);
  // Calls `on_ready` (on the engine loop thread) whenever new outputs wait for poll().
  void set_listener(std::function<void()> on_ready) { channel_->set_listener(std::move(on_ready)); }
  // The client is gone or the server is stopping: abort the engine requests, end every choice.
  void cancel();

  bool done() const { return num_finished_ == static_cast<int32_t>(choices_.size()); }
  // The engine failed under this request (EngineClient::fail_all): its choices ended with
  // finish_reason "error" and the reply is an error. failure() says why.
  bool engine_failed() const { return engine_failed_; }
  std::string failure() const;
  const std::vector<ChoiceState>& choices() const { return choices_; }
  int64_t prompt_tokens() const;      // usage: each prompt once
  int64_t completion_tokens() const;  // usage: every choice's tokens

 private:
  struct PromptRun {
    EngineRequestId request_id = -1;  // -1 until submitted
    int32_t num_engine_finished = 0;  // completions the engine reported finished
    bool aborted = false;             // abort already sent
  };
  void note_finished(int32_t choice_index);
  void abort_unneeded(size_t prompt_index);

  void abort_run(PromptRun& run);

  std::weak_ptr<EngineClient> client_;
  ServeMetrics& metrics_;
  const GenerationJob& job_;
  const int64_t start_us_;
  std::shared_ptr<RequestChannel> channel_;
  std::vector<PromptRun> runs_;        // [prompts]
  std::vector<ChoiceState> choices_;   // [prompts * n]: choice p*n+i is completion i of prompt p
  int32_t num_finished_ = 0;
  bool engine_failed_ = false;
  bool cancelled_ = false;             // cancel() came first: finish_start aborts what was admitted
  std::vector<RoutedOutput> scratch_;  // outputs taken from the channel, reused
};

}  // namespace tessera::serve
