// HttpRequest / HttpResponse: the plain messages the HTTP layer hands to handlers and takes back,
// and their wire form. No sockets here and no Beast types, so the OpenAI layer needs neither.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::serve::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;      // "GET", "POST", ...
  std::string target;      // as sent: path and query
  std::string path;        // target up to '?'
  HeaderList headers;      // as received (names as sent)
  std::string body;        // de-chunked; empty until the body is read
  bool keep_alive = true;  // the client allows another request on this connection
  bool http10 = false;     // HTTP/1.0: no chunked encoding, the connection ends a stream

  // The first header of that name (case-insensitive); "" when absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;        // ignored for a stream's head
  HeaderList headers;      // extra headers (Retry-After, CORS, Cache-Control, ...)
  bool close = false;      // send Connection: close and end the connection after it
};

// How the body's end is told: Content-Length, chunked, or (HTTP/1.0 streams) closing the connection.
enum class BodyFraming { kLength, kChunked, kUntilClose };
// The status line and headers of `response`; `keep_alive` false sends Connection: close.
std::string serialize_head(const HttpResponse& response, BodyFraming framing, bool keep_alive);
// One chunk of a chunked body ("" is the last chunk).
std::string serialize_chunk(std::string_view bytes);
// The reason phrase of a status code ("Not Found").
const char* reason_phrase(int status);

}  // namespace tessera::serve::http
