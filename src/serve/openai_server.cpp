#include "serve/openai_server.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "chat/tool_call_grammar.h"
#include "serve/engine_stats_json.h"
#include "serve/model_chat_template.h"
#include "serve/openai_error.h"
#include "serve/openai_response.h"
#include "serve/request_budget.h"
#include "serve/web_assets.h"

namespace tessera::serve {
namespace {

struct Route {
  const char* method;
  const char* path;
  bool needs_key;  // /health, /metrics and the pages are open, as in vLLM; the pages' API calls are not
};
constexpr Route kRoutes[] = {
    {"POST", "/v1/completions", true}, {"POST", "/v1/chat/completions", true}, {"POST", "/tokenize", true},
    {"POST", "/detokenize", true},     {"GET", "/v1/models", true},            {"GET", "/health", false},
    {"GET", "/metrics", false},        {"GET", "/v1/engine/stats", true},      {"GET", "/v1/engine/events", true},
};

const Route* find_route(const http::HttpRequest& request) {
  for (const Route& route : kRoutes) {
    if (request.path == route.path && request.method == route.method) return &route;
  }
  return nullptr;
}

http::HttpResponse json_response(const Json& body) {
  http::HttpResponse response;
  response.body = dump_json(body);
  return response;
}

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return std::string(prefix) + hex;
}

// The tools and llama.cpp's generic call format as a system message, for templates that never
// render tools themselves (prepended to the conversation's own system message, if any).
std::vector<ChatMessage> with_generic_tool_prompt(std::vector<ChatMessage> messages, const std::string& tools_json) {
  const std::string prompt =
      "You can call these tools (JSON schema of each function's arguments):\n" + tools_json +
      "\nTo call tools, answer with only this JSON: {\"tool_calls\": [{\"name\": \"<function name>\", \"arguments\": "
      "{...}}]}. Otherwise answer normally, or as {\"response\": \"<your answer>\"}.";
  if (!messages.empty() && messages.front().role == "system") {
    messages.front().content = prompt + "\n\n" + messages.front().content;
  } else {
    ChatMessage system;
    system.role = "system";
    system.content = prompt;
    messages.insert(messages.begin(), std::move(system));
  }
  return messages;
}

// For templates that never render tool calls: each assistant call list becomes its generic JSON
// text (what the model would have written), so the conversation renders at all.
std::vector<ChatMessage> with_calls_as_text(std::vector<ChatMessage> messages) {
  for (ChatMessage& m : messages) {
    if (m.tool_calls.empty()) continue;
    Json calls = Json::array();
    for (const ChatToolCall& call : m.tool_calls) {
      Json arguments = Json::parse(call.arguments, nullptr, /*allow_exceptions=*/false);
      calls.push_back({{"name", call.name}, {"arguments", arguments.is_discarded() ? Json(call.arguments) : arguments}});
    }
    m.content += (m.content.empty() ? "" : "\n") + Json{{"tool_calls", calls}}.dump();
    m.tool_calls.clear();
  }
  return messages;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Expected<std::unique_ptr<OpenAiServer>> OpenAiServer::create(const ServeConfig& config) {
  if (config.http.num_io_threads < 1 || config.http.num_workers < 1) {
    return invalid_argument("--http-threads and --http-workers must be >= 1");
  }
  auto server = std::unique_ptr<OpenAiServer>(new OpenAiServer(config));
  TS_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(config.engine.model_path));
  server->file_ = std::move(file);
  TS_ASSIGN_OR_RETURN(server->tokenizer_, Tokenizer::from_gguf(*server->file_));
  Expected<ChatTemplate> chat =
      load_model_chat_template(*server->file_, *server->tokenizer_, config.chat_template_path, "tessera serve");
  if (!chat.ok()) return chat.status();
  server->chat_template_ = std::make_unique<ChatTemplate>(std::move(chat).value());
  server->tool_format_ = detect_tool_call_format(server->chat_template_->source());
  server->tool_caps_ = probe_tool_template(*server->chat_template_);
  server->template_renders_tools_ = template_supports_tools(server->chat_template_->source());
  const std::string& reasoning = config.reasoning_parser;
  if (!reasoning.empty() && reasoning != "auto" && reasoning != "deepseek_r1" && reasoning != "qwen3") {
    return invalid_argument("--reasoning-parser must be auto, deepseek_r1 or qwen3, got '" + reasoning + "'");
  }
  server->extract_reasoning_ =
      !reasoning.empty() && (reasoning != "auto" || template_has_reasoning(server->chat_template_->source()));
  server->model_name_ = config.served_model_name.empty()
                            ? std::filesystem::path(config.engine.model_path).stem().string()
                            : config.served_model_name;
  server->metrics_ = std::make_unique<ServeMetrics>(server->model_name_);
  TS_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::create(config.engine));
  server->grammars_ = std::make_unique<GrammarCompiler>(grammar_vocabulary(*server->tokenizer_, engine->eog_token_ids()));
  server->client_ = std::make_shared<EngineClient>(std::move(engine), *server->metrics_);
  server->created_ = unix_seconds();
  OpenAiServer* raw = server.get();
  http::HttpHandlers handlers;
  handlers.screen = [raw](const http::HttpRequest& head) { return raw->screen(head); };
  handlers.handle = [raw](std::shared_ptr<http::HttpExchange> exchange) { raw->handle(exchange); };
  handlers.error = [](int status, const std::string& message) { return http_error_response(status, message); };
  server->http_ = std::make_unique<http::HttpServer>(config.http, std::move(handlers));
  server->events_ = EngineEventHub::create(config.events, [raw] { return dump_json(raw->engine_stats()); });
  return server;
}

