// Issue 22, connection attacks: idle connections, slowloris headers and bodies, a flood beyond
// the connection cap, and SIGTERM while all of that is going on. A normal request must still be
// answered in < 100 ms, idle and slow clients must cost no thread, and the server must exit
// within 2 s. Every measurement is printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "raw_client.h"
#include "server_process.h"

namespace tessera::serve_test {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

// The slowest of `count` normal completion requests, in ms (1e9 when one fails).
double slowest_normal_request_ms(const ServerProcess& server, int count) {
  double slowest = 0;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    const JsonResponse r = post_json(server, "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 4})");
    const double ms = ms_since(start);
    if (r.status != 200) return 1e9;
    slowest = std::max(slowest, ms);
  }
  return slowest;
}

std::vector<RawConnection> open_connections(int port, int count) {
  std::vector<RawConnection> connections(static_cast<size_t>(count));
  for (RawConnection& c : connections) {
    if (!c.connect(port)) break;
  }
  return connections;
}

int num_open(const std::vector<RawConnection>& connections) {
  return static_cast<int>(std::count_if(connections.begin(), connections.end(), [](const RawConnection& c) { return c.fd() >= 0; }));
}

TEST(AttackConnections, TenThousandIdleConnectionsCostNoThreadAndDelayNothing) {
  const int64_t limit = raise_file_limit(10000 + 256);
  const int wanted = static_cast<int>(std::min<int64_t>(10000, limit - 256));
  ServerProcess server({"--header-timeout", "60"});
  ASSERT_TRUE(server.ready()) << server.log();
  const int threads_before = num_threads(server.pid());
  const int64_t rss_before = rss_kib(server.pid());
  const auto start = Clock::now();
  std::vector<RawConnection> idle = open_connections(server.port(), wanted);
  const double connect_ms = ms_since(start);
  ASSERT_EQ(num_open(idle), wanted);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the server accept them all
  const double slowest = slowest_normal_request_ms(server, 5);
  const int threads_after = num_threads(server.pid());
  const int64_t rss_after = rss_kib(server.pid());
  std::printf("idle: %d connections opened in %.0f ms; slowest of 5 normal requests %.1f ms; server threads %d -> %d; "
              "RSS +%.1f MiB (%.1f KiB per connection)\n",
              wanted, connect_ms, slowest, threads_before, threads_after, double(rss_after - rss_before) / 1024,
              double(rss_after - rss_before) / wanted);
  EXPECT_LT(slowest, 100.0);
  EXPECT_EQ(threads_after, threads_before) << "an idle connection must not cost a thread";
  if (wanted < 10000) std::printf("note: the open-files limit (%lld) allowed only %d connections\n", (long long)limit, wanted);
  const auto stop_start = Clock::now();
  EXPECT_EQ(server.terminate_and_wait(10.0), 0) << server.log();
  const double stop_ms = ms_since(stop_start);
  std::printf("idle: SIGTERM with %d idle connections exited in %.0f ms\n", wanted, stop_ms);
  EXPECT_LT(stop_ms, 2000.0);
}

