#include "serve/http/http_connection.h"

#include <sys/socket.h>
#include <strings.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <cstdio>
#include <vector>

#include "serve/http/http_server.h"

namespace tessera::serve::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using std::chrono::milliseconds;

constexpr size_t kMaxLingerBytes = 1 << 20;

bool is_disconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::partial_message;
}

}  // namespace

HttpConnection::HttpConnection(asio::ip::tcp::socket socket, Strand strand, HttpServer& server, uint64_t id)
    : server_(server), id_(id), strand_(strand), socket_(std::move(socket)), deadline_(strand) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::start() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    error_code ec;
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ec);  // each SSE event leaves at once
    self->read_request();
  });
}

void HttpConnection::close_from_server() {
  asio::post(strand_, [self = shared_from_this()] { self->close_now(); });
}

void HttpConnection::read_request() {
  phase_ = Phase::kReadingHead;
  request_ = HttpRequest{};
  streaming_ = response_complete_ = close_after_ = false;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_.limits_.max_header_bytes));
  parser_->body_limit(server_.limits_.max_body_bytes);
  request_start_ = std::chrono::steady_clock::now();
  // NOTE: one clock covers an idle keep-alive connection and a slow one (slowloris) alike: the
  // headers must be in header_timeout after the connection became ready for a request.
  arm_deadline(milliseconds(server_.limits_.header_timeout_ms));
  bhttp::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) { self->on_head(ec); });
}

void HttpConnection::on_head(error_code ec) {
  if (phase_ != Phase::kReadingHead) return;  // timed out or closed meanwhile
  if (ec == bhttp::error::header_limit) return refuse(431, "The request headers are larger than " + std::to_string(server_.limits_.max_header_bytes) + " bytes.");
  if (ec == bhttp::error::body_limit) return refuse(413, "The request body is larger than " + std::to_string(server_.limits_.max_body_bytes) + " bytes.");
  if (ec && (is_disconnect(ec) || ec == asio::error::operation_aborted)) return close_now();
  // RFC 9112 6.3: Content-Length with Transfer-Encoding, or Content-Lengths that differ, make the
  // length ambiguous (request smuggling): Beast reports them; answer 400 and close.
  if (ec) return refuse(400, "The request is not valid HTTP/1.1 (" + ec.message() + ").");
  const auto& head = parser_->get();
  request_.method = std::string(head.method_string());
  request_.target = std::string(head.target());
  request_.path = request_.target.substr(0, request_.target.find('?'));
  request_.keep_alive = head.keep_alive();
  request_.http10 = head.version() < 11;
  int32_t num_fields = 0;
  for (const auto& field : head) {
    if (++num_fields > server_.limits_.max_header_count) {
      return refuse(431, "The request has more than " + std::to_string(server_.limits_.max_header_count) + " header fields.");
    }
    request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (head.count(bhttp::field::transfer_encoding) > 0 && (!parser_->chunked() || request_.http10)) {
    return refuse(501, "Only the chunked transfer encoding is supported, and only from HTTP/1.1 clients.");
  }
  if (!request_.http10 && head.count(bhttp::field::host) != 1) return refuse(400, "An HTTP/1.1 request needs exactly one Host header.");
  if (std::optional<HttpResponse> refusal = server_.handlers_.screen(request_)) {
    const bool body_unread = !parser_->is_done();
    refusal->close = refusal->close || body_unread;  // the unread body would be taken for the next request
    phase_ = Phase::kAnswering;
    disarm_deadline();
    response_complete_ = true;
    close_after_ = refusal->close || !request_.keep_alive;
    queue(serialize_head(*refusal, BodyFraming::kLength, !close_after_) + refusal->body, 0);
    return write_next();
  }
  if (parser_->is_done()) return dispatch();
  read_body();
}

void HttpConnection::read_body() {
  phase_ = Phase::kReadingBody;
  const auto left = request_start_ + milliseconds(server_.limits_.request_timeout_ms) - std::chrono::steady_clock::now();
  arm_deadline(std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(left)));
  auto read = [self = shared_from_this()] {
    bhttp::async_read(self->socket_, self->buffer_, *self->parser_, [self](error_code ec, size_t) { self->on_body(ec); });
  };
  const auto expect = request_.header("Expect");
  if (!request_.http10 && expect.size() == 12 && strncasecmp(expect.data(), "100-continue", 12) == 0) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(kContinue), [self = shared_from_this(), read](error_code ec, size_t) {
      if (ec || self->phase_ != Phase::kReadingBody) return self->close_now();
      read();
    });
    return;
  }
  read();
}