OpenAiServer::OpenAiServer(const ServeConfig& config)
    : config_(config), access_(config.api_key, config.host, config.allowed_origins) {}

OpenAiServer::~OpenAiServer() {
  if (client_) client_->abort_all();
  if (events_) events_->stop();  // its thread reads the engine and writes to exchanges
  if (http_) http_->stop();  // no I/O thread or worker runs after this
  // NOTE: the engine loop stops before the HTTP state is destroyed: a late engine output may still
  // post to a stopped connection (harmless), never to a destroyed one; sessions destroyed with
  // the HTTP state then find the engine gone and have nothing to abort.
  client_.reset();
  http_.reset();
}

Expected<int32_t> OpenAiServer::bind() {
  TS_ASSIGN_OR_RETURN(const int32_t port, http_->bind(config_.host, config_.port));
  access_.set_port(port);
  return port;
}

void OpenAiServer::run() { http_->run(); }

void OpenAiServer::fail_in_flight(const std::string& why) { client_->fail_all(why); }

void OpenAiServer::stop(int32_t grace_ms) {
  if (draining_.exchange(true)) return;
  http_->stop_accepting();
  events_->stop();  // event streams never end on their own: end them now
  client_->abort_all();
  if (grace_ms < 0) grace_ms = config_.shutdown_timeout_ms;
  // NOTE: a hard deadline: a client that does not read its last events cannot hold the process.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while ((client_->num_in_flight() > 0 || http_->num_open_exchanges() > 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    client_->abort_all();  // also those admitted after the first call (they were mid-submit)
  }
  http_->stop();
}

