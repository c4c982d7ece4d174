#include "serve/http/http_exchange.h"

#include <boost/asio/post.hpp>

#include "serve/http/http_connection.h"

namespace tessera::serve::http {

HttpExchange::HttpExchange(std::weak_ptr<HttpConnection> connection, Strand strand, HttpRequest request)
    : connection_(std::move(connection)), strand_(std::move(strand)), request_(std::move(request)) {}

void HttpExchange::respond(HttpResponse response) {
  auto connection = connection_.lock();
  if (connection == nullptr || gone_) return;
  boost::asio::post(strand_, [connection, self = shared_from_this(), response = std::move(response)]() mutable {
    connection->send_response(self.get(), std::move(response));
  });
}

void HttpExchange::start_stream(HttpResponse head) {
  auto connection = connection_.lock();
  if (connection == nullptr || gone_) return;
  boost::asio::post(strand_, [connection, self = shared_from_this(), head = std::move(head)]() mutable {
    connection->send_stream_head(self.get(), std::move(head));
  });
}

bool HttpExchange::write(std::string bytes) {
  if (gone_) return false;
  auto connection = connection_.lock();
  if (connection == nullptr) return false;
  // NOTE: a client that stops reading would otherwise make the server hold every token it is
  // sent; past the limit it is treated as gone (its request aborted, the connection closed).
  const size_t pending = pending_bytes_.fetch_add(bytes.size()) + bytes.size();
  const bool too_slow = pending > max_pending_bytes_;
  boost::asio::post(strand_, [connection, self = shared_from_this(), too_slow, bytes = std::move(bytes)]() mutable {
    if (!connection->current(self.get())) return;
    if (too_slow) return connection->close_now();
    connection->send_chunk(self.get(), std::move(bytes));
  });
  return !too_slow;
}

void HttpExchange::end_stream() {
  auto connection = connection_.lock();
  if (connection == nullptr || gone_) return;
  boost::asio::post(strand_, [connection, self = shared_from_this()] { connection->send_stream_end(self.get()); });
}

void HttpExchange::post(std::function<void()> fn) { boost::asio::post(strand_, std::move(fn)); }

void HttpExchange::set_on_close(std::function<void()> fn) {
  boost::asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    if (self->gone_) return fn();
    if (!self->close_reported_) self->on_close_ = std::move(fn);
  });
}

void HttpExchange::mark_gone() {
  gone_ = true;
  if (close_reported_) return;
  close_reported_ = true;
  if (on_close_) std::exchange(on_close_, nullptr)();
}

void HttpExchange::mark_done() {
  close_reported_ = true;
  on_close_ = nullptr;
}

}  // namespace tessera::serve::http
