// The HTTP layer's wire form: status lines, framing headers, chunks, and header lookup.
#include "serve/http/http_message.h"

#include <gtest/gtest.h>

namespace tessera::serve::http {
namespace {

TEST(HttpMessage, HeadsStateTheirFramingAndConnection) {
  HttpResponse response;
  response.status = 503;
  response.body = "{}";
  response.headers = {{"Retry-After", "1"}};
  const std::string head = serialize_head(response, BodyFraming::kLength, /*keep_alive=*/false);
  EXPECT_EQ(head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  EXPECT_NE(head.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_NE(head.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_NE(head.find("Connection: close\r\n\r\n"), std::string::npos);
  const std::string stream = serialize_head(HttpResponse{}, BodyFraming::kChunked, true);
  EXPECT_NE(stream.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(stream.find("Content-Length"), std::string::npos);
  EXPECT_NE(stream.find("Connection: keep-alive"), std::string::npos);
  const std::string raw = serialize_head(HttpResponse{}, BodyFraming::kUntilClose, false);
  EXPECT_EQ(raw.find("Content-Length"), std::string::npos);
  EXPECT_EQ(raw.find("Transfer-Encoding"), std::string::npos);
}

TEST(HttpMessage, ChunksCarryTheirHexSizeAndAnEmptyOneEndsTheBody) {
  EXPECT_EQ(serialize_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(serialize_chunk(std::string(26, 'x')), "1a\r\n" + std::string(26, 'x') + "\r\n");
  EXPECT_EQ(serialize_chunk(""), "0\r\n\r\n");
}

TEST(HttpMessage, HeaderLookupIgnoresCaseAndTakesTheFirst) {
  HttpRequest request;
  request.headers = {{"Host", "a"}, {"authorization", "Bearer k"}, {"HOST", "b"}};
  EXPECT_EQ(request.header("host"), "a");
  EXPECT_EQ(request.header("Authorization"), "Bearer k");
  EXPECT_EQ(request.header("Origin"), "");
}

}  // namespace
}  // namespace tessera::serve::http
