// OpenAiServer: `tessera serve`'s HTTP front. Routes /v1/completions, /v1/chat/completions,
// /v1/models, /health, /metrics, /tokenize, /detokenize over cpp-httplib; owns the tokenizer,
// chat template, metrics and the EngineClient (engine on its own thread). Request threads only
// parse, tokenize, queue and write; the engine loop alone touches scheduler and KV state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "chat/chat_template.h"
#include "serve/access_policy.h"
#include "serve/engine_client.h"
#include "serve/openai_request.h"
#include "serve/serve_metrics.h"
#include "tessera/engine.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tessera::serve {

struct ServeConfig {
  EngineConfig engine;                 // model path, KV budget, max_num_seqs, max_model_len, threads,
                                       // max_waiting_requests (503 beyond it; --max-queue-len)
  std::string host = "127.0.0.1";
  int32_t port = 8080;                 // 0: any free port (see bind())
  std::string api_key;                 // "" = no authentication
  std::vector<std::string> allowed_origins;  // CORS origins ("*" = any); empty = none
  std::string served_model_name;       // "" = the model file's name without .gguf
  std::string chat_template_path;      // "" = the model's tokenizer.chat_template
  int32_t num_http_threads = 512;      // connections served at once (one thread each)
  size_t max_body_bytes = 8u << 20;    // 413 above this
  int64_t request_timeout_ms = 0;      // > 0: every completion ends with finish_reason "timeout"
                                       // this long after it arrived (engine timeout_ms); 0 = none
  RequestLimits limits;
};

class OpenAiServer {
 public:
  static Expected<std::unique_ptr<OpenAiServer>> create(const ServeConfig& config);
  ~OpenAiServer();

  // Binds the listening socket; returns the port (the chosen one when config.port is 0).
  Expected<int32_t> bind();
  // Serves until stop(); returns on the thread that called it.
  void run();
  // Thread-safe, idempotent. New requests get 503, in-flight ones are aborted (streams end with
  // finish_reason "abort" and [DONE]); waits up to `grace_ms` for them, then stops listening.
  void stop(int32_t grace_ms = 10000);

  const std::string& model_name() const { return model_name_; }

 private:
  explicit OpenAiServer(const ServeConfig& config);
  void register_routes();
  void handle_generation(const httplib::Request& req, httplib::Response& res, bool chat);
  void handle_tokenize(const httplib::Request& req, httplib::Response& res);
  void handle_detokenize(const httplib::Request& req, httplib::Response& res);
  void handle_models(httplib::Response& res);
  // Chat messages -> prompt token ids through the chat template.
  Expected<std::vector<int32_t>> render_chat(const std::vector<ChatMessage>& messages, bool add_special) const;
  bool model_matches(const std::string& requested, httplib::Response& res) const;

  ServeConfig config_;
  AccessPolicy access_;
  std::string model_name_;
  std::shared_ptr<const gguf::GgufFile> file_;     // keeps the tokenizer's source mapped
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  std::unique_ptr<ServeMetrics> metrics_;
  std::unique_ptr<EngineClient> client_;
  std::unique_ptr<httplib::Server> http_;
  int listen_socket_ = -1;                         // the listening socket, once created
  std::atomic<bool> draining_{false};
  int64_t created_ = 0;                            // Unix seconds at start, for /v1/models
};

}  // namespace tessera::serve