std::optional<http::HttpResponse> OpenAiServer::screen(const http::HttpRequest& head) const {
  auto refuse = [&](http::HttpResponse response) -> std::optional<http::HttpResponse> {
    decorate(response, head);
    return response;
  };
  const std::string_view host = head.header("Host");
  if (!(head.http10 && host.empty()) && !access_.host_ok(host)) {
    return refuse(error_response(403, "The Host header does not name this server (start it with --host 0.0.0.0 to "
                                      "accept any).", "invalid_request_error", "", "host_not_allowed"));
  }
  if (!access_.origin_ok(head.header("Origin"), host)) {
    return refuse(error_response(403, "Cross-origin requests from this origin are not allowed (see --allowed-origins).",
                                 "invalid_request_error", "", "origin_not_allowed"));
  }
  if (head.method == "OPTIONS") {  // a CORS preflight (only allowed origins reach here)
    http::HttpResponse preflight;
    preflight.status = 204;
    preflight.content_type.clear();
    preflight.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                         {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                         {"Access-Control-Max-Age", "600"}};
    return refuse(std::move(preflight));
  }
  const Route* route = find_route(head);
  if (route == nullptr && head.method == "GET" && find_web_asset(head.path) != nullptr) {
    return std::nullopt;  // a page: static, holds no data; what it fetches is behind the key
  }
  if (route == nullptr) {
    return refuse(error_response(404, "Invalid URL (" + head.method + " " + head.path + ")", "invalid_request_error", "", "unknown_url"));
  }
  if (route->needs_key && !access_.key_ok(head.header("Authorization"))) {
    return refuse(error_response(401, "Incorrect or missing API key: send the header 'Authorization: Bearer <key>'.",
                                 "invalid_request_error", "", "invalid_api_key"));
  }
  if (draining_ && route->needs_key) {
    http::HttpResponse busy = error_response(503, "The server is shutting down.", "server_error");
    busy.close = true;
    return refuse(std::move(busy));
  }
  return std::nullopt;
}

void OpenAiServer::decorate(http::HttpResponse& response, const http::HttpRequest& request) const {
  const std::string_view origin = request.header("Origin");
  if (origin.empty() || !access_.cors_enabled() || !access_.origin_ok(origin)) return;
  response.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  response.headers.emplace_back("Vary", "Origin");
}

