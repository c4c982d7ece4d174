// EngineEventHub: GET /v1/engine/events, the engine's state pushed as Server-Sent Events. One
// thread wakes when a subscriber is due, builds the snapshot once (the same JSON as
// /v1/engine/stats) and hands it to every due subscriber's stream. A client costs one open
// exchange and at most `max_unsent_bytes` of queued events: a subscriber that does not take its
// bytes has later snapshots skipped (they describe the same state, newer), and the HTTP layer's
// write deadline disconnects one that takes nothing. At most `max_subscribers` streams are open;
// beyond, 503. The event format is documented in docs/serving.md ("Engine events").
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "serve/http/http_exchange.h"

namespace tessera::serve {

struct EngineEventLimits {
  int32_t max_subscribers = 32;         // open event streams at most (--max-event-streams); beyond: 503
  size_t max_unsent_bytes = 64u << 10;  // a subscriber holding more unsent bytes has snapshots skipped
  int32_t default_interval_ms = 500;    // between snapshots, unless the client asks (?interval_ms=)
  int32_t min_interval_ms = 100;        // the range a client may ask for
  int32_t max_interval_ms = 60000;
};

// ?interval_ms=N of a request target: the default when absent; an error naming the range when
// N is not an integer within [min_interval_ms, max_interval_ms].
Expected<int32_t> parse_event_interval(std::string_view target, const EngineEventLimits& limits);

// One Server-Sent Event: "id: <id>\nevent: <name>\ndata: <data>\n\n" (data holds no newline).
std::string format_sse_event(std::string_view name, int64_t id, std::string_view data);

// Where one subscriber's events go: an HTTP stream in the server (HttpExchange), a fake in tests.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual bool write(std::string bytes) = 0;  // false: the client is gone
  virtual size_t pending_bytes() const = 0;   // written, not yet taken by the client
  virtual void end() = 0;                     // the server ends the stream
};

class EngineEventHub : public std::enable_shared_from_this<EngineEventHub> {
 public:
  // `snapshot` builds the data of one event (a JSON object on one line); it runs on the hub's
  // thread, once per tick however many subscribers are due. (Shared: a stream's close callback
  // holds the hub weakly.)
  static std::shared_ptr<EngineEventHub> create(EngineEventLimits limits, std::function<std::string()> snapshot);
  ~EngineEventHub();  // stop()

  // Starts the stream on `exchange` with `head` (text/event-stream; the caller adds CORS), a
  // `retry:` hint, then a first snapshot at once. False when max_subscribers streams are open
  // or the hub is stopped: nothing was sent, the caller answers 503.
  bool subscribe(const std::shared_ptr<http::HttpExchange>& exchange, int32_t interval_ms, http::HttpResponse head);
  // The same for any sink (the stream's head already sent): its id, or 0 when refused.
  uint64_t subscribe(std::shared_ptr<EventSink> sink, int32_t interval_ms);
  void unsubscribe(uint64_t id);  // the client left
  // Ends every stream and stops the thread; later subscribe() calls return false. Idempotent.
  void stop();

  int32_t num_subscribers() const;
  int64_t num_skipped() const;  // snapshots not sent to a subscriber that was behind
  const EngineEventLimits& limits() const { return limits_; }

 private:
  EngineEventHub(EngineEventLimits limits, std::function<std::string()> snapshot);
  using Clock = std::chrono::steady_clock;
  struct Subscriber {
    uint64_t id = 0;
    std::shared_ptr<EventSink> sink;
    std::chrono::milliseconds interval{0};
    Clock::time_point next_due;
  };
  void run();                      // the hub's thread

  const EngineEventLimits limits_;
  const std::function<std::string()> snapshot_;
  mutable std::mutex mutex_;       // guards everything below
  std::condition_variable wake_;
  std::vector<Subscriber> subscribers_;
  uint64_t next_id_ = 1;
  int64_t next_event_id_ = 1;
  int64_t num_skipped_ = 0;
  bool stopping_ = false;
  std::thread thread_;             // last: started once the members above exist
};

}  // namespace tessera::serve