void HttpConnection::on_body(error_code ec) {
  if (phase_ != Phase::kReadingBody) return;
  if (ec == bhttp::error::body_limit) return refuse(413, "The request body is larger than " + std::to_string(server_.limits_.max_body_bytes) + " bytes.");
  if (ec && (is_disconnect(ec) || ec == asio::error::operation_aborted)) return close_now();
  if (ec) return refuse(400, "The request body is not valid HTTP/1.1 (" + ec.message() + ").");
  request_.body = std::move(parser_->get().body());
  dispatch();
}

void HttpConnection::dispatch() {
  phase_ = Phase::kAnswering;
  disarm_deadline();
  parser_.reset();
  ++request_seq_;
  exchange_ = std::make_shared<HttpExchange>(weak_from_this(), strand_, std::move(request_));
  exchange_->max_pending_bytes_ = server_.limits_.max_pending_write_bytes;
  ++server_.num_open_exchanges_;
  watch_client();
  asio::post(server_.workers_, [&server = server_, exchange = exchange_] {
    try {
      server.handlers_.handle(exchange);
    } catch (const std::exception& e) {  // a handler bug must cost one request, never the server
      std::fprintf(stderr, "tessera serve: handler of %s %s failed: %s\n", exchange->request().method.c_str(),
                   exchange->request().path.c_str(), e.what());
      exchange->respond(server.handlers_.error(500, "The server had an error while processing the request."));
    }
  });
}

// NOTE: a readable socket while a request is answered means the client hung up (EOF, reset) or
// sent its next request early (pipelining). A peek tells them apart without consuming anything;
// once a next request is seen, writes alone can tell that the client left.
void HttpConnection::watch_client() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this(), seq = request_seq_](error_code ec) { self->on_readable(ec, seq); });
}

void HttpConnection::on_readable(error_code ec, uint64_t seq) {
  if (seq != request_seq_ || phase_ != Phase::kAnswering || ec == asio::error::operation_aborted) return;
  if (!ec) {
    char byte = 0;
    const ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return watch_client();
  }
  close_now();
}

void HttpConnection::refuse(int status, const std::string& message) {
  if (phase_ == Phase::kReadingHead || phase_ == Phase::kReadingBody) {
    error_code ignored;
    socket_.cancel(ignored);  // the pending read ends with operation_aborted and is ignored
  }
  phase_ = Phase::kAnswering;
  disarm_deadline();
  HttpResponse response = server_.handlers_.error(status, message);
  streaming_ = false;
  response_complete_ = close_after_ = true;
  queue(serialize_head(response, BodyFraming::kLength, /*keep_alive=*/false) + response.body, 0);
  write_next();
}

void HttpConnection::send_response(const HttpExchange* from, HttpResponse response) {
  if (!current(from) || streaming_ || response_complete_) return;
  close_after_ = response.close || !exchange_->request().keep_alive || server_.stopping();
  queue(serialize_head(response, BodyFraming::kLength, !close_after_) + response.body, 0);
  response_complete_ = true;
  write_next();
}

void HttpConnection::send_stream_head(const HttpExchange* from, HttpResponse head) {
  if (!current(from) || streaming_ || response_complete_) return;
  streaming_ = true;
  const bool http10 = exchange_->request().http10;
  close_after_ = head.close || http10 || !exchange_->request().keep_alive || server_.stopping();
  queue(serialize_head(head, http10 ? BodyFraming::kUntilClose : BodyFraming::kChunked, !close_after_), 0);
  write_next();
}

void HttpConnection::send_chunk(const HttpExchange* from, std::string bytes) {
  if (!current(from) || !streaming_ || response_complete_) return;
  const size_t payload = bytes.size();
  if (payload == 0) return;  // an empty chunk would end the body
  queue(exchange_->request().http10 ? std::move(bytes) : serialize_chunk(bytes), payload);
  write_next();
}

