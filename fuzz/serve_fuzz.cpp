// Fuzzes the OpenAI request parsers of every endpoint (src/serve/openai_request.h) and, for chat,
// the chat-template rendering of whatever messages they accept. Any body must give a Status with
// a message, or a request whose every field lies inside the documented bounds.
// Input: byte 0 selects the endpoint ('0' completions, '1' chat, '2' tokenize, '3' detokenize,
// modulo 4); the rest is the HTTP body.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "chat/chat_template.h"
#include "serve/openai_request.h"

namespace {

using namespace tessera;
using namespace tessera::serve;

constexpr RequestLimits kLimits;

void check_rejection(const Status& status) {
  TS_CHECK(!status.ok(), "a failed parse with an ok status");
  TS_CHECK(!status.message().empty(), "a rejection without a message");
  TS_CHECK(status.code() == StatusCode::kInvalidArgument, "parse errors are kInvalidArgument, got %d: %s",
           static_cast<int>(status.code()), status.message().c_str());
  (void)error_param(status);
}

void check_sampling(const SamplingRequest& s) {
  const GenerationParams& p = s.params;
  TS_CHECK(p.n >= 1 && p.n <= kLimits.max_n, "n = %d accepted", p.n);
  TS_CHECK(p.max_tokens >= 1, "max_tokens = %d accepted", p.max_tokens);
  TS_CHECK(std::isfinite(p.temperature) && p.temperature >= 0.0f, "temperature %f accepted", p.temperature);
  TS_CHECK(std::isfinite(p.top_p) && p.top_p > 0.0f && p.top_p <= 1.0f, "top_p %f accepted", p.top_p);
  TS_CHECK(std::isfinite(p.min_p) && p.min_p >= 0.0f && p.min_p <= 1.0f, "min_p %f accepted", p.min_p);
  TS_CHECK(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0.0f, "repetition_penalty %f accepted",
           p.repetition_penalty);
  TS_CHECK(std::isfinite(p.presence_penalty) && std::isfinite(p.frequency_penalty), "non-finite penalty accepted");
  TS_CHECK(p.logprobs >= -1 && p.logprobs <= kLimits.max_logprobs, "logprobs = %d accepted", p.logprobs);
  for (int32_t id : p.stop_token_ids) TS_CHECK(id >= 0, "stop token id %d accepted", id);
  TS_CHECK(s.stop != nullptr && static_cast<int32_t>(s.stop->size()) <= kLimits.max_stop_strings,
           "%zu stop strings accepted", s.stop->size());
  for (const std::string& stop : *s.stop) {
    TS_CHECK(stop.size() <= size_t(kLimits.max_stop_string_bytes), "a %zu-byte stop string accepted", stop.size());
  }
  TS_CHECK(p.stop_token_ids.size() <= size_t(kLimits.max_stop_token_ids), "%zu stop ids accepted", p.stop_token_ids.size());
}

void fuzz_chat(std::string_view body) {
  auto request = parse_chat_request(body, kLimits);
  if (!request.ok()) return check_rejection(request.status());
  check_sampling(request->sampling);
  TS_CHECK(!request->messages.empty(), "chat without messages accepted");
  for (const char* family : {"chatml", "llama2", "llama3", "mistral", "gemma", "zephyr"}) {
    auto chat_template = ChatTemplate::from_family_name(family, "<s>", "</s>");
    TS_CHECK(chat_template.ok(), "family %s unknown", family);
    auto rendered = chat_template->render(request->messages, true);
    if (!rendered.ok()) TS_CHECK(!rendered.status().message().empty(), "render error without a message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto request = parse_completion_request(body, kLimits);
      if (!request.ok()) return check_rejection(request.status()), 0;
      check_sampling(request->sampling);
      TS_CHECK(!request->prompts.empty() && static_cast<int32_t>(request->prompts.size()) <= kLimits.max_prompts,
               "%zu prompts accepted", request->prompts.size());
      TS_CHECK(int64_t(request->prompts.size()) * request->sampling.params.n <= kLimits.max_completions,
               "%zu prompts x n = %d accepted", request->prompts.size(), request->sampling.params.n);
      for (const PromptInput& prompt : request->prompts) {
        TS_CHECK(prompt.is_tokens ? !prompt.token_ids.empty() : !prompt.text.empty(), "empty prompt accepted");
        for (int32_t id : prompt.token_ids) TS_CHECK(id >= 0, "prompt token id %d accepted", id);
      }
      break;
    }
    case 1: fuzz_chat(body); break;
    case 2: {
      auto request = parse_tokenize_request(body);
      if (!request.ok()) return check_rejection(request.status()), 0;
      break;
    }
    case 3: {
      auto request = parse_detokenize_request(body);
      if (!request.ok()) return check_rejection(request.status()), 0;
      break;
    }
  }
  return 0;
}
