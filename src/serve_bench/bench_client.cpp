#include "serve_bench/bench_client.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/progress.h"
#include "serve_bench/arrival_schedule.h"
#include "serve_bench/sse_parser.h"

namespace tessera::serve_bench {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool is_chat_endpoint(std::string_view endpoint) { return endpoint.ends_with("/chat/completions"); }

// Chat requests carry text, not ids: one common English word per prompt id, which most BPE
// vocabularies encode as about one token each.
std::string words_for_ids(const std::vector<int32_t>& ids) {
  static constexpr std::string_view kWords[] = {
      "the", "cat", "sat", "on", "a", "mat", "and", "looked", "at", "bird", "in", "tree", "while",
      "sun", "was", "warm", "over", "green", "hill", "river", "ran", "past", "old", "house", "with",
      "red", "door", "children", "played", "near", "water", "every", "day"};
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text.push_back(' ');
    text += kWords[static_cast<size_t>(ids[i]) % std::size(kWords)];
  }
  return text;
}

std::unique_ptr<httplib::Client> make_client(const BaseUrl& url, const ServeBenchConfig& config) {
  auto client = std::make_unique<httplib::Client>(url.scheme_host_port);
  const auto timeout = std::chrono::duration<double>(config.timeout_s);
  client->set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client->set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client->set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client->set_keep_alive(true);
  // NOTE: no compression: a server that gzips an event stream holds chunks back until its
  // compressor flushes, which would turn the measured ITL into the compressor's buffering.
  client->set_decompress(false);
  return client;
}

httplib::Headers auth_headers(const ServeBenchConfig& config) {
  httplib::Headers headers = {{"Accept-Encoding", "identity"}};
  if (!config.api_key.empty()) headers.emplace("Authorization", "Bearer " + config.api_key);
  return headers;
}

// Sends one streaming request and times each received piece of the body on the steady clock.
RequestResult send_streaming_request(httplib::Client& client, const std::string& path, const ServeBenchConfig& config,
                                     const std::string& body, int64_t prompt_len) {
  constexpr size_t kMaxErrorBodyBytes = 1000;
  int status = 0;
  std::string error_body;
  double receive_s = 0.0;
  StreamRecorder recorder(now_s());
  SseParser parser([&](std::string_view data) {
    auto chunk = parse_stream_chunk(data);
    if (!chunk.ok()) {
      recorder.on_failure(chunk.status().message());
    } else if (!chunk->done) {
      recorder.on_chunk(*chunk, receive_s);
    }
  });
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.headers = auth_headers(config);
  request.headers.emplace("Content-Type", "application/json");
  request.body = body;
  request.response_handler = [&](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    receive_s = now_s();
    if (status != 200) {
      error_body.append(data, std::min(size, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body.size())));
    } else {
      parser.feed(std::string_view(data, size));
    }
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  if (!client.send(request, response, error)) {
    recorder.on_failure("HTTP request failed: " + httplib::to_string(error));
  } else if (status != 200) {
    recorder.on_failure("HTTP " + std::to_string(status) + ": " + error_body);
  } else {
    parser.finish();
  }
  return std::move(recorder).finish(prompt_len);
}

// Hands request indices, at their arrival times, to a fixed set of worker threads: at most
// `num_workers` requests are in flight, which is how --max-concurrency limits them (vLLM's semaphore).
class Dispatcher {
 public:
  void push(size_t index) {
    {
      std::lock_guard lock(mutex_);
      ready_.push_back(index);
    }
    ready_cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_cv_.notify_all();
  }
  // The next request to send, or false once closed and drained.
  bool pop(size_t* index) {
    std::unique_lock lock(mutex_);
    ready_cv_.wait(lock, [&] { return closed_ || !ready_.empty(); });
    if (ready_.empty()) return false;
    *index = ready_.front();
    ready_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<size_t> ready_;  // arrived, not yet picked up by a worker
  bool closed_ = false;       // every request has arrived
};

}  // namespace

Status validate(const ServeBenchConfig& c) {
  if (c.num_prompts < 1) return invalid_argument("--num-prompts must be >= 1");
  if (!(c.request_rate > 0.0)) return invalid_argument("--request-rate must be > 0 or inf");
  if (c.max_concurrency < 0) return invalid_argument("--max-concurrency must be >= 1 (or 0 for no limit)");
  if (c.input_len < 1) return invalid_argument("--input-len must be >= 1");
  if (c.output_len < 1) return invalid_argument("--output-len must be >= 1");
  if (c.vocab_size < 4) return invalid_argument("--vocab-size must be >= 4");
  if (!(c.timeout_s > 0.0)) return invalid_argument("--timeout must be > 0");
  if (c.endpoint.empty() || c.endpoint.front() != '/') return invalid_argument("--endpoint must start with '/'");
  auto url = parse_base_url(c.base_url);
  return url.ok() ? Status() : url.status();
}

