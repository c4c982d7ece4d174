#include "serve/http/http_server.h"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdio>

#include "serve/http/http_connection.h"

namespace tessera::serve::http {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

constexpr int kListenBacklog = 4096;

}  // namespace

HttpServer::HttpServer(HttpLimits limits, HttpHandlers handlers)
    : limits_(limits), handlers_(std::move(handlers)), acceptor_(io_), accept_retry_(io_),
      workers_(static_cast<size_t>(std::max(1, limits.num_workers))) {}

HttpServer::~HttpServer() { stop(); }

Expected<int32_t> HttpServer::bind(const std::string& host, int32_t port) {
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return invalid_argument("--host " + host + " is not an IP address");
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(kListenBacklog, ec);
  if (ec) return io_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  return static_cast<int32_t>(acceptor_.local_endpoint().port());
}

void HttpServer::run() {
  if (stopped_) return;
  auto work = asio::make_work_guard(io_);  // run() returns only when stop() stops the context
  accept_next();
  for (int32_t i = 1; i < limits_.num_io_threads; ++i) io_threads_.emplace_back([this] { io_.run(); });
  io_.run();
}

void HttpServer::accept_next() {
  // Each connection gets its own strand: with several I/O threads its handlers still run one at a time.
  Strand strand = asio::make_strand(io_);
  acceptor_.async_accept(strand, [this, strand](error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of file descriptors (EMFILE/ENFILE) or a transient error: a retry loop would spin,
      // so wait a little; the pending connection stays in the backlog meanwhile.
      std::fprintf(stderr, "tessera serve: accept failed (%s); retrying in 100 ms\n", ec.message().c_str());
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](error_code wait_ec) {
        if (!wait_ec && acceptor_.is_open()) accept_next();
      });
      return;
    }
    if (stopping_ || num_connections_.load() >= limits_.max_connections) {
      refuse(std::move(socket));
    } else {
      ++num_connections_;
      std::shared_ptr<HttpConnection> connection;
      {
        std::lock_guard<std::mutex> lock(connections_mutex_);
        const uint64_t id = next_connection_id_++;
        connection = std::make_shared<HttpConnection>(std::move(socket), strand, *this, id);
        connections_.emplace(id, connection);
      }
      connection->start();
    }
    accept_next();
  });
}

// NOTE: the refusal is written without waiting (a fresh socket's send buffer takes it whole), so
// a flood of connections beyond the cap costs no state at all.
void HttpServer::refuse(tcp::socket socket) {
  HttpResponse response = handlers_.error(503, "The server has too many open connections; retry later.");
  response.headers.emplace_back("Retry-After", "1");
  const std::string bytes = serialize_head(response, BodyFraming::kLength, false) + response.body;
  (void)::send(socket.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

void HttpServer::post_work(std::function<void()> fn) { asio::post(workers_, std::move(fn)); }

void HttpServer::forget(uint64_t connection_id) {
  std::lock_guard<std::mutex> lock(connections_mutex_);
  if (connections_.erase(connection_id) > 0) --num_connections_;
}

void HttpServer::stop_accepting() {
  if (stopping_.exchange(true)) return;
  asio::post(io_, [this] {
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  stop_accepting();
  std::vector<std::shared_ptr<HttpConnection>> open;
  {
    std::lock_guard<std::mutex> lock(connections_mutex_);
    for (auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (auto& connection : open) connection->close_from_server();
  open.clear();
  // Let the I/O threads run the closes (each tells its exchange the client is gone), briefly.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (num_connections_.load() > 0 && std::chrono::steady_clock::now() < deadline && !io_.stopped()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io_.stop();
  for (std::thread& t : io_threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  workers_.join();
}

}  // namespace tessera::serve::http
