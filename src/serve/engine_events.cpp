#include "serve/engine_events.h"

#include <algorithm>
#include <charconv>

namespace tessera::serve {
namespace {

// An HTTP response stream as an event sink.
class ExchangeSink final : public EventSink {
 public:
  explicit ExchangeSink(std::shared_ptr<http::HttpExchange> exchange) : exchange_(std::move(exchange)) {}
  bool write(std::string bytes) override { return exchange_->write(std::move(bytes)); }
  size_t pending_bytes() const override { return exchange_->pending_bytes(); }
  void end() override { exchange_->end_stream(); }

 private:
  std::shared_ptr<http::HttpExchange> exchange_;
};

// The value of `key` in the query part of `target` ("" when absent).
std::optional<std::string_view> query_value(std::string_view target, std::string_view key) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

Expected<int32_t> parse_event_interval(std::string_view target, const EngineEventLimits& limits) {
  const std::optional<std::string_view> text = query_value(target, "interval_ms");
  if (!text) return limits.default_interval_ms;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < limits.min_interval_ms ||
      value > limits.max_interval_ms) {
    return invalid_argument("interval_ms must be an integer from " + std::to_string(limits.min_interval_ms) + " to " +
                            std::to_string(limits.max_interval_ms) + ", got '" + std::string(text->substr(0, 32)) + "'");
  }
  return static_cast<int32_t>(value);
}

std::string format_sse_event(std::string_view name, int64_t id, std::string_view data) {
  std::string event = "id: " + std::to_string(id) + "\nevent: ";
  event += name;
  event += "\ndata: ";
  event += data;
  event += "\n\n";
  return event;
}

std::shared_ptr<EngineEventHub> EngineEventHub::create(EngineEventLimits limits, std::function<std::string()> snapshot) {
  return std::shared_ptr<EngineEventHub>(new EngineEventHub(limits, std::move(snapshot)));
}

EngineEventHub::EngineEventHub(EngineEventLimits limits, std::function<std::string()> snapshot)
    : limits_(limits), snapshot_(std::move(snapshot)), thread_([this] { run(); }) {}

EngineEventHub::~EngineEventHub() { stop(); }

bool EngineEventHub::subscribe(const std::shared_ptr<http::HttpExchange>& exchange, int32_t interval_ms,
                               http::HttpResponse head) {
  {
    // Checked first so a refused client gets its 503 instead of a stream head (subscribe below
    // checks again: a race lost there ends the stream at once, still well-formed).
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || static_cast<int32_t>(subscribers_.size()) >= limits_.max_subscribers) return false;
  }
  exchange->start_stream(std::move(head));
  // EventSource clients reconnect after `retry` ms.
  exchange->write("retry: 2000\n\n");
  const uint64_t id = subscribe(std::make_shared<ExchangeSink>(exchange), interval_ms);
  if (id == 0) {
    exchange->end_stream();
    return true;
  }
  std::weak_ptr<EngineEventHub> weak = weak_from_this();
  exchange->set_on_close([weak, id] {
    if (auto hub = weak.lock()) hub->unsubscribe(id);
  });
  return true;
}

uint64_t EngineEventHub::subscribe(std::shared_ptr<EventSink> sink, int32_t interval_ms) {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || static_cast<int32_t>(subscribers_.size()) >= limits_.max_subscribers) return 0;
    id = next_id_++;
    // The first snapshot goes out at once.
    subscribers_.push_back({id, std::move(sink), std::chrono::milliseconds(interval_ms), Clock::now()});
  }
  wake_.notify_one();
  return id;
}

void EngineEventHub::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(subscribers_, [id](const Subscriber& s) { return s.id == id; });
}

void EngineEventHub::stop() {
  std::vector<Subscriber> ending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    ending.swap(subscribers_);
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();  // no write after this
  for (const Subscriber& s : ending) s.sink->end();
}

int32_t EngineEventHub::num_subscribers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int32_t>(subscribers_.size());
}

int64_t EngineEventHub::num_skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return num_skipped_;
}

void EngineEventHub::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<EventSink>> due;
  while (!stopping_) {
    if (subscribers_.empty()) {
      wake_.wait(lock, [&] { return stopping_ || !subscribers_.empty(); });
      continue;
    }
    const auto now = Clock::now();
    Clock::time_point earliest = Clock::time_point::max();
    for (const Subscriber& s : subscribers_) earliest = std::min(earliest, s.next_due);
    if (now < earliest) {
      wake_.wait_until(lock, earliest);
      continue;
    }
    due.clear();
    for (Subscriber& s : subscribers_) {
      if (s.next_due > now) continue;
      // A late tick does not make a burst: the next one is an interval from now.
      s.next_due = std::max(s.next_due + s.interval, now + s.interval / 2);
      if (s.sink->pending_bytes() > limits_.max_unsent_bytes) {
        ++num_skipped_;  // still holding older snapshots: this one would only queue up behind them
        continue;
      }
      due.push_back(s.sink);
    }
    if (due.empty()) continue;
    const int64_t event_id = next_event_id_++;
    lock.unlock();
    const std::string event = format_sse_event("stats", event_id, snapshot_());
    // A false write means the client is gone; its on_close unsubscribes it.
    for (const auto& sink : due) sink->write(event);
    due.clear();
    lock.lock();
  }
}

}  // namespace tessera::serve
