// OpenAI error responses as HTTP responses: a status code with the error object, and the mapping
// from the server's Status values (input problems 400; a full queue or a stopping engine 503 with
// Retry-After). Messages never carry internal detail (exception text, file paths).
#pragma once

#include <string>

#include "base/status.h"
#include "serve/http/http_message.h"

namespace tessera::serve {

http::HttpResponse error_response(int http_status, const std::string& message, const std::string& type,
                                  const std::string& param = "", const std::string& code = "");
// A parse or engine Status: kResourceExhausted / kInternal -> 503 + Retry-After, else 400 with
// `param` naming the field.
http::HttpResponse status_response(const Status& status);
// What the HTTP layer answers itself (413, 431, 408, ...): the error object with a fitting code.
http::HttpResponse http_error_response(int http_status, const std::string& message);

}  // namespace tessera::serve
