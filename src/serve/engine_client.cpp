#include "serve/engine_client.h"

#include <future>

#include "base/timer.h"

namespace tessera::serve {

void RequestChannel::push(int32_t prompt_index, const RequestOutput& output) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    outputs_.push_back({prompt_index, output});
    // Under the lock, so a reader that just took everything cannot miss this output.
    if (outputs_.size() == 1 && on_ready_) on_ready_();
  }
  ready_cv_.notify_one();
}

void RequestChannel::set_listener(std::function<void()> on_ready) {
  std::lock_guard<std::mutex> lock(mutex_);
  on_ready_ = std::move(on_ready);
  if (!outputs_.empty() && on_ready_) on_ready_();
}

bool RequestChannel::wait(std::vector<RoutedOutput>& out, std::chrono::milliseconds timeout) {
  out.clear();
  std::unique_lock<std::mutex> lock(mutex_);
  if (!ready_cv_.wait_for(lock, timeout, [this] { return !outputs_.empty(); })) return false;
  out.swap(outputs_);
  return true;
}

EngineClient::EngineClient(std::unique_ptr<Engine> engine, ServeMetrics& metrics)
    : metrics_(metrics), max_model_len_(engine->max_model_len()) {
  loop_ = std::make_unique<EngineLoop>(std::move(engine), [this](const RequestOutput& output) { on_output(output); });
}

EngineClient::~EngineClient() { loop_.reset(); }

Expected<EngineRequestId> EngineClient::submit(std::vector<int32_t> prompt_token_ids, const GenerationParams& params,
                                               std::shared_ptr<RequestChannel> channel, int32_t prompt_index) {
  std::promise<Expected<EngineRequestId>> reply;
  std::future<Expected<EngineRequestId>> result = reply.get_future();
  submit_async(std::move(prompt_token_ids), params, std::move(channel), prompt_index,
               [&reply](Expected<EngineRequestId> id) { reply.set_value(std::move(id)); });
  return result.get();
}

void EngineClient::submit_async(std::vector<int32_t> prompt_token_ids, const GenerationParams& params,
                                std::shared_ptr<RequestChannel> channel, int32_t prompt_index, SubmitCallback on_result) {
  const int64_t arrival_us = now_us();
  const auto num_prompt_tokens = static_cast<int64_t>(prompt_token_ids.size());
  const int32_t n = params.n;
  // Registered on the loop thread before the first step that could produce its outputs.
  auto on_admitted = [this, channel = std::move(channel), prompt_index, arrival_us, n](EngineRequestId id) {
    Tracked tracked{channel, prompt_index, arrival_us, false, std::vector<int64_t>(size_t(n), 0),
                    std::vector<bool>(size_t(n), false), n};
    std::lock_guard<std::mutex> lock(mutex_);
    tracked_.emplace(id, std::move(tracked));
  };
  loop_->add_request_async(std::move(prompt_token_ids), params, std::move(on_admitted),
                           [this, num_prompt_tokens, on_result = std::move(on_result)](Expected<EngineRequestId> id) {
                             if (id.ok()) metrics_.add_prompt_tokens(num_prompt_tokens);
                             on_result(std::move(id));
                           });
}

void EngineClient::abort(EngineRequestId request_id) { loop_->abort(request_id); }

void EngineClient::abort_all() {
  std::vector<EngineRequestId> ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, tracked] : tracked_) ids.push_back(id);
  }
  for (EngineRequestId id : ids) loop_->abort(id);
}

void EngineClient::fail_all(const std::string& message) {
  std::vector<std::pair<Tracked, EngineRequestId>> failed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_.empty()) failure_ = message.empty() ? "the engine failed" : message;
    for (auto& [id, tracked] : tracked_) failed.emplace_back(std::move(tracked), id);
    tracked_.clear();  // a late output of the stuck loop finds nothing to route
  }
  loop_->fail_queued(Status(StatusCode::kInternal, failure()));  // 503 "The server is stopping: ..."
  for (const auto& [tracked, id] : failed) {
    for (size_t i = 0; i < tracked.finished.size(); ++i) {
      if (tracked.finished[i]) continue;
      RequestOutput output;
      output.request_id = id;
      output.index = static_cast<int32_t>(i);
      output.finish_reason = FinishReason::kError;
      tracked.channel->push(tracked.prompt_index, output);
    }
  }
}

std::string EngineClient::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

int32_t EngineClient::num_in_flight() {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int32_t>(tracked_.size());
}

void EngineClient::on_output(const RequestOutput& output) {
  const int64_t t = now_us();
  std::shared_ptr<RequestChannel> channel;
  int32_t prompt_index = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = tracked_.find(output.request_id);
    if (it == tracked_.end()) return;  // only after fail_all: registered at admission, dropped when done
    Tracked& tracked = it->second;
    channel = tracked.channel;
    prompt_index = tracked.prompt_index;
    if (!tracked.seen_output) {
      tracked.seen_output = true;
      metrics_.observe_queue_time(double(loop_->step_start_us() - tracked.arrival_us) / 1e6);
    }
    if (!output.new_token_ids.empty() && output.index >= 0 && size_t(output.index) < tracked.last_token_us.size()) {
      int64_t& last = tracked.last_token_us[size_t(output.index)];
      if (last == 0) {
        metrics_.observe_time_to_first_token(double(t - tracked.arrival_us) / 1e6);
      } else {
        metrics_.observe_inter_token_latency(double(t - last) / 1e6);
      }
      last = t;
      metrics_.add_generation_tokens(static_cast<int64_t>(output.new_token_ids.size()));
    }
    if (output.finished() && output.index >= 0 && size_t(output.index) < tracked.finished.size()) {
      tracked.finished[size_t(output.index)] = true;
    }
    if (output.finished() && --tracked.num_unfinished <= 0) tracked_.erase(it);
  }
  channel->push(prompt_index, output);
}

}  // namespace tessera::serve