void HttpConnection::send_stream_end(const HttpExchange* from) {
  if (!current(from) || !streaming_ || response_complete_) return;
  if (!exchange_->request().http10) queue(serialize_chunk(""), 0);
  response_complete_ = true;
  write_next();
}

void HttpConnection::queue(std::string bytes, size_t payload_bytes) { outbox_.push_back({std::move(bytes), payload_bytes}); }

void HttpConnection::write_next() {
  if (phase_ == Phase::kClosed) return;
  if (outbox_.empty()) {
    if (!writing_ && response_complete_) finish_response();
    return;
  }
  if (writing_) return;
  writing_ = true;
  // Everything queued goes out in one gathered write (a stream's events pile up while one is written).
  std::vector<asio::const_buffer> buffers;
  size_t num_entries = 0, payload = 0;
  for (const Outgoing& out : outbox_) {
    if (num_entries == 64) break;
    buffers.emplace_back(asio::buffer(out.bytes));
    payload += out.payload_bytes;
    ++num_entries;
  }
  arm_deadline(milliseconds(server_.limits_.write_timeout_ms));
  asio::async_write(socket_, buffers, [self = shared_from_this(), num_entries, payload](error_code ec, size_t) {
    self->writing_ = false;
    if (self->phase_ == Phase::kClosed) return;
    self->disarm_deadline();
    if (ec) return self->close_now();
    self->outbox_.erase(self->outbox_.begin(), self->outbox_.begin() + static_cast<std::ptrdiff_t>(num_entries));
    if (self->exchange_) self->exchange_->pending_bytes_ -= payload;
    self->write_next();
  });
}

void HttpConnection::finish_response() {
  if (exchange_) {
    exchange_->mark_done();
    --server_.num_open_exchanges_;
    exchange_.reset();
  }
  if (phase_ == Phase::kClosing) return;
  if (close_after_ || server_.stopping()) return linger_close();
  error_code ignored;
  socket_.cancel(ignored);  // ends the watch on the socket
  read_request();           // a pipelined request may already wait in buffer_
}

// NOTE: closing a socket whose receive queue holds unread bytes makes the kernel send RST, which
// can destroy the response before the client reads it; half-closing and reading for a moment
// lets an error response (413, 431, ...) arrive.
void HttpConnection::linger_close() {
  phase_ = Phase::kClosing;
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  arm_deadline(milliseconds(1000));
  discard_.resize(16384);
  linger_bytes_ = 0;
  linger_read();
}

void HttpConnection::linger_read() {
  socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](error_code ec, size_t n) {
    if (self->phase_ != Phase::kClosing) return;
    self->linger_bytes_ += n;
    // A client still pushing a refused body gets 1 MiB of grace, not the body limit again.
    if (ec || self->linger_bytes_ > kMaxLingerBytes) return self->close_now();
    self->linger_read();
  });
}

void HttpConnection::close_now() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  disarm_deadline();
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  outbox_.clear();
  if (exchange_) {
    --server_.num_open_exchanges_;
    std::exchange(exchange_, nullptr)->mark_gone();
  }
  server_.forget(id_);
}

void HttpConnection::arm_deadline(milliseconds after) {
  const uint64_t seq = ++deadline_seq_;
  deadline_.expires_after(after);
  deadline_.async_wait([self = shared_from_this(), seq](error_code ec) { self->on_deadline(ec, seq); });
}

void HttpConnection::disarm_deadline() {
  ++deadline_seq_;
  deadline_.cancel();
}

void HttpConnection::on_deadline(error_code ec, uint64_t seq) {
  if (ec || seq != deadline_seq_ || phase_ == Phase::kClosed) return;
  const bool reading = phase_ == Phase::kReadingHead || phase_ == Phase::kReadingBody;
  // An idle keep-alive connection (nothing of a next request yet) just closes; a request that
  // started but did not finish in time is told why.
  if (reading && (phase_ == Phase::kReadingBody || buffer_.size() > 0 || parser_->got_some())) {
    const bool head = phase_ == Phase::kReadingHead;
    return refuse(408, head ? "The request headers did not arrive within " + std::to_string(server_.limits_.header_timeout_ms) + " ms."
                            : "The request did not arrive within " + std::to_string(server_.limits_.request_timeout_ms) + " ms.");
  }
  close_now();  // idle, a write the client does not take, or the end of a lingering close
}

}  // namespace tessera::serve::http
