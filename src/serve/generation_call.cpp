#include "serve/generation_call.h"

#include "serve/openai_error.h"
#include "serve/openai_response.h"

namespace tessera::serve {

void GenerationCall::start(const GenerationContext& context, std::shared_ptr<http::HttpExchange> exchange,
                           std::shared_ptr<const GenerationJob> job, ResponseIds ids) {
  auto call = std::make_shared<GenerationCall>(context, std::move(exchange), std::move(job), std::move(ids));
  call->self_ = call;
  std::weak_ptr<GenerationCall> weak = call;
  std::shared_ptr<http::HttpExchange> ex = call->exchange_;
  ex->set_on_close([weak] {
    if (auto c = weak.lock()) c->on_client_gone();
  });
  // NOTE: the listener runs on the engine loop thread; it only posts, so the loop never waits
  // on a client.
  call->session_->set_listener([weak, ex] {
    ex->post([weak] {
      if (auto c = weak.lock()) c->on_outputs();
    });
  });
  call->session_->start_async([call](GenerationSession::StartResult result) {
    call->exchange_->post([call, result = std::move(result)]() mutable { call->on_started(std::move(result)); });
  });
}

GenerationCall::GenerationCall(const GenerationContext& context, std::shared_ptr<http::HttpExchange> exchange,
                               std::shared_ptr<const GenerationJob> job, ResponseIds ids)
    : context_(context), exchange_(std::move(exchange)), job_(std::move(job)), ids_(std::move(ids)),
      session_(std::make_unique<GenerationSession>(context_.client, *context_.tokenizer, *context_.metrics, *job_)),
      encoder_(*job_, ids_, static_cast<int32_t>(job_->prompts.size()) * job_->sampling.params.n) {}

void GenerationCall::on_started(GenerationSession::StartResult result) {
  if (finished_) {  // the client left while the engine was admitting: abort what it took
    (void)session_->finish_start(std::move(result));
    return;
  }
  if (Status s = session_->finish_start(std::move(result)); !s.ok()) {
    http::HttpResponse response = status_response(s);
    context_.decorate(response, exchange_->request());
    exchange_->respond(std::move(response));
    finished_ = true;
    return release();
  }
  started_ = true;
  if (job_->sampling.stream) {
    http::HttpResponse head;
    head.content_type = "text/event-stream";
    head.headers.emplace_back("Cache-Control", "no-cache");
    context_.decorate(head, exchange_->request());
    exchange_->start_stream(std::move(head));
  }
  on_outputs();  // outputs that arrived before now are waiting in the channel
}

void GenerationCall::on_outputs() {
  if (!started_ || finished_) return;
  auto deltas = session_->poll(std::chrono::milliseconds(0));
  if (session_->engine_failed()) return fail(deltas);
  if (!job_->sampling.stream) {
    if (session_->done()) respond_when_done();
    return;
  }
  std::string bytes = encoder_.encode(deltas);
  // NOTE: the opening events (the chat role chunk) go out with the first output, as vLLM sends
  // them: sent at admission they would make a client's time to first token read ~0 and put the
  // prompt's queueing and prefill into the first inter-token gap (bench-serve counts any chunk).
  if (!began_ && (!bytes.empty() || session_->done())) {
    bytes.insert(0, encoder_.begin());
    began_ = true;
  }
  if (session_->done()) bytes += encoder_.end(session_->prompt_tokens(), session_->completion_tokens());
  if (!bytes.empty() && !exchange_->write(std::move(bytes))) return on_client_gone();
  if (session_->done()) {
    exchange_->end_stream();
    finished_ = true;
    release();
  }
}

// The engine failed under the request (EngineClient::fail_all): 503 with the reason, or, once a
// stream has begun, the text that was ready, an error event and [DONE] (as vLLM ends a stream
// that fails). No finish_reason goes out: the choices did not finish.
void GenerationCall::fail(std::vector<std::pair<int32_t, ChoiceDelta>>& deltas) {
  finished_ = true;
  session_->cancel();  // nothing is left in the engine; marks the rest of the choices ended
  const std::string message = "The model's parallel job failed (" + session_->failure() + "); the server is stopping.";
  if (!job_->sampling.stream) {
    http::HttpResponse response = error_response(503, message, "server_error", "", "engine_failed");
    context_.decorate(response, exchange_->request());
    exchange_->respond(std::move(response));
    return release();
  }
  for (auto& [index, delta] : deltas) delta.finish_reason.reset();
  std::string bytes = encoder_.encode(deltas);
  if (!began_) bytes.insert(0, encoder_.begin());
  bytes += "data: " + dump_json(error_json(message, "server_error", "", "engine_failed")) + "\n\ndata: [DONE]\n\n";
  if (exchange_->write(std::move(bytes))) exchange_->end_stream();
  release();
}

void GenerationCall::respond_when_done() {
  finished_ = true;
  // The JSON of a large response takes a while to build: a worker does it, not the I/O thread.
  context_.run_on_worker([self = shared_from_this()] {
    http::HttpResponse response;
    response.body = dump_json(response_body(*self->session_, *self->job_, self->ids_));
    self->context_.decorate(response, self->exchange_->request());
    self->exchange_->respond(std::move(response));
    self->exchange_->post([self] { self->release(); });
  });
}

void GenerationCall::on_client_gone() {
  if (finished_) return;
  finished_ = true;
  session_->cancel();  // aborts the engine requests: their KV blocks are freed at the next step
  release();
}

}  // namespace tessera::serve
