// GenerationCall: one completions or chat request, from its validated job to the last byte,
// without a thread waiting on it. The engine admits its prompts asynchronously; each batch of
// outputs wakes it on the connection's strand (RequestChannel listener -> HttpExchange::post),
// where it turns them into SSE events or, once every choice is done, has a worker build the JSON.
// A client that leaves (exchange closed) or a failed write cancels the session: engine requests
// aborted, KV blocks freed, streaming or not.
#pragma once

#include <functional>
#include <memory>

#include "serve/engine_client.h"
#include "serve/generation_session.h"
#include "serve/http/http_exchange.h"
#include "serve/response_writer.h"

namespace tessera::serve {

struct GenerationContext {
  std::weak_ptr<EngineClient> client;
  const Tokenizer* tokenizer = nullptr;
  ServeMetrics* metrics = nullptr;
  std::function<void(std::function<void()>)> run_on_worker;  // CPU work off the I/O threads
  std::function<void(http::HttpResponse&, const http::HttpRequest&)> decorate;  // adds CORS headers, if any
};

class GenerationCall : public std::enable_shared_from_this<GenerationCall> {
 public:
  // Starts answering `exchange` with `job`; returns at once. The call keeps itself alive until
  // the response is complete or the client is gone.
  static void start(const GenerationContext& context, std::shared_ptr<http::HttpExchange> exchange,
                    std::shared_ptr<const GenerationJob> job, ResponseIds ids);

  GenerationCall(const GenerationContext& context, std::shared_ptr<http::HttpExchange> exchange,
                 std::shared_ptr<const GenerationJob> job, ResponseIds ids);

 private:
  // Each runs on the exchange's strand.
  void on_started(GenerationSession::StartResult result);
  void on_outputs();
  void fail(std::vector<std::pair<int32_t, ChoiceDelta>>& deltas);
  void on_client_gone();
  void respond_when_done();
  void release() { self_.reset(); }

  const GenerationContext context_;
  std::shared_ptr<http::HttpExchange> exchange_;
  std::shared_ptr<const GenerationJob> job_;
  const ResponseIds ids_;
  std::unique_ptr<GenerationSession> session_;
  SseEncoder encoder_;
  bool started_ = false;                  // the engine took (or refused) every prompt
  bool finished_ = false;                 // the answer is complete or the client gone
  bool began_ = false;                    // the stream's opening events (chat role, echo) are sent
  std::shared_ptr<GenerationCall> self_;  // keeps the call alive until finished_
};

}  // namespace tessera::serve
