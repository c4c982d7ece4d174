#include "serve/openai_server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "serve/generation_session.h"
#include "serve/openai_response.h"
#include "serve/request_budget.h"
#include "serve/response_writer.h"

namespace tessera::serve {
namespace {

constexpr const char* kJson = "application/json";
constexpr int kListenBacklog = 4096;

void send_error(httplib::Response& res, int http_status, const std::string& message, const std::string& type,
                const std::string& param = "", const std::string& code = "") {
  res.status = http_status;
  res.set_content(dump_json(error_json(message, type, param, code)), kJson);
}

// A parse or engine Status as the OpenAI error object: input problems are 400; a full waiting
// queue (kResourceExhausted) or a stopped loop (kInternal) 503.
void send_status(httplib::Response& res, const Status& status) {
  if (status.code() == StatusCode::kInternal || status.code() == StatusCode::kResourceExhausted) {
    const char* what = status.code() == StatusCode::kInternal ? "The server is stopping: " : "The server is overloaded: ";
    send_error(res, 503, what + status.message(), "server_error");
    res.set_header("Retry-After", "1");  // seconds: the queue moves at the engine's pace
    return;
  }
  std::string message = status.message();
  const std::string param = error_param(status);
  // "'prompt' This model's ..." reads better without the field marker that names the param.
  if (!param.empty() && message.size() > param.size() + 3 && message[param.size() + 2] == ' ' &&
      std::isupper(static_cast<unsigned char>(message[param.size() + 3]))) {
    message = message.substr(param.size() + 3);
  }
  send_error(res, 400, message, "invalid_request_error", param);
}

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return std::string(prefix) + hex;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Expected<std::unique_ptr<OpenAiServer>> OpenAiServer::create(const ServeConfig& config) {
  if (config.num_http_threads < 1) return invalid_argument("--http-threads must be >= 1");
  auto server = std::unique_ptr<OpenAiServer>(new OpenAiServer(config));
  TS_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(config.engine.model_path));
  server->file_ = std::move(file);
  TS_ASSIGN_OR_RETURN(server->tokenizer_, Tokenizer::from_gguf(*server->file_));
  const Tokenizer& tok = *server->tokenizer_;
  const std::string bos = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : "";
  const std::string eos = tok.eos_id() >= 0 ? tok.token_text(tok.eos_id()) : "";
  Expected<ChatTemplate> chat = config.chat_template_path.empty()
                                    ? ChatTemplate::from_source(server->file_->get_string("tokenizer.chat_template").value_or(""), bos, eos)
                                    : ChatTemplate::from_file(config.chat_template_path, bos, eos);
  if (!chat.ok() && !config.chat_template_path.empty()) return chat.status();
  if (!chat.ok()) {  // an unrecognised built-in template: documented fallback, with a warning
    std::fprintf(stderr, "tessera serve: %s; using the ChatML fallback\n", chat.status().message().c_str());
    chat = ChatTemplate::from_source("", bos, eos);
    if (!chat.ok()) return chat.status();
  }
  server->chat_template_ = std::make_unique<ChatTemplate>(std::move(chat).value());
  server->model_name_ = config.served_model_name.empty()
                            ? std::filesystem::path(config.engine.model_path).stem().string()
                            : config.served_model_name;
  server->metrics_ = std::make_unique<ServeMetrics>(server->model_name_);
  TS_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::create(config.engine));
  server->client_ = std::make_unique<EngineClient>(std::move(engine), *server->metrics_);
  server->created_ = unix_seconds();
  server->http_ = std::make_unique<httplib::Server>();
  const auto num_threads = static_cast<size_t>(config.num_http_threads);
  // NOTE: cpp-httplib serves each connection on one pool thread for its whole life (a streaming
  // response blocks that thread), so the pool size bounds concurrent streams; beyond it,
  // connections queue until a thread frees up.
  server->http_->new_task_queue = [num_threads] { return new httplib::ThreadPool(num_threads); };
  server->http_->set_payload_max_length(config.max_body_bytes);
  server->http_->set_keep_alive_timeout(2);  // bounds how long stop() waits for idle keep-alive sockets
  server->http_->set_tcp_nodelay(true);       // each streamed token leaves at once, not after Nagle's delay
  // Remembers the listening socket so bind() can raise its backlog (see there).
  server->http_->set_socket_options([raw = server.get()](socket_t sock) {
    httplib::default_socket_options(sock);
    raw->listen_socket_ = static_cast<int>(sock);
  });
  server->register_routes();
  return server;
}

