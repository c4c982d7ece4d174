#include "server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace tessera::serve_test {

std::string model_path() { return std::string(TESSERA_SHARED_DIR) + "/models/TinyStories-656K-Q8_0.gguf"; }

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> extra_args, std::vector<std::string> launcher) {
  static int counter = 0;
  log_path_ = "/tmp/tessera_serve_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".log";
  // Extra arguments that start with "-m MODEL" replace the default model.
  std::string model = model_path();
  if (extra_args.size() >= 2 && extra_args[0] == "-m") {
    model = extra_args[1];
    extra_args.erase(extra_args.begin(), extra_args.begin() + 2);
  }
  std::vector<std::string> args = std::move(launcher);
  args.insert(args.end(), {TESSERA_BINARY, "serve", "-m", model, "--port", "0", "-t", "1"});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  const std::regex listening("on http://[^:]+:([0-9]+)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    log_text_ = read_file(log_path_);
    std::smatch m;
    if (port_ < 0 && std::regex_search(log_text_, m, listening)) port_ = std::stoi(m[1]);
    if (port_ > 0) {
      httplib::Client c("127.0.0.1", port_);
      if (auto r = c.Get("/health"); r && r->status == 200) return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {  // died at start-up
      pid_ = -1;
      port_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  port_ = -1;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) terminate_and_wait(20.0);
  std::remove(log_path_.c_str());
}

httplib::Client ServerProcess::client() const {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(60, 0);
  return c;
}

int ServerProcess::terminate_and_wait(double timeout_s) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const int code = wait_for_exit(timeout_s);
  if (pid_ <= 0) return code;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

int ServerProcess::wait_for_exit(double timeout_s) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      log_text_ = read_file(log_path_);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

JsonResponse post_json(const ServerProcess& server, const std::string& path, const std::string& body,
                       const httplib::Headers& headers) {
  httplib::Client c = server.client();
  JsonResponse out;
  auto r = c.Post(path, headers, body, "application/json");
  if (!r) return out;
  out.status = r->status;
  out.body = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  return out;
}

StreamResult post_stream(const ServerProcess& server, const std::string& path, const std::string& body,
                         int stop_after_events) {
  httplib::Client c = server.client();
  StreamResult out;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    buffer.append(data, length);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) == 0) out.events.push_back(event.substr(6));
      if (stop_after_events > 0 && int(out.events.size()) >= stop_after_events) return false;  // hang up
    }
    return true;
  };
  auto r = c.send(req);
  if (r) out.status = r->status;
  return out;
}

double metric_value(const std::string& text, const std::string& prefix) {
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t line_end = text.find('\n', at);
      const std::string line = text.substr(at, line_end - at);
      return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
    }
    ++at;
  }
  return -1.0;
}

}  // namespace tessera::serve_test
