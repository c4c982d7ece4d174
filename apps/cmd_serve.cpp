// `tessera serve`: the OpenAI-compatible HTTP server. Flag parsing, signal handling and wiring only;
// the server itself is src/serve/openai_server.h.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <csignal>
#include <cstdio>
#include <semaphore.h>
#include <thread>

#include "commands.h"
#include "dist/communicator.h"
#include "serve/openai_server.h"

namespace tessera::app {
namespace {

struct ServeFlags {
  serve::ServeConfig config;
  int64_t kv_cache_memory = 0;
  int32_t num_threads = 0;  // 0: all cores
  double request_timeout_s = 0.0;
  double header_timeout_s = 10.0;
  double body_timeout_s = 30.0;
  double write_timeout_s = 30.0;
  double shutdown_timeout_s = 1.0;
};

// Seconds from a flag to milliseconds, at least 1 ms; false for NaN, negatives and absurd values.
bool to_ms(double seconds, int64_t* ms) {
  if (!(seconds > 0.0 && seconds <= 86400.0 * 365)) return false;
  *ms = std::max<int64_t>(1, static_cast<int64_t>(seconds * 1000.0));
  return true;
}

// Raises the soft open-files limit to the hard one: every connection is a descriptor, and
// --max-connections is then capped by what the process may open (with room for the model etc.).
void fit_connections_to_file_limit(serve::ServeConfig& c) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    (void)getrlimit(RLIMIT_NOFILE, &limit);
  }
  constexpr rlim_t kReserved = 64;
  if (limit.rlim_cur != RLIM_INFINITY && rlim_t(c.http.max_connections) + kReserved > limit.rlim_cur) {
    const auto fitted = static_cast<int32_t>(limit.rlim_cur > kReserved * 2 ? limit.rlim_cur - kReserved : kReserved);
    std::fprintf(stderr, "tessera serve: --max-connections %d lowered to %d (open-files limit %llu)\n",
                 c.http.max_connections, fitted, static_cast<unsigned long long>(limit.rlim_cur));
    c.http.max_connections = fitted;
  }
}

// Why the server stops, handed to the thread that stops it. Filled by a signal handler (any
// thread may take SIGINT/SIGTERM: MPI starts threads of its own before we could block them, and
// a process-directed signal to one of those would otherwise kill us), by an engine failure or
// by the normal end of run(). sem_post is async-signal-safe.
class StopRequest {
 public:
  static constexpr int kEnd = 0;       // run() returned: nothing to do
  static constexpr int kFailure = -1;  // the parallel job failed (ParallelFailure)
  StopRequest() { sem_init(&sem_, 0, 0); }
  ~StopRequest() { sem_destroy(&sem_); }
  void request(int reason) {
    int expected = kNone;
    reason_.compare_exchange_strong(expected, reason);  // the first reason wins
    sem_post(&sem_);
  }
  int wait() {
    while (sem_wait(&sem_) != 0) {
    }
    return reason_.load();
  }

 private:
  static constexpr int kNone = -2;
  sem_t sem_;
  std::atomic<int> reason_{kNone};
};

StopRequest* g_stop_request = nullptr;
extern "C" void on_stop_signal(int signal_number) {
  if (g_stop_request != nullptr) g_stop_request->request(signal_number);
}

