// AccessPolicy: who may use the server, decided from a request's headers alone, before any work:
// the API key (compared in constant time), the Host header (refuses DNS-rebinding names unless
// the server listens on every address), and the Origin header (CORS, no origin allowed by
// default). Knows no HTTP library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::serve {

// True when a == b, in time that depends only on the lengths, not on where they first differ.
bool constant_time_equals(std::string_view a, std::string_view b);

class AccessPolicy {
 public:
  // `listen_host` as given to --host; "0.0.0.0" or "::" turns the Host check off. `allowed_origins`:
  // exact origins ("https://app.example.com") or "*" for any.
  AccessPolicy(std::string api_key, std::string listen_host, std::vector<std::string> allowed_origins);

  void set_port(int32_t port) { port_ = port; }  // the bound port, once known

  // `authorization`: the Authorization header ("" when absent). True when no key is configured.
  bool key_ok(std::string_view authorization) const;
  // `host`: the Host header. True for the listening address (any loopback name when it is a
  // loopback address) with the bound port or none.
  bool host_ok(std::string_view host) const;
  // `origin`: the Origin header, "" when absent (not a browser's cross-site request: allowed).
  // `host`: the request's Host header (already checked by host_ok): an origin of http://<host> is
  // the server's own pages (the chat page, the dashboard), same-origin, allowed.
  bool origin_ok(std::string_view origin, std::string_view host = {}) const;
  bool cors_enabled() const { return !allowed_origins_.empty(); }

 private:
  std::string api_key_;
  std::vector<std::string> host_names_;       // accepted Host names; empty = any
  std::vector<std::string> allowed_origins_;
  int32_t port_ = 0;
};

}  // namespace tessera::serve