OpenAiServer::OpenAiServer(const ServeConfig& config)
    : config_(config), access_(config.api_key, config.host, config.allowed_origins) {}

OpenAiServer::~OpenAiServer() {
  if (client_) client_->abort_all();
  http_.reset();    // joins the request threads first: they use everything below
  client_.reset();  // then the engine loop
}

Expected<int32_t> OpenAiServer::bind() {
  int port = config_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(config_.host);
    if (port < 0) return io_error("cannot bind to " + config_.host);
  } else if (!http_->bind_to_port(config_.host, port)) {
    return io_error("cannot bind to " + config_.host + ":" + std::to_string(port) + " (in use?)");
  }
  // NOTE: cpp-httplib 0.11 listens with a backlog of 5 (compiled into Debian's library): a burst
  // of hundreds of connections overflows it and clients see resets. listen() again on the bound
  // socket only raises the backlog (the kernel caps it at net.core.somaxconn).
  if (listen_socket_ >= 0 && ::listen(listen_socket_, kListenBacklog) != 0) {
    return io_error("cannot raise the listen backlog: " + std::string(std::strerror(errno)));
  }
  return port;
}

void OpenAiServer::run() { http_->listen_after_bind(); }

void OpenAiServer::stop(int32_t grace_ms) {
  if (draining_.exchange(true)) return;
  client_->abort_all();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (client_->num_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    client_->abort_all();  // also those admitted after the first call (they were mid-submit)
  }
  http_->stop();
}

void OpenAiServer::register_routes() {
  httplib::Server& http = *http_;
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (config_.api_key.empty() || req.path == "/health" || req.path == "/metrics") return httplib::Server::HandlerResponse::Unhandled;
    if (access_.key_ok(req.get_header_value("Authorization"))) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, 401, "Incorrect or missing API key: send the header 'Authorization: Bearer <key>'.",
               "invalid_request_error", "", "invalid_api_key");
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib produces itself (unknown route 404, body too large 413, ...) get the error object.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours, already an error object
    if (res.status == 404) {
      send_error(res, 404, "Invalid URL (" + req.method + " " + req.path + ")", "invalid_request_error", "", "unknown_url");
    } else if (res.status == 413) {
      send_error(res, 413, "The request body is larger than " + std::to_string(config_.max_body_bytes) + " bytes.",
                 "invalid_request_error", "", "request_too_large");
    } else {
      send_error(res, res.status, "HTTP error " + std::to_string(res.status) + " on " + req.method + " " + req.path,
                 res.status >= 500 ? "server_error" : "invalid_request_error");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { handle_generation(req, res, false); });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { handle_generation(req, res, true); });
  http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) { handle_tokenize(req, res); });
  http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) { handle_detokenize(req, res); });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { handle_models(res); });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (draining_) send_error(res, 503, "The server is shutting down.", "server_error");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->render(client_->stats()), "text/plain; version=0.0.4; charset=utf-8");
  });
}

bool OpenAiServer::model_matches(const std::string& requested, httplib::Response& res) const {
  if (requested.empty() || requested == model_name_) return true;
  send_error(res, 404, "The model `" + requested + "` does not exist.", "invalid_request_error", "model", "model_not_found");
  return false;
}

Expected<std::vector<int32_t>> OpenAiServer::render_chat(const std::vector<ChatMessage>& messages, bool add_special) const {
  Expected<std::string> text = chat_template_->render(messages, /*add_generation_prompt=*/true);
  if (!text.ok()) return invalid_argument("'messages' " + text.status().message());
  // The rendered text already carries BOS where the template writes it.
  return tokenizer_->encode(*text, add_special, /*parse_special=*/true);
}

