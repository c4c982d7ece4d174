#include "serve/request_budget.h"

#include <string>

namespace tessera::serve {
namespace {

constexpr int64_t kTextBytesPerToken = 8;       // a token's text, JSON-escaped, on average
constexpr int64_t kLogprobEntryBytes = 40;      // {"piece": -1.2345678} / {"token", "logprob", "bytes"}

}  // namespace

int64_t estimate_response_bytes(int64_t num_completions, int32_t max_tokens, int32_t logprobs) {
  const int64_t per_token = kTextBytesPerToken + (logprobs >= 0 ? kLogprobEntryBytes * (1 + int64_t(logprobs)) : 0);
  return num_completions * int64_t(max_tokens) * per_token;  // < 2^8 * 2^31 * 2^10: no overflow
}

Status check_request_budget(const GenerationJob& job, const RequestLimits& limits, int32_t max_waiting_requests) {
  const GenerationParams& params = job.sampling.params;
  const int64_t num_completions = int64_t(job.prompts.size()) * params.n;
  if (max_waiting_requests > 0 && num_completions > max_waiting_requests) {
    return invalid_argument("'n' This request asks for " + std::to_string(num_completions) +
                            " completions (prompts x n) but the server queues at most " +
                            std::to_string(max_waiting_requests) + "; it can never be admitted.");
  }
  const int64_t bytes = estimate_response_bytes(num_completions, params.max_tokens, params.logprobs);
  if (bytes > limits.max_response_bytes) {
    const char* param = params.logprobs >= 0 ? "logprobs" : "max_tokens";
    return invalid_argument("'" + std::string(param) + "' This request's response could reach about " +
                            std::to_string(bytes >> 20) + " MiB (" + std::to_string(num_completions) +
                            " completions x " + std::to_string(params.max_tokens) + " tokens" +
                            (params.logprobs >= 0 ? " x " + std::to_string(params.logprobs + 1) + " logprobs" : "") +
                            "), above the server's limit of " + std::to_string(limits.max_response_bytes >> 20) +
                            " MiB; ask for fewer tokens, completions or logprobs.");
  }
  return Status();
}

}  // namespace tessera::serve
