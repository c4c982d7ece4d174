// Issue 22, request attacks: bodies and headers too big for any transfer encoding, ambiguous
// framing (RFC 9112), pipelining, Range, requests whose memory would explode (a 1 MB stop string
// times n x prompts, logprobs x tokens), requests that can never fit, overload, unsupported
// fields, Host/Origin checks, and a non-streaming request whose client leaves.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "raw_client.h"
#include "server_process.h"

namespace tessera::serve_test {
namespace {

std::string post_request(const std::string& path, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sends `request` on a fresh connection and returns the reply (one response).
std::string exchange_once(const ServerProcess& server, const std::string& request, int timeout_ms = 10000) {
  RawConnection c;
  if (!c.connect(server.port())) return "";
  c.send(request);
  return c.receive(timeout_ms);
}

class AttackRequests : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--max-queue-len", "300", "--max-completions", "512"}); }
  static void TearDownTestSuite() { delete server_; }
  static ServerProcess* server_;
};
ServerProcess* AttackRequests::server_ = nullptr;

TEST_F(AttackRequests, ChunkedBodiesMeetTheBodyLimitToo) {
  RawConnection c;
  ASSERT_TRUE(c.connect(server_->port()));
  c.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'a') + "\r\n";  // 1 MiB chunks, 200 MiB in all
  size_t sent = 0;
  for (int i = 0; i < 200 && c.send(chunk); ++i) sent += chunk.size();
  const std::string reply = c.receive(5000);
  std::printf("chunked: the server refused after the client could send %.1f MiB of a 200 MiB body: %s\n",
              double(sent) / (1 << 20), reply.substr(0, reply.find("\r\n")).c_str());
  EXPECT_EQ(status_of(reply), 413);
  EXPECT_LT(sent, size_t(40) << 20) << "the rest was refused by a closed connection";
}

TEST_F(AttackRequests, HeaderFloodsAreRefusedWith431) {
  RawConnection c;
  ASSERT_TRUE(c.connect(server_->port()));
  c.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  size_t sent = 0;
  const std::string lines = [] {
    std::string s;
    for (int i = 0; i < 10000; ++i) s += "X-Flood: y\r\n";
    return s;
  }();
  for (int i = 0; i < 100 && c.send(lines); ++i) sent += lines.size();  // up to 1M header lines
  const std::string reply = c.receive(5000);
  std::printf("headers: 1M header lines refused after %.2f MiB were sent: %s\n", double(sent) / (1 << 20),
              reply.substr(0, reply.find("\r\n")).c_str());
  EXPECT_EQ(status_of(reply), 431);
  std::string many = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  EXPECT_EQ(status_of(exchange_once(*server_, many + "\r\n")), 431) << "101 small header fields";
}

TEST_F(AttackRequests, AmbiguousFramingIsRejectedAndTheConnectionClosed) {
  const std::string body = R"({"prompt": "Once", "max_tokens": 2})";
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"Content-Length + Transfer-Encoding",
       "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding + Content-Length",
       "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
      {"two different Content-Lengths", "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                                            std::to_string(body.size()) + "\r\nContent-Length: 3\r\n\r\n" + body},
      {"Transfer-Encoding gzip", "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"no Host", "GET /health HTTP/1.1\r\n\r\n"},
  };
  for (const auto& [name, request] : cases) {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->port()));
    c.send(request + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");  // must not be served: the stream is suspect
    const std::string reply = c.receive(3000, /*stop_after_response=*/false);
    std::printf("framing: %s -> %s, %d response(s), closed\n", name, reply.substr(0, reply.find("\r\n")).c_str(),
                count_responses(reply));
    EXPECT_TRUE(status_of(reply) == 400 || status_of(reply) == 501) << name << ": " << reply;
    EXPECT_EQ(count_responses(reply), 1) << name;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << name;
  }
}

TEST_F(AttackRequests, PipelinedRequestsAreAllAnsweredInOrder) {
  RawConnection c;
  ASSERT_TRUE(c.connect(server_->port()));
  const std::string tokenize = post_request("/tokenize", R"({"prompt": "Once upon a time"})");
  c.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + tokenize + "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
         "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const std::string reply = c.receive(5000, /*stop_after_response=*/false);
  const size_t first = reply.find("HTTP/1.1 200"), tokens = reply.find("\"tokens\""), models = reply.find("\"object\":\"list\""),
               last = reply.find("HTTP/1.1 404");
  std::printf("pipelining: 4 requests in one write -> %d responses\n", count_responses(reply));
  EXPECT_EQ(count_responses(reply), 4) << reply;
  EXPECT_TRUE(first < tokens && tokens < models && models < last && last != std::string::npos) << "in order: " << reply;
}

TEST_F(AttackRequests, RangeIsIgnoredOnApiRoutesAndMetrics) {
  const std::string reply = exchange_once(*server_, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-10,0-10,0-10\r\n\r\n");
  std::printf("range: /metrics with a Range header -> %s, %zu bytes\n", reply.substr(0, reply.find("\r\n")).c_str(), reply.size());
  EXPECT_EQ(status_of(reply), 200);
  EXPECT_EQ(reply.find("Content-Range"), std::string::npos);
  EXPECT_NE(reply.find("tessera:num_requests_running"), std::string::npos);
  EXPECT_EQ(status_of(exchange_once(*server_, post_request("/tokenize", R"({"prompt": "x"})", "Range: bytes=0-1\r\n"))), 200);
}

TEST_F(AttackRequests, HugeStopStringsAndBigNCostNoMemoryAndGet400) {
  const pid_t pid = server_->pid();
  const int64_t idle_kib = rss_kib(pid);
  const std::string stop_1mb(1 << 20, 's');
  const std::string four_mb = R"({"prompt": ["a", "b", "c", "d"], "n": 128, "max_tokens": 16, "stop": [")" + stop_1mb +
                              R"("], "stop_token_ids": [)" + [] {
                                std::string ids = "1";
                                for (int i = 0; i < 400000; ++i) ids += ",2";
                                return ids;
                              }() + "]}";
  const std::string seven_mb = R"({"prompt": "a", "n": 128, "stop": [")" + std::string(7 << 20, 's') + R"("]})";
  const std::string logprobs = R"({"prompt":["a","b","c","d"],"n":128,"max_tokens":500,"logprobs":20,"ignore_eos":true})";
  const std::string logprobs_fits_n = R"({"prompt":["a","b"],"n":128,"max_tokens":500,"logprobs":20,"ignore_eos":true})";
  // The largest request the limits let through: 2 x 128 completions, 16 stop strings of 1 KiB, 1024 stop ids.
  std::string stops = "[";
  for (int i = 0; i < 16; ++i) stops += std::string(i ? "," : "") + "\"" + std::string(1024, char('A' + i)) + "\"";
  std::string ids = "[7";
  for (int i = 0; i < 1023; ++i) ids += ",7";
  const std::string biggest_ok = R"({"prompt":["a","b"],"n":128,"max_tokens":16,"stop":)" + stops + R"(],"stop_token_ids":)" + ids + "]}";
  for (const auto& [name, body, expected] : std::vector<std::tuple<const char*, std::string, int>>{
           {"4 MB: 4 prompts x n=128, 1 MB stop string", four_mb, 400},
           {"7 MB stop string, n=128", seven_mb, 400},
           {"118 bytes: 4 prompts x n=128, 500 tokens, logprobs 20", logprobs, 400},
           {"2 prompts x n=128, 500 tokens, logprobs 20", logprobs_fits_n, 400},
           {"2 prompts x n=128, 16 x 1 KiB stop strings, 1024 stop ids", biggest_ok, 200}}) {
    const std::string reply = exchange_once(*server_, post_request("/v1/completions", body), 60000);
    const size_t message = reply.find("\"message\"");
    std::printf("memory: %s (%zu bytes) -> %d %s\n", name, body.size(), status_of(reply),
                message == std::string::npos ? "" : reply.substr(message, 110).c_str());
    EXPECT_EQ(status_of(reply), expected) << name;
  }
  const double peak_mib = double(peak_rss_kib(pid) - idle_kib) / 1024;
  std::printf("memory: peak RSS over idle across these requests: %.1f MiB (idle %.1f MiB)\n", peak_mib, double(idle_kib) / 1024);
#if defined(__SANITIZE_ADDRESS__)
  std::printf("memory: not checked under AddressSanitizer (its shadow memory and quarantine inflate RSS)\n");
#else
  EXPECT_LT(peak_mib, 100.0);
#endif
}

