#include "serve/engine_client.h"

#include "base/timer.h"

namespace tessera::serve {

void RequestChannel::push(const RequestOutput& output) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    outputs_.push_back(output);
  }
  ready_cv_.notify_one();
}

bool RequestChannel::wait(std::vector<RequestOutput>& out, std::chrono::milliseconds timeout) {
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
                                               std::shared_ptr<RequestChannel> channel) {
  const int64_t arrival_us = now_us();
  const auto num_prompt_tokens = static_cast<int64_t>(prompt_token_ids.size());
  // Registered on the loop thread before the first step that could produce its outputs.
  auto on_admitted = [&](EngineRequestId id) {
    Tracked tracked{channel, arrival_us, false, std::vector<int64_t>(size_t(params.n), 0), params.n};
    std::lock_guard<std::mutex> lock(mutex_);
    tracked_.emplace(id, std::move(tracked));
  };
  Expected<EngineRequestId> id = loop_->add_request(std::move(prompt_token_ids), params, on_admitted);
  if (!id.ok()) return id.status();
  metrics_.add_prompt_tokens(num_prompt_tokens);
  return *id;
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

int32_t EngineClient::num_in_flight() {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int32_t>(tracked_.size());
}

void EngineClient::on_output(const RequestOutput& output) {
  const int64_t t = now_us();
  std::shared_ptr<RequestChannel> channel;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = tracked_.find(output.request_id);
    if (it == tracked_.end()) return;  // cannot happen: registered at admission, dropped when done
    Tracked& tracked = it->second;
    channel = tracked.channel;
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
    if (output.finished() && --tracked.num_unfinished <= 0) tracked_.erase(it);
  }
  channel->push(output);
}

}  // namespace tessera::serve
