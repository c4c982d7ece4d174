#include "serve/access_policy.h"

#include <algorithm>
#include <cctype>

namespace tessera::serve {
namespace {

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool constant_time_equals(std::string_view a, std::string_view b) {
  // NOTE: every byte of `a` is visited whatever the content, so the time tells an attacker the
  // length of what they sent, nothing about the key.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  }
  return diff == 0;
}

AccessPolicy::AccessPolicy(std::string api_key, std::string listen_host, std::vector<std::string> allowed_origins)
    : api_key_(std::move(api_key)), allowed_origins_(std::move(allowed_origins)) {
  if (listen_host == "0.0.0.0" || listen_host == "::" || listen_host == "[::]") return;  // any Host
  if (is_loopback(listen_host)) {
    host_names_ = {"localhost", "127.0.0.1", "[::1]"};
    if (listen_host != "localhost" && listen_host != "127.0.0.1" && listen_host != "::1") host_names_.push_back(listen_host);
  } else {
    host_names_ = {lower(listen_host.find(':') != std::string::npos ? "[" + listen_host + "]" : listen_host)};
  }
}

bool AccessPolicy::key_ok(std::string_view authorization) const {
  if (api_key_.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.substr(0, kBearer.size()) != kBearer) return false;
  return constant_time_equals(authorization.substr(kBearer.size()), api_key_);
}

bool AccessPolicy::host_ok(std::string_view host) const {
  if (host_names_.empty()) return true;
  // Host = name [":" port]; an IPv6 name is bracketed, so the port's colon follows ']'.
  std::string_view name = host;
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos &&
      (host.front() == '[' || host.find(':') == colon)) {
    if (host.substr(colon + 1) != std::to_string(port_)) return false;
    name = host.substr(0, colon);
  }
  return std::find(host_names_.begin(), host_names_.end(), lower(name)) != host_names_.end();
}

bool AccessPolicy::origin_ok(std::string_view origin, std::string_view host) const {
  if (origin.empty()) return true;
  constexpr std::string_view kHttp = "http://";
  if (!host.empty() && origin.size() == kHttp.size() + host.size() && origin.substr(0, kHttp.size()) == kHttp &&
      origin.substr(kHttp.size()) == host) {
    return true;
  }
  for (const std::string& allowed : allowed_origins_) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

}  // namespace tessera::serve