TEST_F(AttackRequests, UnsupportedFieldsAndRequestsThatCanNeverFitGet400) {
  for (const char* field : {"functions", "tools", "tool_choice", "suffix", "best_of"}) {
    const std::string value = std::string(field) == "best_of" ? "3" : std::string(field) == "suffix" ? "\"x\"" :
                              std::string(field) == "tool_choice" ? "\"auto\"" : std::string(field) == "functions" ?
                              R"([{"name": "f"}])" : R"([{"type": "function", "function": {"name": "f"}}])";
    const JsonResponse r = post_json(*server_, "/v1/completions", R"({"prompt": "a", ")" + std::string(field) + "\": " + value + "}");
    EXPECT_EQ(r.status, 400) << field;
    EXPECT_EQ(r.body["error"]["param"], field);
  }
  const JsonResponse never = post_json(*server_, "/v1/completions", R"({"prompt": ["a", "b", "c"], "n": 128})");
  std::printf("never fits: 3 prompts x n=128 against a queue of 300 -> %d %s\n", never.status, never.body.dump().c_str());
  EXPECT_EQ(never.status, 400);
  EXPECT_EQ(never.body["error"]["param"], "n");
}

TEST_F(AttackRequests, ErrorsCarryNoInternalDetail) {
  for (const std::string& request : {post_request("/v1/completions", "{not json"), post_request("/v1/completions", "[]"),
                                     std::string("GET /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                                     std::string("BREW /pot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")}) {
    const std::string reply = exchange_once(*server_, request);
    EXPECT_GE(status_of(reply), 400) << reply;
    EXPECT_EQ(reply.find("EXCEPTION"), std::string::npos) << reply;
    EXPECT_NE(reply.find("\"error\""), std::string::npos) << reply;
  }
}

TEST(AttackAccess, ForeignHostsAndOriginsAreRefusedAllowedOriginsGetCors) {
  ServerProcess server({"--allowed-origins", "https://app.example.com"});
  ASSERT_TRUE(server.ready()) << server.log();
  const std::string health = "GET /health HTTP/1.1\r\nHost: ";
  EXPECT_EQ(status_of(exchange_once(server, health + "evil.example.com:" + std::to_string(server.port()) + "\r\n\r\n")), 403)
      << "DNS rebinding";
  EXPECT_EQ(status_of(exchange_once(server, health + "localhost:" + std::to_string(server.port()) + "\r\n\r\n")), 200);
  EXPECT_EQ(status_of(exchange_once(server, health + "127.0.0.1\r\nOrigin: https://evil.example.com\r\n\r\n")), 403);
  const std::string allowed = exchange_once(server, health + "127.0.0.1\r\nOrigin: https://app.example.com\r\n\r\n");
  EXPECT_EQ(status_of(allowed), 200);
  EXPECT_NE(allowed.find("Access-Control-Allow-Origin: https://app.example.com"), std::string::npos) << allowed;
  const std::string preflight = exchange_once(server, "OPTIONS /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                      "Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n\r\n");
  EXPECT_EQ(status_of(preflight), 204) << preflight;
  std::printf("access: evil Host 403, evil Origin 403, allowed Origin 200 with CORS, preflight %d\n", status_of(preflight));
}

TEST(AttackOverload, OverloadGets503WithRetryAfter) {
  ServerProcess server({"--max-num-seqs", "1", "--max-queue-len", "2"});
  ASSERT_TRUE(server.ready()) << server.log();
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 400, "ignore_eos": true})";
  std::vector<RawConnection> clients(8);
  for (RawConnection& c : clients) {
    ASSERT_TRUE(c.connect(server.port()));
    c.send(post_request("/v1/completions", body));
  }
  int num_503 = 0, num_200 = 0, with_retry_after = 0;
  for (RawConnection& c : clients) {
    const std::string reply = c.receive(20000);
    num_200 += status_of(reply) == 200;
    if (status_of(reply) == 503) {
      ++num_503;
      with_retry_after += reply.find("Retry-After: 1") != std::string::npos;
    }
  }
  std::printf("overload: 8 requests against 1 running + 2 waiting slots: %d x 200, %d x 503 (%d with Retry-After)\n",
              num_200, num_503, with_retry_after);
  EXPECT_EQ(num_200 + num_503, 8);
  EXPECT_GE(num_503, 1);
  EXPECT_EQ(with_retry_after, num_503);
}

// A non-streaming request learns that its client left from the socket (EOF), not from a write.
TEST(AttackOverload, NonStreamingRequestsOfGoneClientsAreAborted) {
  ServerProcess server({"--max-num-seqs", "1"});
  ASSERT_TRUE(server.ready()) << server.log();
  constexpr int kClients = 4, kAsked = kClients * 8 * 480;
  const std::string body = R"({"prompt": "Once upon a time", "n": 8, "max_tokens": 480, "ignore_eos": true})";
  std::vector<RawConnection> clients(kClients);
  for (RawConnection& c : clients) {
    ASSERT_TRUE(c.connect(server.port()));
    c.send(post_request("/v1/completions", body));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto start = std::chrono::steady_clock::now();
  clients.clear();  // every client hangs up without reading
  httplib::Client metrics = server.client();
  std::string text;
  for (int i = 0; i < 500; ++i) {
    text = metrics.Get("/metrics")->body;
    if (metric_value(text, "tessera:num_requests_running{") == 0 && metric_value(text, "tessera:num_requests_waiting{") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double generated = metric_value(text, "tessera:generation_tokens_total{");
  std::printf("gone clients: %d non-streaming requests (n=8, 480 tokens) hung up on: engine idle after %.0f ms with %.0f "
              "of %d tokens generated\n",
              kClients, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(), generated,
              kAsked);
  EXPECT_EQ(metric_value(text, "tessera:num_requests_running{"), 0);
  EXPECT_EQ(metric_value(text, "tessera:kv_cache_blocks_in_use{"), 0);
  EXPECT_LT(generated, kAsked / 2.0);
}

}  // namespace
}  // namespace tessera::serve_test
