// A `tessera serve` child process for end-to-end tests: started on a free loopback port (the
// server picks it: --port 0, read back from its log), ready once /health answers, stopped with
// SIGTERM. Plus small HTTP/SSE helpers over cpp-httplib's client.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::serve_test {

using Json = nlohmann::json;

std::string model_path();  // ../shared/models/TinyStories-656K-Q8_0.gguf

class ServerProcess {
 public:
  // Starts `tessera serve -m MODEL --port 0 -t 1 <extra_args>` and waits (up to 30 s) for /health.
  // extra_args starting with {"-m", path} serve that model instead of the default. `launcher`
  // goes first (e.g. {"mpirun", "-np", "2"}): pid() is then the launcher's.
  explicit ServerProcess(std::vector<std::string> extra_args = {}, std::vector<std::string> launcher = {});
  ~ServerProcess();  // SIGTERM and reap, if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ready() const { return port_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& log() const { return log_text_; }
  httplib::Client client() const;
  // Sends SIGTERM and waits up to `timeout_s` for the exit; returns the exit status (-1: none / killed).
  int terminate_and_wait(double timeout_s);
  // Waits up to `timeout_s` for the process to end by itself; its exit code, or -1 (killed by a
  // signal, or still running: then it is left running).
  int wait_for_exit(double timeout_s);

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  std::string log_path_;
  std::string log_text_;
};

// POST a JSON body; returns (status, parsed body or null when not JSON). status -1: no response.
struct JsonResponse {
  int status = -1;
  Json body;
};
JsonResponse post_json(const ServerProcess& server, const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {});

// A streamed response: every `data:` payload in order (the last should be "[DONE]").
struct StreamResult {
  int status = -1;
  std::vector<std::string> events;
  bool complete() const { return !events.empty() && events.back() == "[DONE]"; }
};
// Streams `body`; stop_after_events > 0 makes the client hang up after that many events.
StreamResult post_stream(const ServerProcess& server, const std::string& path, const std::string& body,
                         int stop_after_events = 0);

// Metric value of an exposition line `name{...} value` (first match); -1 when absent.
double metric_value(const std::string& metrics_text, const std::string& name_with_labels_prefix);

}  // namespace tessera::serve_test