// What the server does when its parallel job fails (dist::abort_job, on whichever thread waited
// for the rank that died or hung): answer every in-flight request, stop as on SIGTERM, and return
// once stopped or after `grace`, whichever comes first (then the job ends).
class ParallelFailure {
 public:
  void arm(serve::OpenAiServer* server, StopRequest* stop) {
    std::lock_guard<std::mutex> lock(mutex_);
    server_ = server;
    stop_ = stop;
  }
  void disarm() {  // before the server goes away
    std::lock_guard<std::mutex> lock(mutex_);
    server_ = nullptr;
    stopped_ = true;
    stopped_cv_.notify_all();
  }
  void mark_stopped() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
    stopped_cv_.notify_all();
  }
  void on_abort(const std::string& message, std::chrono::milliseconds grace) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (server_ == nullptr) return;  // not serving (any more): nobody to answer
    server_->fail_in_flight(message);
    stop_->request(StopRequest::kFailure);  // the stopping thread runs stop()
    stopped_cv_.wait_for(lock, grace, [this] { return stopped_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable stopped_cv_;
  serve::OpenAiServer* server_ = nullptr;
  StopRequest* stop_ = nullptr;
  bool stopped_ = false;
};

int run_serve(ServeFlags f) {
  serve::ServeConfig& c = f.config;
  if (c.engine.model_path.empty()) c.engine.model_path = default_model_path();
  if (f.kv_cache_memory < 0) return fail("--kv-cache-memory must be >= 0");
  if (f.num_threads < 0 || f.num_threads > 1024) return fail("-t must be between 0 and 1024");
  if (c.port < 0 || c.port > 65535) return fail("--port must be between 0 and 65535");
  if (c.http.max_body_bytes < 1024) return fail("--max-body-bytes must be >= 1024");
  if (c.http.max_connections < 1 || c.http.max_header_bytes < 1024 || c.http.max_header_count < 8) {
    return fail("--max-connections must be >= 1, --max-header-bytes >= 1024, --max-headers >= 8");
  }
  if (!to_ms(f.header_timeout_s, &c.http.header_timeout_ms) || !to_ms(f.body_timeout_s, &c.http.request_timeout_ms) ||
      !to_ms(f.write_timeout_s, &c.http.write_timeout_ms)) {
    return fail("--header-timeout, --body-timeout and --write-timeout must be > 0 seconds");
  }
  if (c.events.max_subscribers < 0 || c.events.max_subscribers > 4096) return fail("--max-event-streams must be between 0 and 4096");
  int64_t shutdown_ms = 0;
  if (!to_ms(f.shutdown_timeout_s, &shutdown_ms) || shutdown_ms > 600000) return fail("--shutdown-timeout must be in (0, 600] seconds");
  c.shutdown_timeout_ms = static_cast<int32_t>(shutdown_ms);
  fit_connections_to_file_limit(c);
  // Up to ~100 years (the engine saturates longer timeouts anyway); NaN fails the comparison.
  if (!(f.request_timeout_s >= 0.0 && f.request_timeout_s <= 3.2e9)) return fail("--request-timeout must be >= 0 seconds");
  c.request_timeout_ms = static_cast<int64_t>(f.request_timeout_s * 1000.0);
  if (f.request_timeout_s > 0.0 && c.request_timeout_ms == 0) c.request_timeout_ms = 1;
  c.engine.kv_cache_memory_bytes = f.kv_cache_memory;
  const unsigned cores = std::thread::hardware_concurrency();
  c.engine.num_threads = f.num_threads > 0 ? f.num_threads : (cores == 0 ? 1 : static_cast<int32_t>(cores));

  // A closed client socket must not kill the process; SIGINT/SIGTERM become a StopRequest.
  std::signal(SIGPIPE, SIG_IGN);
  static StopRequest stop_request;  // static: a signal may come at any time until the process ends
  g_stop_request = &stop_request;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  auto server = serve::OpenAiServer::create(c);
  if (!server.ok()) return fail(c.engine.model_path + ": " + server.status().message());
  auto port = (*server)->bind();
  if (!port.ok()) return fail(port.status().message());
  std::fprintf(stderr, "tessera serve: model %s on http://%s:%d (Ctrl-C to stop)\n", (*server)->model_name().c_str(),
               c.host.c_str(), *port);
  std::fflush(stderr);
  serve::OpenAiServer& s = **server;
  const bool parallel = c.engine.tensor_parallel_size * c.engine.pipeline_parallel_size > 1;
  auto failure = std::make_shared<ParallelFailure>();
  std::thread stopper([&s, parallel, failure] {
    const int reason = stop_request.wait();
    if (reason == StopRequest::kEnd) return;
    if (reason == StopRequest::kFailure) {
      std::fprintf(stderr, "tessera serve: the parallel job failed, stopping\n");
      s.stop();
      failure->mark_stopped();
      return;
    }
    const int signal_number = reason;
    std::fprintf(stderr, "tessera serve: signal %d, stopping\n", signal_number);
    // NOTE: a parallel job cannot drain: mpirun signals every rank (the workers end at once)
    // when one of them dies or mpirun itself is stopped, and kills them all a second later
    // (Open MPI's odls_base_sigkill_timeout). So in-flight requests are answered now.
    if (parallel) s.fail_in_flight("signal " + std::to_string(signal_number) + ": a process of the job ended, or mpirun was stopped");
    s.stop();
    failure->mark_stopped();
  });
  if (parallel) {
    failure->arm(&s, &stop_request);
    // A rank that dies or hangs ends the job (dist::abort_job, on the thread that waited for it):
    // every in-flight request is answered 503 (or an error event) naming the failure, the server
    // stops as on SIGTERM, then every process exits with the error.
    dist::set_abort_hook([failure, grace = std::chrono::milliseconds(c.shutdown_timeout_ms + 1000)](
                             const std::string& message) { failure->on_abort(message, grace); });
  }
  s.run();
  s.stop();  // run() also returns when listening failed; make the waiter's stop() a no-op
  stop_request.request(StopRequest::kEnd);
  stopper.join();
  failure->disarm();  // the server goes away with this function
  std::fprintf(stderr, "tessera serve: stopped\n");
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  serve::ServeConfig& c = flags->config;
  c.engine.max_model_len = 0;
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (completions, chat, metrics)");
  cmd->add_option("-m,--model", c.engine.model_path, "GGUF model file (default: TinyStories-656K-Q8_0)");
  cmd->add_option("--host", c.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", c.port, "Port (0: any free port)")->capture_default_str();
  cmd->add_option("--api-key", c.api_key, "Require 'Authorization: Bearer KEY' (except /health, /metrics)");
  cmd->add_option("--served-model-name", c.served_model_name, "Model name in the API (default: file name)");
  cmd->add_option("--chat-template", c.chat_template_path, "Jinja chat template file or family name (default: the model's)");
  cmd->add_option("--reasoning-parser", c.reasoning_parser,
                  "Return a reply's leading <think>...</think> as reasoning_content: auto (when the template thinks), "
                  "deepseek_r1, qwen3 (default: off)");
  cmd->add_option("--max-num-seqs", c.engine.max_num_seqs, "Running requests at most")->capture_default_str();
  cmd->add_option("--max-model-len", c.engine.max_model_len, "Prompt + output tokens per request (0: the model's context)")->capture_default_str();
  // NOTE: a step runs every decode plus prompt chunks up to this budget, so the budget bounds how
  // long a burst of prompts stalls the decodes (docs/serving.md, "Latency under load"): 256 is 4x
  // the decodes of a full --max-num-seqs 64. Offline runs (bench-throughput) keep 2048.
  c.engine.max_num_batched_tokens = 256;
  cmd->add_option("--max-num-batched-tokens", c.engine.max_num_batched_tokens,
                  "Tokens per step at most, decodes included (bounds inter-token latency)")->capture_default_str();
  cmd->add_option("--kv-cache-memory", flags->kv_cache_memory, "KV cache bytes (0: 10% of free RAM)")->capture_default_str();
  cmd->add_option("--block-size", c.engine.block_size, "Tokens per KV block")->capture_default_str();
  add_kv_cache_dtype_option(cmd, &c.engine.kv_cache_type, &c.engine.kv_cache_type_k, &c.engine.kv_cache_type_v);
  add_parallel_options(cmd, &c.engine.tensor_parallel_size, &c.engine.pipeline_parallel_size);
  add_speculative_options(cmd, &c.engine.speculative);
  cmd->add_flag("--no-prefix-caching", [&c](int64_t) { c.engine.enable_prefix_caching = false; }, "Turn prefix caching off");
  cmd->add_option("-t,--threads", flags->num_threads, "Threads of the forward pass (0: all cores)")->capture_default_str();
  c.engine.max_waiting_requests = 1024;
  cmd->add_option("--max-queue-len", c.engine.max_waiting_requests, "Answer 503 beyond this many waiting completions (0: no limit)")->capture_default_str();
  cmd->add_option("--allowed-origins", c.allowed_origins, "CORS: origins browsers may call from ('*': any; default none)")
      ->delimiter(',');
  cmd->add_option("--http-threads", c.http.num_io_threads, "I/O threads running every connection")->capture_default_str();
  cmd->add_option("--http-workers", c.http.num_workers, "Threads parsing and tokenizing requests")->capture_default_str();
  cmd->add_option("--max-connections", c.http.max_connections, "Open connections at most (beyond: 503)")->capture_default_str();
  cmd->add_option("--max-header-bytes", c.http.max_header_bytes, "Answer 431 above this header size")->capture_default_str();
  cmd->add_option("--max-headers", c.http.max_header_count, "Answer 431 above this many header fields")->capture_default_str();
  cmd->add_option("--max-body-bytes", c.http.max_body_bytes, "Answer 413 above this body size (any encoding)")->capture_default_str();
  cmd->add_option("--header-timeout", flags->header_timeout_s, "Seconds for a request's headers (idle keep-alive too)")->capture_default_str();
  cmd->add_option("--body-timeout", flags->body_timeout_s, "Seconds for a whole request, headers and body (408)")->capture_default_str();
  cmd->add_option("--write-timeout", flags->write_timeout_s, "Seconds a client may take to accept one write")->capture_default_str();
  cmd->add_option("--shutdown-timeout", flags->shutdown_timeout_s, "Seconds SIGTERM waits for answers to end")->capture_default_str();
  cmd->add_option("--max-event-streams", c.events.max_subscribers,
                  "Open GET /v1/engine/events streams at most (503 beyond; 0: the endpoint is off)")->capture_default_str();
  cmd->add_option("--max-completions", c.limits.max_completions, "Prompts x n per request at most (400)")->capture_default_str();
  cmd->add_option("--max-response-bytes", c.limits.max_response_bytes, "Estimated response size at most (400)")->capture_default_str();
  cmd->add_option("--request-timeout", flags->request_timeout_s,
                  "End a request with finish_reason \"timeout\" this many seconds after it arrived (0: never)")
      ->capture_default_str();
  return {cmd, [flags] { return run_serve(*flags); }};
}

}  // namespace tessera::app
