// EngineLoop: runs an Engine on its own thread so that many callers (server handlers, embedders)
// can submit and abort requests concurrently. Owns the Engine: only the loop thread touches it;
// callers talk to it through a locked command queue and get tokens back through a callback.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tessera/engine.h"

namespace tessera {

class EngineLoop {
 public:
  // Called on the loop thread for every output of every step; must be quick and must not call
  // back into the loop's blocking methods (add_request, wait_until_idle).
  using OutputCallback = std::function<void(const RequestOutput&)>;

  EngineLoop(std::unique_ptr<Engine> engine, OutputCallback on_output);
  ~EngineLoop();  // finishes the step in flight, fails queued adds, then stops and joins
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Called on the loop thread with the new id right after admission, before any step runs it,
  // so a caller can route that request's outputs without a race.
  using AdmitCallback = std::function<void(EngineRequestId)>;

  // Thread-safe. Blocks until the loop thread has admitted or rejected the request.
  Expected<EngineRequestId> add_request(std::vector<int32_t> prompt_token_ids, GenerationParams params,
                                        AdmitCallback on_admitted = nullptr);
  // Thread-safe, non-blocking: `on_result` gets the id or the rejection on the loop thread (after
  // on_admitted), or kInternal if the loop stops first. Same rules as the output callback.
  using ResultCallback = std::function<void(Expected<EngineRequestId>)>;
  void add_request_async(std::vector<int32_t> prompt_token_ids, GenerationParams params, AdmitCallback on_admitted,
                         ResultCallback on_result);
  // Thread-safe, non-blocking; unknown or finished ids are ignored.
  void abort(EngineRequestId request_id);
  // Thread-safe, also while the loop thread is stuck in a step (a parallel model's rank died or
  // hung): every queued add gets `why` now, on this thread, and so does every later add, at
  // once, on its caller's thread. Requests already admitted are the caller's to end.
  void fail_queued(const Status& why);
  // Thread-safe. Returns once no command is queued and no request is unfinished.
  void wait_until_idle();
  // The engine's counters as of the last completed step.
  EngineStats stats();
  // When the step whose outputs are being delivered started (steady-clock us, base/timer.h
  // now_us). Only meaningful inside the output callback, on the loop thread.
  int64_t step_start_us() const { return step_start_us_; }

 private:
  struct Command {
    std::vector<int32_t> prompt_token_ids;                  // add: the prompt
    GenerationParams params;                                // add: its parameters
    ResultCallback on_result;                               // add: where the id goes; null = abort
    EngineRequestId abort_id = 0;                           // abort: the request
    AdmitCallback on_admitted;                              // add: optional, see add_request
  };
  void run();
  void apply(std::deque<Command>& commands);

  std::unique_ptr<Engine> engine_;
  OutputCallback on_output_;
  std::mutex mutex_;                   // guards everything below
  std::condition_variable wake_cv_;    // the loop waits here for commands or stop_
  std::condition_variable idle_cv_;    // wait_until_idle waits here
  std::deque<Command> commands_;       // submitted, not yet applied
  bool idle_ = true;                   // no commands and no unfinished requests
  bool stop_ = false;
  Status failed_;                      // fail_queued's reason: adds are refused
  EngineStats stats_;                  // copied after each step
  int64_t step_start_us_ = 0;          // loop thread only: start of the step being delivered
  std::thread thread_;                 // started last, in the constructor body
};

}  // namespace tessera
