// EngineClient: the server's only door to the engine. Owns the EngineLoop (engine on its own
// thread); submit() queues a request and returns a RequestChannel on which that request's outputs
// arrive, routed by the loop's output callback. Records the per-token latency metrics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/engine_loop.h"
#include "serve/serve_metrics.h"

namespace tessera::serve {

// One engine output and the prompt (of its HTTP request) it belongs to.
struct RoutedOutput {
  int32_t prompt_index = 0;
  RequestOutput output;
};

// The outputs of the engine requests of one HTTP request (one per prompt), handed from the loop
// thread to whoever serves it: a thread that waits, or an event-driven reader told by a listener.
class RequestChannel {
 public:
  void push(int32_t prompt_index, const RequestOutput& output);  // loop thread
  // Moves every queued output into `out` (cleared first); waits up to `timeout` when none is
  // queued. False when nothing came.
  bool wait(std::vector<RoutedOutput>& out, std::chrono::milliseconds timeout);
  // `on_ready` runs on the loop thread whenever an output lands in an empty channel (so once per
  // batch the reader has not taken yet). It must be quick: post the reading elsewhere.
  void set_listener(std::function<void()> on_ready);

 private:
  std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::vector<RoutedOutput> outputs_;  // pushed, not yet taken
  std::function<void()> on_ready_;
};

class EngineClient {
 public:
  EngineClient(std::unique_ptr<Engine> engine, ServeMetrics& metrics);
  ~EngineClient();  // stops the loop (in-flight requests end unanswered: call abort_all first)

  // Queues a request whose outputs go to `channel`; blocks until the loop has admitted it (the
  // engine's own errors come back as they are: kResourceExhausted when its waiting queue is full
  // (EngineConfig::max_waiting_requests), kInvalidArgument/kOutOfRange for a request that cannot run).
  Expected<EngineRequestId> submit(std::vector<int32_t> prompt_token_ids, const GenerationParams& params,
                                   std::shared_ptr<RequestChannel> channel, int32_t prompt_index = 0);
  // The same without blocking: `on_result` runs on the loop thread with the id or the rejection.
  using SubmitCallback = std::function<void(Expected<EngineRequestId>)>;
  void submit_async(std::vector<int32_t> prompt_token_ids, const GenerationParams& params,
                    std::shared_ptr<RequestChannel> channel, int32_t prompt_index, SubmitCallback on_result);
  void abort(EngineRequestId request_id);  // non-blocking; outputs with kAbort follow on the channel
  void abort_all();                        // every request still in flight (shutdown)
  // The engine cannot go on (a rank of a parallel model died or hung: dist::abort_job): every
  // unfinished completion ends now with FinishReason::kError on its channel, and `message` is
  // what their clients are told. Safe from any thread, also while the loop thread is stuck.
  void fail_all(const std::string& message);
  // fail_all's message; "" while the engine works.
  std::string failure() const;
  int32_t num_in_flight();                 // requests with an unfinished completion

  EngineStats stats() { return loop_->stats(); }
  int32_t max_model_len() const { return max_model_len_; }

 private:
  struct Tracked {
    std::shared_ptr<RequestChannel> channel;
    int32_t prompt_index = 0;              // routes its outputs within the channel
    int64_t arrival_us = 0;
    bool seen_output = false;              // its queue time is recorded at the first output
    std::vector<int64_t> last_token_us;    // [n] when each completion last got a token; 0 = none yet
    std::vector<bool> finished;            // [n] completions the engine ended
    int32_t num_unfinished = 0;            // completions still running
  };
  void on_output(const RequestOutput& output);  // loop thread

  ServeMetrics& metrics_;
  const int32_t max_model_len_;
  mutable std::mutex mutex_;               // guards tracked_ and failure_
  std::string failure_;                    // fail_all's message
  std::unordered_map<EngineRequestId, Tracked> tracked_;
  std::unique_ptr<EngineLoop> loop_;       // last: its thread stops before the members above go
};

}  // namespace tessera::serve
