// HttpServer: an event-driven HTTP/1.1 server on Boost.Asio + Beast (header-only, Debian's
// libboost-dev). A few I/O threads run every connection's state machine (http_connection.h), so
// an idle or slow client costs a socket and a few KB, never a thread; handlers run on a small
// worker pool and answer through an HttpExchange. Knows nothing of OpenAI or the engine.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "serve/http/http_exchange.h"
#include "serve/http/http_message.h"

namespace tessera::serve::http {

class HttpConnection;

// Every limit a client meets before a handler runs (docs/robustness.md lists them with flags).
struct HttpLimits {
  int32_t max_connections = 10240;        // open connections; beyond: 503 + close at accept
  int32_t max_header_bytes = 16 << 10;    // request line + headers; beyond: 431 + close
  int32_t max_header_count = 100;         // header fields; beyond: 431 + close
  size_t max_body_bytes = 8u << 20;       // de-chunked body, any transfer encoding; beyond: 413 + close
  int64_t header_timeout_ms = 10000;      // from waiting for a request (idle keep-alive too) to its last header
  int64_t request_timeout_ms = 30000;     // from waiting for a request to its last body byte; beyond: 408 + close
  int64_t write_timeout_ms = 30000;       // one write to the client; beyond: the client is treated as gone
  size_t max_pending_write_bytes = 4u << 20;  // a response's bytes not yet taken by the client
  int32_t num_io_threads = 1;             // threads running the connections' state machines
  int32_t num_workers = 2;                // threads running handlers (parse, tokenize, build JSON)
};

struct HttpHandlers {
  // I/O thread, once the headers are in and before the body is read: a response refuses the
  // request (its body is never read). Must be quick: headers only.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> screen;
  // A worker thread, with the whole request. Must answer through the exchange, now or later.
  std::function<void(std::shared_ptr<HttpExchange>)> handle;
  // Any thread: the response for an error the HTTP layer answers itself (400, 408, 413, 431,
  // 500, 501, 503). Its message carries no internal detail.
  std::function<HttpResponse(int status, const std::string& message)> error;
};

class HttpServer {
 public:
  HttpServer(HttpLimits limits, HttpHandlers handlers);
  ~HttpServer();  // stop() first

  // Binds and listens (backlog 4096); returns the port (the chosen one when `port` is 0).
  Expected<int32_t> bind(const std::string& host, int32_t port);
  // Runs the I/O threads (this one among them) until stop().
  void run();
  // Thread-safe. Stops accepting; open connections finish what they are doing.
  void stop_accepting();
  // Thread-safe, idempotent. Closes every connection, stops the I/O threads and joins the
  // workers; in-flight exchanges see their client gone.
  void stop();

  // Runs `fn` on the worker pool (CPU work a handler continues with, off the I/O threads).
  void post_work(std::function<void()> fn);

  int32_t num_connections() const { return num_connections_.load(); }
  int32_t num_open_exchanges() const { return num_open_exchanges_.load(); }
  bool stopping() const { return stopping_.load(); }

 private:
  friend class HttpConnection;
  void accept_next();
  void refuse(boost::asio::ip::tcp::socket socket);  // over max_connections: 503 and close
  void forget(uint64_t connection_id);               // a connection closed its socket

  const HttpLimits limits_;
  const HttpHandlers handlers_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;           // after EMFILE: try again later, do not spin
  boost::asio::thread_pool workers_;
  std::vector<std::thread> io_threads_;              // all but the one calling run()
  std::atomic<int32_t> num_connections_{0};
  std::atomic<int32_t> num_open_exchanges_{0};       // requests read and not yet fully answered
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::mutex connections_mutex_;                     // guards the two below
  std::unordered_map<uint64_t, std::weak_ptr<HttpConnection>> connections_;
  uint64_t next_connection_id_ = 0;
};

}  // namespace tessera::serve::http
