#include "engine/engine_loop.h"

#include <future>

#include "base/timer.h"

namespace tessera {

EngineLoop::EngineLoop(std::unique_ptr<Engine> engine, OutputCallback on_output)
    : engine_(std::move(engine)), on_output_(std::move(on_output)) {
  stats_ = engine_->stats();
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  thread_.join();
}

Expected<EngineRequestId> EngineLoop::add_request(std::vector<int32_t> prompt_token_ids, GenerationParams params,
                                                  AdmitCallback on_admitted) {
  std::promise<Expected<EngineRequestId>> reply;
  std::future<Expected<EngineRequestId>> result = reply.get_future();
  add_request_async(std::move(prompt_token_ids), std::move(params), std::move(on_admitted),
                    [&reply](Expected<EngineRequestId> id) { reply.set_value(std::move(id)); });
  return result.get();
}

void EngineLoop::add_request_async(std::vector<int32_t> prompt_token_ids, GenerationParams params,
                                   AdmitCallback on_admitted, ResultCallback on_result) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!failed_.ok()) {
      const Status why = failed_;
      lock.unlock();
      return on_result(why);
    }
    commands_.push_back({std::move(prompt_token_ids), std::move(params), std::move(on_result), 0, std::move(on_admitted)});
    idle_ = false;
  }
  wake_cv_.notify_one();
}

void EngineLoop::abort(EngineRequestId request_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_.push_back({{}, {}, nullptr, request_id});
    idle_ = false;
  }
  wake_cv_.notify_one();
}

void EngineLoop::fail_queued(const Status& why) {
  std::deque<Command> queued;
  Status reason;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_.ok()) failed_ = why.ok() ? Status(StatusCode::kInternal, "the engine failed") : why;
    reason = failed_;
    queued.swap(commands_);
  }
  for (Command& command : queued) {
    if (command.on_result) command.on_result(reason);
  }
}

void EngineLoop::wait_until_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [this] { return idle_; });
}

EngineStats EngineLoop::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void EngineLoop::apply(std::deque<Command>& commands) {
  for (Command& command : commands) {
    if (command.on_result) {
      Expected<EngineRequestId> id = engine_->add_request(command.prompt_token_ids, command.params);
      if (id.ok() && command.on_admitted) command.on_admitted(*id);
      command.on_result(std::move(id));
    } else {
      (void)engine_->abort(command.abort_id);  // NotFound: it finished first, nothing to do
    }
  }
  commands.clear();
}

void EngineLoop::run() {
  std::deque<Command> commands;  // taken from the queue under the lock, applied outside it
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (commands_.empty() && !engine_->has_unfinished_requests()) {
        idle_ = true;
        idle_cv_.notify_all();
        wake_cv_.wait(lock, [this] { return stop_ || !commands_.empty(); });
      }
      if (stop_) {
        for (Command& command : commands_) {
          if (command.on_result) command.on_result(Status(StatusCode::kInternal, "engine loop stopped"));
        }
        return;
      }
      commands.swap(commands_);
    }
    apply(commands);
    // NOTE: commands are applied between steps, never during one: the scheduler and KV state
    // belong to this thread alone.
    step_start_us_ = now_us();
    for (const RequestOutput& output : engine_->step()) on_output_(output);
    const EngineStats stats = engine_->stats();
    std::lock_guard<std::mutex> lock(mutex_);
    stats_ = stats;
  }
}

}  // namespace tessera