Expected<BaseUrl> parse_base_url(std::string_view base_url) {
  const size_t scheme_end = base_url.find("://");
  if (scheme_end == std::string_view::npos ||
      (base_url.substr(0, scheme_end) != "http" && base_url.substr(0, scheme_end) != "https")) {
    return invalid_argument("--base-url must start with http:// or https://, got '" + std::string(base_url) + "'");
  }
  const size_t path_start = base_url.find('/', scheme_end + 3);
  BaseUrl url;
  url.scheme_host_port = std::string(base_url.substr(0, path_start));
  if (url.scheme_host_port.size() == scheme_end + 3) return invalid_argument("--base-url has no host");
  if (path_start != std::string_view::npos) url.path_prefix = std::string(base_url.substr(path_start));
  while (!url.path_prefix.empty() && url.path_prefix.back() == '/') url.path_prefix.pop_back();
  return url;
}

std::string make_request_body(const ServeBenchConfig& config, const std::string& model,
                              const std::vector<int32_t>& prompt_ids) {
  nlohmann::json body;
  body["model"] = model;
  if (is_chat_endpoint(config.endpoint)) {
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", words_for_ids(prompt_ids)}}});
    body["max_completion_tokens"] = config.output_len;
  } else {
    body["prompt"] = prompt_ids;
    body["max_tokens"] = config.output_len;
  }
  body["temperature"] = 0.0;
  body["ignore_eos"] = true;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

std::vector<std::vector<int32_t>> make_random_prompts(const ServeBenchConfig& config) {
  std::mt19937_64 rng(config.seed);
  std::uniform_int_distribution<int32_t> token(3, config.vocab_size - 1);  // skip the usual <unk> <s> </s>
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(config.num_prompts));
  for (auto& prompt : prompts) {
    prompt.resize(static_cast<size_t>(config.input_len));
    for (int32_t& id : prompt) id = token(rng);
  }
  return prompts;
}

Expected<std::string> fetch_first_model(const ServeBenchConfig& config) {
  TS_ASSIGN_OR_RETURN(const BaseUrl url, parse_base_url(config.base_url));
  auto client = make_client(url, config);
  const std::string path = url.path_prefix + "/v1/models";
  auto response = client->Get(path, auth_headers(config));
  if (!response) return io_error("GET " + path + " failed: " + httplib::to_string(response.error()));
  if (response->status != 200) {
    return io_error("GET " + path + ": HTTP " + std::to_string(response->status) + ": " + response->body.substr(0, 500));
  }
  const auto json = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.contains("data") || !json["data"].is_array() || json["data"].empty() ||
      !json["data"][0].contains("id") || !json["data"][0]["id"].is_string()) {
    return corrupt_data("GET " + path + ": no model id in the response; pass --model");
  }
  return json["data"][0]["id"].get<std::string>();
}

Expected<BenchmarkRun> run_serve_bench(const ServeBenchConfig& config,
                                       const std::function<void(std::string_view)>& log) {
  TS_RETURN_IF_ERROR(validate(config));
  TS_ASSIGN_OR_RETURN(const BaseUrl url, parse_base_url(config.base_url));
  BenchmarkRun run;
  run.model = config.model;
  if (run.model.empty()) {
    TS_ASSIGN_OR_RETURN(run.model, fetch_first_model(config));
  }
  const std::string path = url.path_prefix + config.endpoint;
  const auto prompts = make_random_prompts(config);
  std::vector<std::string> bodies;
  bodies.reserve(prompts.size());
  for (const auto& prompt : prompts) bodies.push_back(make_request_body(config, run.model, prompt));

  if (log) log("bench-serve: test request to " + config.base_url + path + " (model " + run.model + ")");
  {
    auto client = make_client(url, config);
    const RequestResult test = send_streaming_request(*client, path, config, bodies.front(), config.input_len);
    if (!test.success) return io_error("the test request failed: " + test.error);
  }

  const std::vector<double> arrivals_s = poisson_arrival_offsets_s(config.num_prompts, config.request_rate, config.seed);
  const int32_t limit = config.max_concurrency > 0 ? config.max_concurrency : kMaxWorkers;
  const int32_t num_workers = std::min(limit, config.num_prompts);
  run.results.resize(prompts.size());
  if (log) log("bench-serve: " + std::to_string(config.num_prompts) + " requests, " + std::to_string(num_workers) + " workers");
  Dispatcher dispatcher;
  ProgressBar progress("bench-serve", config.num_prompts, "requests");
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(num_workers));
  for (int32_t w = 0; w < num_workers; ++w) {
    workers.emplace_back([&] {
      auto client = make_client(url, config);
      size_t i = 0;
      while (dispatcher.pop(&i)) {
        run.results[i] = send_streaming_request(*client, path, config, bodies[i], config.input_len);
        progress.add();
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < arrivals_s.size(); ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                              std::chrono::duration<double>(arrivals_s[i])));
    dispatcher.push(i);
  }
  dispatcher.close();
  for (std::thread& worker : workers) worker.join();
  progress.finish();
  const double duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.metrics = compute_metrics(run.results, duration_s);
  return run;
}

}  // namespace tessera::serve_bench