void OpenAiServer::handle(const std::shared_ptr<http::HttpExchange>& exchange) {
  const http::HttpRequest& request = exchange->request();
  const std::string& path = request.path;
  if (path == "/v1/completions" || path == "/v1/chat/completions") return handle_generation(exchange, path != "/v1/completions");
  http::HttpResponse response;
  if (const WebAsset* asset = find_route(request) == nullptr ? find_web_asset(path) : nullptr) {
    response.content_type = std::string(asset->content_type);
    response.body = std::string(asset->body);
    response.headers = {{"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
  } else if (path == "/v1/engine/events") {
    return handle_engine_events(exchange);
  } else if (path == "/v1/engine/stats") {
    response = handle_engine_stats();
  } else if (path == "/tokenize") {
    response = handle_tokenize(request);
  } else if (path == "/detokenize") {
    response = handle_detokenize(request);
  } else if (path == "/v1/models") {
    response = handle_models();
  } else if (path == "/health") {
    response.content_type = "text/plain";
    if (draining_) response = error_response(503, "The server is shutting down.", "server_error");
  } else {  // /metrics (screen() let only known routes through)
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics_->render(client_->stats());
  }
  decorate(response, request);
  exchange->respond(std::move(response));
}

std::optional<http::HttpResponse> OpenAiServer::model_mismatch(const std::string& requested) const {
  if (requested.empty() || requested == model_name_) return std::nullopt;
  return error_response(404, "The model `" + requested + "` does not exist.", "invalid_request_error", "model", "model_not_found");
}

Expected<std::vector<int32_t>> OpenAiServer::render_chat(std::vector<ChatMessage> messages, bool add_special,
                                                       const ToolRequest* tools, std::string* rendered) const {
  ChatRenderOptions options;
  options.add_generation_prompt = true;
  tool_caps_.apply_to(&options);
  if (tools != nullptr && tools->active()) {
    if (template_renders_tools_) {
      options.tools_json = tools->tools_json;
    } else {
      // A template that never renders tools: describe them (and llama.cpp's generic call format)
      // in a system message, so the model can know them at all.
      messages = with_generic_tool_prompt(std::move(messages), tools->tools_json);
    }
  }
  if (tool_caps_.renders_tool_calls) {
    messages = adapt_tool_messages(std::move(messages), tool_caps_);
  } else {
    messages = with_calls_as_text(std::move(messages));
  }
  Expected<std::string> text = chat_template_->render(messages, options);
  if (!text.ok()) return invalid_argument("'messages' " + text.status().message());
  // The rendered text already carries BOS where the template writes it.
  std::vector<int32_t> ids = tokenizer_->encode(*text, add_special, /*parse_special=*/true);
  if (rendered != nullptr) *rendered = std::move(text).value();
  return ids;
}

Status OpenAiServer::prepare_tools(const ToolRequest& tools, GenerationJob& job) const {
  if (!tools.active()) return Status();
  const ToolCallFormat format = template_renders_tools_ ? tool_format_ : ToolCallFormat::kGeneric;
  job.tool_format = format == ToolCallFormat::kNone ? ToolCallFormat::kGeneric : format;
  job.parallel_tool_calls = tools.parallel;
  if (!tools.forced()) return Status();
  // vLLM's rule: "required" and a named function are enforced by the grammar, whatever the
  // model would have written; the forced text is in grammar_tool_call_format's shape.
  job.tool_format = grammar_tool_call_format(job.tool_format);
  TS_ASSIGN_OR_RETURN(const std::string gbnf, forced_tool_call_gbnf(job.tool_format, tools));
  TS_ASSIGN_OR_RETURN(job.sampling.params.grammar, grammars_->compile_gbnf(gbnf, "tools"));
  return Status();
}

void OpenAiServer::handle_generation(const std::shared_ptr<http::HttpExchange>& exchange, bool chat) {
  const http::HttpRequest& request = exchange->request();
  auto fail = [&](http::HttpResponse response) {
    decorate(response, request);
    exchange->respond(std::move(response));
  };
  GenerationJob job;
  job.chat = chat;
  if (chat) {
    Expected<ChatRequest> parsed = parse_chat_request(request.body, config_.limits);
    if (!parsed.ok()) return fail(status_response(parsed.status()));
    if (auto mismatch = model_mismatch(parsed->sampling.model)) return fail(*mismatch);
    std::string rendered;
    Expected<std::vector<int32_t>> prompt =
        render_chat(std::move(parsed->messages), /*add_special=*/false, &parsed->tools,
                    extract_reasoning_ ? &rendered : nullptr);  // the text only when it is read
    if (!prompt.ok()) return fail(status_response(prompt.status()));
    job.prompts.push_back(std::move(prompt).value());
    job.sampling = std::move(parsed->sampling);
    if (Status s = prepare_tools(parsed->tools, job); !s.ok()) return fail(status_response(s));
    // A template that opens <think> itself (Qwen3 with enable_thinking, DeepSeek R1) leaves the
    // reply inside the reasoning from its first token.
    job.parse_options.extract_reasoning = extract_reasoning_;
    job.parse_options.starts_in_reasoning = extract_reasoning_ && prompt_opens_reasoning(rendered);
  } else {
    Expected<CompletionRequest> parsed = parse_completion_request(request.body, config_.limits);
    if (!parsed.ok()) return fail(status_response(parsed.status()));
    if (auto mismatch = model_mismatch(parsed->sampling.model)) return fail(*mismatch);
    for (const PromptInput& p : parsed->prompts) {
      job.prompts.push_back(p.is_tokens ? p.token_ids : tokenizer_->encode(p.text, /*add_special=*/true, /*parse_special=*/true));
      if (parsed->echo) job.echo_texts.push_back(p.is_tokens ? tokenizer_->decode(p.token_ids) : p.text);
    }
    job.sampling = std::move(parsed->sampling);
  }
  // NOTE: compiled here, on an HTTP worker, so a bad grammar is a 400 before the engine sees it.
  if (!job.sampling.params.grammar) {  // a forced tool call brought its own
    Expected<std::shared_ptr<const grammar::CompiledGrammar>> grammar = grammars_->compile(job.sampling.constraint);
    if (!grammar.ok()) return fail(status_response(grammar.status()));
    job.sampling.params.grammar = std::move(grammar).value();
  }
  job.model = model_name_;
  job.sampling.params.timeout_ms = config_.request_timeout_ms;
  size_t longest = 0;
  for (const auto& prompt : job.prompts) longest = std::max(longest, prompt.size());
  if (Status s = resolve_max_tokens(job.sampling, static_cast<int32_t>(longest), client_->max_model_len(), chat); !s.ok()) {
    return fail(status_response(s));
  }
  if (Status s = check_request_budget(job, config_.limits, config_.engine.max_waiting_requests); !s.ok()) {
    return fail(status_response(s));
  }
  if (draining_) return fail(error_response(503, "The server is shutting down.", "server_error"));
  GenerationContext context;
  context.client = client_;
  context.tokenizer = tokenizer_.get();
  context.metrics = metrics_.get();
  context.run_on_worker = [http = http_.get()](std::function<void()> fn) { http->post_work(std::move(fn)); };
  context.decorate = [this](http::HttpResponse& response, const http::HttpRequest& req) { decorate(response, req); };
  GenerationCall::start(context, exchange, std::make_shared<const GenerationJob>(std::move(job)),
                        {random_id(chat ? "chatcmpl-" : "cmpl-"), unix_seconds()});
}

http::HttpResponse OpenAiServer::handle_tokenize(const http::HttpRequest& request) const {
  Expected<TokenizeRequest> parsed = parse_tokenize_request(request.body);
  if (!parsed.ok()) return status_response(parsed.status());
  if (auto mismatch = model_mismatch(parsed->model)) return *mismatch;
  std::vector<int32_t> tokens;
  if (parsed->prompt) {
    tokens = tokenizer_->encode(*parsed->prompt, parsed->add_special_tokens, /*parse_special=*/true);
  } else {
    Expected<std::vector<int32_t>> rendered = render_chat(std::move(parsed->messages), /*add_special=*/false);
    if (!rendered.ok()) return status_response(rendered.status());
    tokens = std::move(rendered).value();
  }
  return json_response({{"count", tokens.size()}, {"max_model_len", client_->max_model_len()}, {"tokens", tokens}});
}

http::HttpResponse OpenAiServer::handle_detokenize(const http::HttpRequest& request) const {
  Expected<DetokenizeRequest> parsed = parse_detokenize_request(request.body);
  if (!parsed.ok()) return status_response(parsed.status());
  if (auto mismatch = model_mismatch(parsed->model)) return *mismatch;
  for (int32_t id : parsed->tokens) {
    if (id >= tokenizer_->vocab_size()) {
      return error_response(400, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                     std::to_string(tokenizer_->vocab_size()), "invalid_request_error", "tokens");
    }
  }
  return json_response({{"prompt", tokenizer_->decode(parsed->tokens)}});
}

http::HttpResponse OpenAiServer::handle_models() const {
  const Json model = {{"id", model_name_},        {"object", "model"},
                      {"created", created_},      {"owned_by", "tessera"},
                      {"root", model_name_},      {"max_model_len", client_->max_model_len()}};
  return json_response({{"object", "list"}, {"data", Json::array({model})}});
}

Json OpenAiServer::engine_stats() const {
  EngineStatsContext context;
  context.model = model_name_;
  context.time_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  context.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  context.block_size = config_.engine.block_size;
  context.max_num_seqs = config_.engine.max_num_seqs;
  context.max_model_len = client_->max_model_len();
  context.requests_in_flight = client_->num_in_flight();
  context.event_streams = events_->num_subscribers();
  context.event_snapshots_skipped = events_->num_skipped();
  return engine_stats_json(client_->stats(), metrics_->latencies(), context);
}

http::HttpResponse OpenAiServer::handle_engine_stats() const {
  http::HttpResponse response = json_response(engine_stats());
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

void OpenAiServer::handle_engine_events(const std::shared_ptr<http::HttpExchange>& exchange) {
  const http::HttpRequest& request = exchange->request();
  auto answer = [&](http::HttpResponse response) {
    decorate(response, request);
    exchange->respond(std::move(response));
  };
  Expected<int32_t> interval = parse_event_interval(request.target, events_->limits());
  if (!interval.ok()) return answer(error_response(400, interval.status().message(), "invalid_request_error", "interval_ms"));
  http::HttpResponse head;
  head.content_type = "text/event-stream";
  head.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  decorate(head, request);
  if (!events_->subscribe(exchange, *interval, std::move(head))) {
    http::HttpResponse busy = error_response(503, "Too many engine event streams are open (limit " +
                                                      std::to_string(events_->limits().max_subscribers) +
                                                      ", --max-event-streams); poll GET /v1/engine/stats instead.",
                                             "server_error");
    answer(std::move(busy));
  }
}

}  // namespace tessera::serve
