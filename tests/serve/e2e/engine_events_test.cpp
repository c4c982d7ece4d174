// GET /v1/engine/events against a real server: the event format and the snapshot's schema, the
// interval, the API key, bad parameters, the cap on streams (and a slot freed when a client hangs
// up), a client that never reads (the others unaffected), and SIGTERM with streams open.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <functional>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine_stats_schema.h"
#include "server_process.h"

namespace tessera::serve_test {
namespace {

using Clock = std::chrono::steady_clock;

struct Event {
  std::string id, name, data;
  double at_s = 0.0;  // arrival, seconds after the request
};

struct EventStream {
  int status = -1;
  std::string content_type;
  std::string body;      // the raw bytes (the error object when status != 200)
  std::vector<Event> events;
};

// Parses complete "field: value" blocks out of `buffer` (consumed), appending the events.
void take_events(std::string& buffer, double at_s, std::vector<Event>& events) {
  size_t end;
  while ((end = buffer.find("\n\n")) != std::string::npos) {
    const std::string block = buffer.substr(0, end);
    buffer.erase(0, end + 2);
    Event event;
    event.at_s = at_s;
    size_t start = 0;
    while (start < block.size()) {
      size_t stop = block.find('\n', start);
      if (stop == std::string::npos) stop = block.size();
      const std::string line = block.substr(start, stop - start);
      if (line.rfind("id: ", 0) == 0) event.id = line.substr(4);
      if (line.rfind("event: ", 0) == 0) event.name = line.substr(7);
      if (line.rfind("data: ", 0) == 0) event.data = line.substr(6);
      start = stop + 1;
    }
    if (!event.data.empty()) events.push_back(std::move(event));
  }
}

// Reads `target` until `num_events` events came (then hangs up), the server ends the stream, or
// `stop` turns true at an event.
// Reads up to num_events events; stops early when *stop is set or an event's data satisfies `until`.
EventStream read_events(const ServerProcess& server, const std::string& target, size_t num_events,
                        const httplib::Headers& headers = {}, const std::atomic<bool>* stop = nullptr,
                        const std::function<bool(const Json&)>& until = nullptr) {
  EventStream out;
  httplib::Client client = server.client();
  client.set_read_timeout(20, 0);
  std::string buffer;
  const auto start = Clock::now();
  client.Get(
      target, headers,
      [&](const httplib::Response& response) {
        out.status = response.status;
        out.content_type = response.get_header_value("Content-Type");
        return true;
      },
      [&](const char* data, size_t size) {
        out.body.append(data, size);
        if (out.status != 200) return true;
        buffer.append(data, size);
        take_events(buffer, std::chrono::duration<double>(Clock::now() - start).count(), out.events);
        if (stop != nullptr && *stop) return false;
        if (until && !out.events.empty() && until(Json::parse(out.events.back().data, nullptr, false))) return false;
        return out.events.size() < num_events;
      });
  return out;
}

Json stats_now(const ServerProcess& server, const httplib::Headers& headers = {}) {
  auto response = server.client().Get("/v1/engine/stats", headers);
  if (!response || response->status != 200) return nullptr;
  return Json::parse(response->body, nullptr, false);
}

// Polls /v1/engine/stats until event_streams.open == `open` (true) or 10 s pass (false).
bool wait_for_open_streams(const ServerProcess& server, int open) {
  for (const auto deadline = Clock::now() + std::chrono::seconds(10); Clock::now() < deadline;) {
    const Json stats = stats_now(server);
    if (stats.is_object() && stats["event_streams"]["open"] == open) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(EngineEvents, StatsEventsWithTheSnapshotSchemaAtTheInterval) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.log();
  const EventStream stream = read_events(server, "/v1/engine/events?interval_ms=200", 6);
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_EQ(stream.content_type, "text/event-stream");
  EXPECT_EQ(stream.body.rfind("retry: 2000\n\n", 0), 0u) << stream.body.substr(0, 80);
  ASSERT_EQ(stream.events.size(), 6u);
  int64_t previous_id = 0, previous_time = 0;
  for (const Event& event : stream.events) {
    EXPECT_EQ(event.name, "stats");
    const int64_t id = std::stoll(event.id);
    EXPECT_GT(id, previous_id) << "ids increase";
    previous_id = id;
    const Json stats = Json::parse(event.data, nullptr, false);
    expect_schema(stats);
    EXPECT_GE(stats["time_ms"].get<int64_t>(), previous_time);
    previous_time = stats["time_ms"].get<int64_t>();
    EXPECT_EQ(stats["event_streams"]["open"], 1) << "this stream";
  }
  // The first snapshot comes at once, the next five 200 ms apart (a late tick makes the next one
  // come sooner, never less than half an interval after it; all later on a loaded machine).
  EXPECT_LT(stream.events.front().at_s, 5.0);
  std::vector<double> gaps;
  for (size_t i = 1; i < stream.events.size(); ++i) gaps.push_back(stream.events[i].at_s - stream.events[i - 1].at_s);
  std::sort(gaps.begin(), gaps.end());
  EXPECT_GE(gaps[gaps.size() / 2], 0.1) << "median gap";
  EXPECT_LT(gaps[gaps.size() / 2], 2.0) << "median gap";
}

TEST(EngineEvents, FollowsARequest) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.log();
  std::atomic<bool> stop{false}, done{false};
  EventStream stream;
  // Reads until a snapshot shows the request finished and its blocks freed (however late a
  // loaded host sends it), or the test gives up.
  const auto finished = [](const Json& s) {
    return s.is_object() && s["tokens"]["output"] == 32 && s["kv_blocks"]["in_use"] == 0;
  };
  std::thread reader([&] {
    stream = read_events(server, "/v1/engine/events?interval_ms=100", 1000, {}, &stop, finished);
    done = true;
  });
  ASSERT_TRUE(wait_for_open_streams(server, 1));
  const Json request = {{"prompt", "Once upon a time"}, {"max_tokens", 32}, {"ignore_eos", true}};
  ASSERT_EQ(post_json(server, "/v1/completions", request.dump()).status, 200);
  for (const auto deadline = Clock::now() + std::chrono::seconds(20); Clock::now() < deadline && !done;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  reader.join();
  ASSERT_EQ(stream.status, 200);
  ASSERT_GE(stream.events.size(), 2u);
  EXPECT_EQ(Json::parse(stream.events.front().data)["tokens"]["output"], 0);
  const Json last = Json::parse(stream.events.back().data);
  EXPECT_EQ(last["tokens"]["output"], 32);
  EXPECT_EQ(last["kv_blocks"]["in_use"], 0);
}

TEST(EngineEvents, NeedsTheKeyAndRefusesABadInterval) {
  ServerProcess server({"--api-key", "sekret"});
  ASSERT_TRUE(server.ready()) << server.log();
  EXPECT_EQ(read_events(server, "/v1/engine/events", 1).status, 401);
  const httplib::Headers key = {{"Authorization", "Bearer sekret"}};
  const EventStream ok = read_events(server, "/v1/engine/events", 1, key);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.events.size(), 1u);
  for (const char* bad : {"?interval_ms=5", "?interval_ms=abc", "?interval_ms=", "?interval_ms=100000000000000000000",
                          "?interval_ms=-200", "?interval_ms=300x"}) {
    const EventStream refused = read_events(server, std::string("/v1/engine/events") + bad, 1, key);
    EXPECT_EQ(refused.status, 400) << bad;
    const Json error = Json::parse(refused.body, nullptr, false);
    EXPECT_NE(error["error"]["message"].get<std::string>().find("interval_ms must be an integer from 100 to 60000"),
              std::string::npos) << bad << ": " << refused.body;
    EXPECT_EQ(error["error"]["param"], "interval_ms");
  }
  // Other query parameters are ignored; a good interval among them is used.
  EXPECT_EQ(read_events(server, "/v1/engine/events?x=1&interval_ms=100&y", 2, key).events.size(), 2u);
}

TEST(EngineEvents, CapOnStreamsAndAHangUpFreesItsSlot) {
  ServerProcess server({"--max-event-streams", "2"});
  ASSERT_TRUE(server.ready()) << server.log();
  std::atomic<bool> release_first{false}, release_second{false};
  std::thread first([&] { read_events(server, "/v1/engine/events?interval_ms=100", 100000, {}, &release_first); });
  std::thread second([&] { read_events(server, "/v1/engine/events?interval_ms=100", 100000, {}, &release_second); });
  ASSERT_TRUE(wait_for_open_streams(server, 2));
  const EventStream third = read_events(server, "/v1/engine/events", 1);
  EXPECT_EQ(third.status, 503);
  EXPECT_NE(third.body.find("Too many engine event streams are open (limit 2"), std::string::npos) << third.body;
  release_first = true;  // that client hangs up
  first.join();
  EXPECT_TRUE(wait_for_open_streams(server, 1)) << "the server noticed the hang-up";
  EXPECT_EQ(read_events(server, "/v1/engine/events", 1).status, 200);
  release_second = true;
  second.join();
  EXPECT_TRUE(wait_for_open_streams(server, 0));
}

TEST(EngineEvents, ZeroStreamsTurnsTheEndpointOff) {
  ServerProcess server({"--max-event-streams", "0"});
  ASSERT_TRUE(server.ready()) << server.log();
  EXPECT_EQ(read_events(server, "/v1/engine/events", 1).status, 503);
  EXPECT_TRUE(stats_now(server).is_object()) << "polling still works";
}

// A raw client that sends the request and never reads a byte (with a small receive buffer).
int silent_subscriber(int port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return -1;
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return -1;
  return fd;
}

// (What the server does once its writes to such a client stall, skipping snapshots, is in
// tests/serve/unit/engine_events_test.cpp: on loopback the kernel's socket buffers take megabytes
// first, minutes of snapshots.)
TEST(EngineEvents, AClientThatNeverReadsDoesNotDelayOthers) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.log();
  const int fd = silent_subscriber(server.port(), "/v1/engine/events?interval_ms=100");
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(wait_for_open_streams(server, 1));
  const EventStream normal = read_events(server, "/v1/engine/events?interval_ms=200", 10);
  ASSERT_EQ(normal.events.size(), 10u);
  const double spread = normal.events.back().at_s - normal.events.front().at_s;
  EXPECT_LT(spread, 9 * 0.2 * 3) << "nine gaps of 200 ms, allowing a loaded machine";
  EXPECT_EQ(Json::parse(normal.events.back().data)["event_streams"]["open"], 2);
  EXPECT_TRUE(stats_now(server).is_object());
  close(fd);
  EXPECT_TRUE(wait_for_open_streams(server, 0)) << "its hang-up is noticed";
}

TEST(EngineEvents, SigtermEndsOpenStreams) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.log();
  std::vector<std::thread> readers;
  std::vector<EventStream> streams(3);
  for (size_t i = 0; i < streams.size(); ++i) {
    readers.emplace_back([&, i] { streams[i] = read_events(server, "/v1/engine/events?interval_ms=100", 100000); });
  }
  ASSERT_TRUE(wait_for_open_streams(server, 3));
  const auto start = Clock::now();
  EXPECT_EQ(server.terminate_and_wait(10.0), 0);
  for (std::thread& reader : readers) reader.join();  // each stream ended (its reader returned)
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  for (const EventStream& stream : streams) {
    EXPECT_EQ(stream.status, 200);
    EXPECT_FALSE(stream.events.empty());
  }
}

}  // namespace
}  // namespace tessera::serve_test