void OpenAiServer::handle_generation(const httplib::Request& req, httplib::Response& res, bool chat) {
  if (draining_) return send_error(res, 503, "The server is shutting down.", "server_error");
  GenerationJob job;
  job.chat = chat;
  if (chat) {
    Expected<ChatRequest> parsed = parse_chat_request(req.body, config_.limits);
    if (!parsed.ok()) return send_status(res, parsed.status());
    if (!model_matches(parsed->sampling.model, res)) return;
    Expected<std::vector<int32_t>> prompt = render_chat(parsed->messages, /*add_special=*/false);
    if (!prompt.ok()) return send_status(res, prompt.status());
    job.prompts.push_back(std::move(prompt).value());
    job.sampling = std::move(parsed->sampling);
  } else {
    Expected<CompletionRequest> parsed = parse_completion_request(req.body, config_.limits);
    if (!parsed.ok()) return send_status(res, parsed.status());
    if (!model_matches(parsed->sampling.model, res)) return;
    for (const PromptInput& p : parsed->prompts) {
      job.prompts.push_back(p.is_tokens ? p.token_ids : tokenizer_->encode(p.text, /*add_special=*/true, /*parse_special=*/true));
      if (parsed->echo) job.echo_texts.push_back(p.is_tokens ? tokenizer_->decode(p.token_ids) : p.text);
    }
    job.sampling = std::move(parsed->sampling);
  }
  job.model = model_name_;
  job.sampling.params.timeout_ms = config_.request_timeout_ms;
  size_t longest = 0;
  for (const auto& prompt : job.prompts) longest = std::max(longest, prompt.size());
  if (Status s = resolve_max_tokens(job.sampling, static_cast<int32_t>(longest), client_->max_model_len(), chat); !s.ok()) {
    return send_status(res, s);
  }
  if (Status s = check_request_budget(job, config_.limits, config_.engine.max_waiting_requests); !s.ok()) {
    return send_status(res, s);
  }
  const ResponseIds ids{random_id(chat ? "chatcmpl-" : "cmpl-"), unix_seconds()};
  auto shared_job = std::make_shared<const GenerationJob>(std::move(job));
  auto session = std::make_shared<GenerationSession>(*client_, *tokenizer_, *metrics_, *shared_job);
  if (Status s = session->start(); !s.ok()) return send_status(res, s);
  if (!shared_job->sampling.stream) {
    res.set_content(dump_json(collect_response(*session, *shared_job, ids)), kJson);
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [session, shared_job, ids](size_t, httplib::DataSink& sink) {
    const bool delivered = stream_response(*session, *shared_job, ids, [&sink](std::string_view bytes) {
      return sink.is_writable() && sink.write(bytes.data(), bytes.size());
    });
    if (delivered) sink.done();
    return delivered;
  });
}

void OpenAiServer::handle_tokenize(const httplib::Request& req, httplib::Response& res) {
  Expected<TokenizeRequest> parsed = parse_tokenize_request(req.body);
  if (!parsed.ok()) return send_status(res, parsed.status());
  if (!model_matches(parsed->model, res)) return;
  std::vector<int32_t> tokens;
  if (parsed->prompt) {
    tokens = tokenizer_->encode(*parsed->prompt, parsed->add_special_tokens, /*parse_special=*/true);
  } else {
    Expected<std::vector<int32_t>> rendered = render_chat(parsed->messages, /*add_special=*/false);
    if (!rendered.ok()) return send_status(res, rendered.status());
    tokens = std::move(rendered).value();
  }
  const Json body = {{"count", tokens.size()}, {"max_model_len", client_->max_model_len()}, {"tokens", tokens}};
  res.set_content(dump_json(body), kJson);
}

void OpenAiServer::handle_detokenize(const httplib::Request& req, httplib::Response& res) {
  Expected<DetokenizeRequest> parsed = parse_detokenize_request(req.body);
  if (!parsed.ok()) return send_status(res, parsed.status());
  if (!model_matches(parsed->model, res)) return;
  for (int32_t id : parsed->tokens) {
    if (id >= tokenizer_->vocab_size()) {
      return send_error(res, 400, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                      std::to_string(tokenizer_->vocab_size()), "invalid_request_error", "tokens");
    }
  }
  res.set_content(dump_json({{"prompt", tokenizer_->decode(parsed->tokens)}}), kJson);
}

void OpenAiServer::handle_models(httplib::Response& res) {
  const Json model = {{"id", model_name_},        {"object", "model"},
                      {"created", created_},      {"owned_by", "tessera"},
                      {"root", model_name_},      {"max_model_len", client_->max_model_len()}};
  res.set_content(dump_json({{"object", "list"}, {"data", Json::array({model})}}), kJson);
}

}  // namespace tessera::serve
