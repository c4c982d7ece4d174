// EngineEventHub without sockets (a fake sink): the event text, the interval parameter, the first
// snapshot at once and the rest at the interval, the cap on subscribers, snapshots skipped for a
// subscriber that is behind, and stop() ending every stream.
#include "serve/engine_events.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace tessera::serve {
namespace {

using namespace std::chrono_literals;

class FakeSink final : public EventSink {
 public:
  bool write(std::string bytes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    writes_.push_back(std::move(bytes));
    return true;
  }
  size_t pending_bytes() const override { return pending.load(); }
  void end() override { ended = true; }
  size_t num_writes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return writes_.size();
  }
  std::string write_at(size_t i) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return writes_.at(i);
  }
  std::atomic<size_t> pending{0};
  std::atomic<bool> ended{false};

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> writes_;
};

// Waits up to 5 s for `done`.
template <typename F>
bool eventually(F done) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

EngineEventLimits small_limits() {
  EngineEventLimits limits;
  limits.max_subscribers = 2;
  limits.max_unsent_bytes = 1000;
  return limits;
}

TEST(EngineEventHub, EventText) {
  EXPECT_EQ(format_sse_event("stats", 7, R"({"a":1})"), "id: 7\nevent: stats\ndata: {\"a\":1}\n\n");
}

TEST(EngineEventHub, IntervalParameter) {
  const EngineEventLimits limits;
  EXPECT_EQ(*parse_event_interval("/v1/engine/events", limits), 500);
  EXPECT_EQ(*parse_event_interval("/v1/engine/events?interval_ms=100", limits), 100);
  EXPECT_EQ(*parse_event_interval("/v1/engine/events?a=b&interval_ms=60000&c", limits), 60000);
  EXPECT_EQ(*parse_event_interval("/v1/engine/events?xinterval_ms=5", limits), 500) << "another key";
  for (const char* bad : {"?interval_ms=99", "?interval_ms=60001", "?interval_ms=", "?interval_ms", "?interval_ms=1e3",
                          "?interval_ms=-1", "?interval_ms=+200", "?interval_ms=200ms", "?interval_ms=99999999999999999999"}) {
    const Expected<int32_t> parsed = parse_event_interval(std::string("/v1/engine/events") + bad, limits);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("interval_ms must be an integer from 100 to 60000"), std::string::npos);
  }
}

TEST(EngineEventHub, FirstSnapshotAtOnceThenAtTheInterval) {
  std::atomic<int> snapshots{0};
  auto hub = EngineEventHub::create(small_limits(), [&] { return "{\"n\":" + std::to_string(++snapshots) + "}"; });
  auto slow = std::make_shared<FakeSink>();
  auto start = std::chrono::steady_clock::now();
  ASSERT_NE(hub->subscribe(slow, 2000), 0u);
  ASSERT_TRUE(eventually([&] { return slow->num_writes() >= 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms) << "the first snapshot does not wait its 2 s interval";
  EXPECT_EQ(slow->write_at(0), "id: 1\nevent: stats\ndata: {\"n\":1}\n\n");
  auto sink = std::make_shared<FakeSink>();
  start = std::chrono::steady_clock::now();
  const uint64_t id = hub->subscribe(sink, 100);
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(eventually([&] { return sink->num_writes() >= 4; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms) << "three intervals after the first";
  EXPECT_EQ(sink->write_at(3).rfind("id: 5\n", 0), 0u) << "ids count events of the hub";
  EXPECT_EQ(slow->num_writes(), 1u) << "the 2 s subscriber is not due yet";
  EXPECT_EQ(hub->num_subscribers(), 2);
  hub->unsubscribe(id);
  EXPECT_EQ(hub->num_subscribers(), 1);
}

TEST(EngineEventHub, CapOnSubscribers) {
  auto hub = EngineEventHub::create(small_limits(), [] { return std::string("{}"); });
  const uint64_t a = hub->subscribe(std::make_shared<FakeSink>(), 100);
  const uint64_t b = hub->subscribe(std::make_shared<FakeSink>(), 100);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_EQ(hub->subscribe(std::make_shared<FakeSink>(), 100), 0u) << "a third is refused";
  hub->unsubscribe(a);
  EXPECT_NE(hub->subscribe(std::make_shared<FakeSink>(), 100), 0u) << "a slot freed";
}

TEST(EngineEventHub, ASubscriberThatIsBehindHasSnapshotsSkipped) {
  auto hub = EngineEventHub::create(small_limits(), [] { return std::string("{}"); });
  auto slow = std::make_shared<FakeSink>();
  auto fast = std::make_shared<FakeSink>();
  slow->pending = 1001;  // more unsent bytes than max_unsent_bytes
  ASSERT_NE(hub->subscribe(slow, 100), 0u);
  ASSERT_NE(hub->subscribe(fast, 100), 0u);
  ASSERT_TRUE(eventually([&] { return fast->num_writes() >= 3; }));
  EXPECT_EQ(slow->num_writes(), 0u);
  EXPECT_GE(hub->num_skipped(), 2);
  slow->pending = 0;  // it caught up
  ASSERT_TRUE(eventually([&] { return slow->num_writes() >= 1; }));
}

TEST(EngineEventHub, StopEndsEveryStreamAndRefusesNewOnes) {
  std::atomic<int> snapshots{0};
  auto hub = EngineEventHub::create(small_limits(), [&] {
    ++snapshots;
    return std::string("{}");
  });
  auto a = std::make_shared<FakeSink>();
  auto b = std::make_shared<FakeSink>();
  ASSERT_NE(hub->subscribe(a, 100), 0u);
  ASSERT_NE(hub->subscribe(b, 100), 0u);
  ASSERT_TRUE(eventually([&] { return a->num_writes() >= 1 && b->num_writes() >= 1; }));
  hub->stop();
  EXPECT_TRUE(a->ended);
  EXPECT_TRUE(b->ended);
  EXPECT_EQ(hub->num_subscribers(), 0);
  const size_t writes = a->num_writes();
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(a->num_writes(), writes) << "nothing after stop";
  EXPECT_EQ(hub->subscribe(std::make_shared<FakeSink>(), 100), 0u);
  hub->stop();  // idempotent
}

TEST(EngineEventHub, IdleHubBuildsNoSnapshots) {
  std::atomic<int> snapshots{0};
  auto hub = EngineEventHub::create(small_limits(), [&] {
    ++snapshots;
    return std::string("{}");
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(snapshots, 0);
}

}  // namespace
}  // namespace tessera::serve
