// OpenAiServer: `tessera serve`'s HTTP front. Routes /v1/completions, /v1/chat/completions,
// /v1/models, /health, /metrics, /tokenize, /detokenize over the event-driven HttpServer
// (src/serve/http); owns the tokenizer, chat template, metrics, access policy and the EngineClient
// (engine on its own thread). Handlers parse, tokenize and queue on workers; answers are written
// by the I/O threads; the engine loop alone touches scheduler and KV state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "chat/chat_template.h"
#include "chat/tool_template_caps.h"
#include "serve/access_policy.h"
#include "serve/engine_client.h"
#include "serve/engine_events.h"
#include "serve/generation_call.h"
#include "serve/http/http_server.h"
#include "serve/openai_request.h"
#include "serve/structured_output.h"
#include "serve/serve_metrics.h"
#include "tessera/engine.h"
#include "tokenizer/tokenizer.h"

namespace tessera::serve {

struct ServeConfig {
  EngineConfig engine;                 // model path, KV budget, max_num_seqs, max_model_len, threads,
                                       // max_waiting_requests (503 beyond it; --max-queue-len)
  std::string host = "127.0.0.1";      // also the Host names accepted, unless 0.0.0.0 / ::
  int32_t port = 8080;                 // 0: any free port (see bind())
  std::string api_key;                 // "" = no authentication
  std::vector<std::string> allowed_origins;  // CORS origins ("*" = any); empty = none
  std::string served_model_name;       // "" = the model file's name without .gguf
  std::string chat_template_path;      // "" = the model's tokenizer.chat_template
  // Split a chat reply's leading <think>...</think> into reasoning_content (vLLM's
  // --reasoning-parser): "" off; "auto" when the chat template writes <think>; "deepseek_r1" or
  // "qwen3" always (both write <think>...</think>).
  std::string reasoning_parser;
  http::HttpLimits http;               // connections, headers, body, deadlines, I/O threads, workers
  int64_t request_timeout_ms = 0;      // > 0: every completion ends with finish_reason "timeout"
                                       // this long after it arrived (engine timeout_ms); 0 = none
  int32_t shutdown_timeout_ms = 1000;  // stop(): how long in-flight answers may take to end
  RequestLimits limits;
  EngineEventLimits events;            // GET /v1/engine/events: subscribers, per-client bytes, intervals
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
  // finish_reason "abort" and [DONE]); waits up to `grace_ms` (-1: the configured
  // shutdown_timeout_ms) for their answers to leave, then closes every connection.
  void stop(int32_t grace_ms = -1);
  // The engine cannot go on (a rank of a parallel job died or hung): every in-flight request is
  // answered now, 503 or an error event naming `why` (EngineClient::fail_all); call stop() next.
  // Thread-safe, also while the engine's thread is stuck.
  void fail_in_flight(const std::string& why);

  const std::string& model_name() const { return model_name_; }

 private:
  explicit OpenAiServer(const ServeConfig& config);
  // I/O thread, headers only: routes, Host, Origin, API key, draining.
  std::optional<http::HttpResponse> screen(const http::HttpRequest& head) const;
  void handle(const std::shared_ptr<http::HttpExchange>& exchange);  // worker thread
  void handle_generation(const std::shared_ptr<http::HttpExchange>& exchange, bool chat);
  http::HttpResponse handle_tokenize(const http::HttpRequest& request) const;
  http::HttpResponse handle_detokenize(const http::HttpRequest& request) const;
  http::HttpResponse handle_models() const;
  http::HttpResponse handle_engine_stats() const;
  void handle_engine_events(const std::shared_ptr<http::HttpExchange>& exchange);
  Json engine_stats() const;  // the snapshot both engine endpoints send
  void decorate(http::HttpResponse& response, const http::HttpRequest& request) const;  // CORS
  // Chat messages -> prompt token ids through the chat template.
  // `rendered`, if given, gets the prompt's text (moved, not copied).
  Expected<std::vector<int32_t>> render_chat(std::vector<ChatMessage> messages, bool add_special,
                                             const ToolRequest* tools = nullptr, std::string* rendered = nullptr) const;
  // Chat with tools: where the calls are parsed from, and the grammar forcing one when asked.
  Status prepare_tools(const ToolRequest& tools, GenerationJob& job) const;
  std::optional<http::HttpResponse> model_mismatch(const std::string& requested) const;

  ServeConfig config_;
  AccessPolicy access_;
  std::string model_name_;
  std::shared_ptr<const gguf::GgufFile> file_;     // keeps the tokenizer's source mapped
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  std::unique_ptr<GrammarCompiler> grammars_;      // structured output against this vocabulary
  ToolCallFormat tool_format_ = ToolCallFormat::kNone;  // how the template's model writes tool calls
  ToolTemplateCaps tool_caps_;                     // what the template needs to render calls and results
  bool extract_reasoning_ = false;                 // --reasoning-parser is on for this template
  bool template_renders_tools_ = false;            // the template renders `tools` itself (read once at start)
  std::unique_ptr<ServeMetrics> metrics_;
  std::shared_ptr<EngineClient> client_;           // sessions hold it weakly (generation_session.h)
  std::unique_ptr<http::HttpServer> http_;
  std::shared_ptr<EngineEventHub> events_;        // its thread stops before the members above go
  std::atomic<bool> draining_{false};
  int64_t created_ = 0;                            // Unix seconds at start, for /v1/models
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace tessera::serve