TEST(AttackConnections, SlowlorisHeadersAndBodiesAreCutAtTheirDeadlines) {
  raise_file_limit(2000);
  ServerProcess server({"--header-timeout", "2", "--body-timeout", "3"});
  ASSERT_TRUE(server.ready()) << server.log();
  const int threads_before = num_threads(server.pid());
  constexpr int kSlowHeaders = 1000, kSlowBodies = 100;
  std::vector<RawConnection> heads = open_connections(server.port(), kSlowHeaders);
  std::vector<RawConnection> bodies = open_connections(server.port(), kSlowBodies);
  ASSERT_EQ(num_open(heads) + num_open(bodies), kSlowHeaders + kSlowBodies);
  const auto start = Clock::now();
  for (RawConnection& c : heads) c.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (RawConnection& c : bodies) {
    c.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{");
  }
  // One byte per connection every 400 ms, the slowloris way, while normal requests come in.
  double slowest = 0;
  for (int round = 0; round < 4; ++round) {
    for (RawConnection& c : heads) c.send("X");
    for (RawConnection& c : bodies) c.send(" ");
    slowest = std::max(slowest, slowest_normal_request_ms(server, 3));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  const int threads_during = num_threads(server.pid());
  int heads_closed = 0, bodies_closed = 0, num_408 = 0;
  for (RawConnection& c : heads) {
    const std::string reply = c.receive(4000, /*stop_after_response=*/false);
    heads_closed += c.closed_by_server_within(100) || !reply.empty();
    num_408 += status_of(reply) == 408;
  }
  for (RawConnection& c : bodies) {
    const std::string reply = c.receive(4000, false);
    bodies_closed += c.closed_by_server_within(100) || !reply.empty();
    num_408 += status_of(reply) == 408;
  }
  const double cut_ms = ms_since(start);
  std::printf("slowloris: %d slow-header + %d slow-body connections; slowest normal request %.1f ms; server threads "
              "%d -> %d; all cut after %.0f ms (%d header, %d body, %d answered 408)\n",
              kSlowHeaders, kSlowBodies, slowest, threads_before, threads_during, cut_ms, heads_closed, bodies_closed, num_408);
  EXPECT_LT(slowest, 100.0);
  EXPECT_EQ(threads_during, threads_before);
  EXPECT_EQ(heads_closed, kSlowHeaders);
  EXPECT_EQ(bodies_closed, kSlowBodies);
  EXPECT_EQ(num_408, kSlowHeaders + kSlowBodies);
}

TEST(AttackConnections, ConnectionsBeyondTheCapAreRefusedWith503) {
  ServerProcess server({"--max-connections", "50"});
  ASSERT_TRUE(server.ready()) << server.log();
  std::vector<RawConnection> held = open_connections(server.port(), 50);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawConnection extra;
  ASSERT_TRUE(extra.connect(server.port()));
  const auto start = Clock::now();
  const std::string reply = extra.receive(2000);
  std::printf("cap: connection 51 of --max-connections 50 refused in %.1f ms: %s\n", ms_since(start),
              reply.substr(0, reply.find("\r\n")).c_str());
  EXPECT_EQ(status_of(reply), 503);
  EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos) << reply;
  held.resize(10);  // closing 40 of them frees room
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LT(slowest_normal_request_ms(server, 1), 100.0);
}

TEST(AttackConnections, SigtermExitsWithinTwoSecondsUnderEveryAttackAtOnce) {
  raise_file_limit(4000);
  ServerProcess server({"--max-num-seqs", "2"});
  ASSERT_TRUE(server.ready()) << server.log();
  std::vector<RawConnection> idle = open_connections(server.port(), 1000);
  std::vector<RawConnection> slow = open_connections(server.port(), 1000);
  for (RawConnection& c : slow) c.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le");
  // Streams whose clients never read, and non-streaming requests still generating.
  const std::string stream = R"({"prompt": "Once", "max_tokens": 400, "ignore_eos": true, "stream": true, "n": 8})";
  const std::string plain = R"({"prompt": "Once", "max_tokens": 400, "ignore_eos": true})";
  std::vector<RawConnection> busy = open_connections(server.port(), 8);
  for (size_t i = 0; i < busy.size(); ++i) {
    const std::string& body = i % 2 ? plain : stream;
    busy[i].send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = Clock::now();
  const int status = server.terminate_and_wait(10.0);
  const double stop_ms = ms_since(start);
  std::printf("sigterm: 1000 idle + 1000 slowloris + 8 busy (4 unread streams) connections: exit %d after %.0f ms\n", status,
              stop_ms);
  EXPECT_EQ(status, 0) << server.log();
  EXPECT_LT(stop_ms, 2000.0);
}

}  // namespace
}  // namespace tessera::serve_test
