// HttpConnection: one client socket's state machine, run on its own strand by the server's I/O
// threads. Reads one request at a time under deadlines and size limits (Beast's parser, RFC 9112
// framing), hands it to a worker as an HttpExchange, writes the answer, then reads the next
// (pipelined requests wait in the buffer, in order). While a request is answered it watches the
// socket, so a client that hangs up is noticed even when nothing is being written.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "serve/http/http_exchange.h"
#include "serve/http/http_message.h"

namespace tessera::serve::http {

class HttpServer;

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  // `socket` must run on `strand`.
  HttpConnection(boost::asio::ip::tcp::socket socket, Strand strand, HttpServer& server, uint64_t id);
  ~HttpConnection();

  void start();            // any thread
  void close_from_server();  // any thread: the server is stopping

  // Strand only (HttpExchange posts these); calls from an exchange that is no longer the
  // connection's current one are ignored.
  void send_response(const HttpExchange* from, HttpResponse response);
  void send_stream_head(const HttpExchange* from, HttpResponse head);
  void send_chunk(const HttpExchange* from, std::string bytes);
  void send_stream_end(const HttpExchange* from);
  void close_now();        // the client is gone or misbehaves: close without a word
  bool current(const HttpExchange* from) const { return from != nullptr && from == exchange_.get() && phase_ == Phase::kAnswering; }

 private:
  enum class Phase { kReadingHead, kReadingBody, kAnswering, kClosing, kClosed };
  void read_request();
  void on_head(boost::system::error_code ec);
  void read_body();
  void on_body(boost::system::error_code ec);
  void dispatch();
  void watch_client();
  void on_readable(boost::system::error_code ec, uint64_t request_seq);
  // A protocol error or refusal: answer `status` (an error object) and close.
  void refuse(int status, const std::string& message);
  void queue(std::string bytes, size_t payload_bytes);
  void write_next();
  void on_written(boost::system::error_code ec, size_t payload_bytes);
  void finish_response();
  void linger_close();  // half-close, drain what the client still sends for a moment, then close
  void linger_read();
  void disarm_deadline();
  void arm_deadline(std::chrono::milliseconds after);
  void on_deadline(boost::system::error_code ec, uint64_t seq);

  HttpServer& server_;
  const uint64_t id_;
  Strand strand_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer deadline_;
  uint64_t deadline_seq_ = 0;               // a timer callback with an older seq is stale
  std::chrono::steady_clock::time_point request_start_;
  boost::beast::flat_buffer buffer_;        // bytes read and not yet parsed (pipelined requests)
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  HttpRequest request_;                     // the request being read (head, then body)
  Phase phase_ = Phase::kReadingHead;
  uint64_t request_seq_ = 0;                // counts requests, so stale socket watches are ignored
  std::shared_ptr<HttpExchange> exchange_;  // the request being answered
  bool streaming_ = false;                  // exchange_ answers with a stream
  bool response_complete_ = false;          // every byte of the answer is queued
  bool close_after_ = false;                // end the connection once the answer is written
  struct Outgoing {
    std::string bytes;                      // wire bytes
    size_t payload_bytes = 0;               // of them, counted in the exchange's pending bytes
  };
  std::deque<Outgoing> outbox_;             // queued, the front one being written when writing_
  bool writing_ = false;
  std::string discard_;                     // linger_close reads into it
  size_t linger_bytes_ = 0;                 // read and dropped since linger_close
};

}  // namespace tessera::serve::http
