#include "serve/openai_error.h"

#include <cctype>

#include "serve/openai_request.h"
#include "serve/openai_response.h"

namespace tessera::serve {

http::HttpResponse error_response(int http_status, const std::string& message, const std::string& type,
                                  const std::string& param, const std::string& code) {
  http::HttpResponse response;
  response.status = http_status;
  response.body = dump_json(error_json(message, type, param, code));
  // Seconds: a full queue moves at the engine's pace; a client that waits a little gets in.
  if (http_status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

http::HttpResponse status_response(const Status& status) {
  if (status.code() == StatusCode::kInternal || status.code() == StatusCode::kResourceExhausted) {
    const char* what = status.code() == StatusCode::kInternal ? "The server is stopping: " : "The server is overloaded: ";
    return error_response(503, what + status.message(), "server_error");
  }
  std::string message = status.message();
  const std::string param = error_param(status);
  // "'prompt' This model's ..." reads better without the field marker that names the param.
  if (!param.empty() && message.size() > param.size() + 3 && message[param.size() + 2] == ' ' &&
      std::isupper(static_cast<unsigned char>(message[param.size() + 3]))) {
    message = message.substr(param.size() + 3);
  }
  return error_response(400, message, "invalid_request_error", param);
}

http::HttpResponse http_error_response(int http_status, const std::string& message) {
  const char* code = http_status == 413   ? "request_too_large"
                     : http_status == 431 ? "request_header_fields_too_large"
                     : http_status == 408 ? "request_timeout"
                                          : "";
  return error_response(http_status, message, http_status >= 500 ? "server_error" : "invalid_request_error", "", code);
}

}  // namespace tessera::serve
