// HttpExchange: one request and its answer, as a handler sees it. Every method is thread-safe
// and non-blocking: it hands the bytes to the connection's strand (the I/O thread that owns the
// socket) and returns. Once the client is gone they do nothing; set_on_close() learns of it.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <string>

#include "serve/http/http_message.h"

namespace tessera::serve::http {

class HttpConnection;
using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  HttpExchange(std::weak_ptr<HttpConnection> connection, Strand strand, HttpRequest request);

  const HttpRequest& request() const { return request_; }

  // The whole response. Exactly one of respond() or start_stream() per exchange.
  void respond(HttpResponse response);
  // A response whose body follows in pieces (chunked; raw until close for HTTP/1.0 clients).
  void start_stream(HttpResponse head);
  // One piece of the body. False when the client is gone, or holds more unsent bytes than the
  // server's max_pending_write_bytes (a client too slow to read: it is disconnected).
  bool write(std::string bytes);
  void end_stream();

  // Runs `fn` on the connection's strand: serialized with set_on_close's callback.
  void post(std::function<void()> fn);
  // `fn` runs once on the strand if the client leaves (or the server closes the connection)
  // before the response is complete; at once if it already has.
  void set_on_close(std::function<void()> fn);
  bool client_gone() const { return gone_.load(); }
  // Bytes handed to write() that the client has not taken yet.
  size_t pending_bytes() const { return pending_bytes_.load(); }

 private:
  friend class HttpConnection;
  void mark_gone();  // strand: the client left first; runs on_close_
  void mark_done();  // strand: the response is complete; on_close_ never runs

  std::weak_ptr<HttpConnection> connection_;
  Strand strand_;
  const HttpRequest request_;
  std::atomic<bool> gone_{false};
  std::atomic<size_t> pending_bytes_{0};  // handed over, not yet written to the socket
  size_t max_pending_bytes_ = 0;          // set by the connection
  std::function<void()> on_close_;        // strand only
  bool close_reported_ = false;           // strand only
};

}  // namespace tessera::serve::http
