// What one request may ask for, checked before any work: unsupported OpenAI fields, stop string
// and stop id sizes, prompts x n, and the response a request's tokens and logprobs can build.
#include <gtest/gtest.h>

#include "serve/openai_request.h"
#include "serve/request_budget.h"

namespace tessera::serve {
namespace {

std::string param_of(const std::string& body) {
  auto r = parse_completion_request(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? "" : error_param(r.status());
}

TEST(RequestLimits, UnsupportedOpenAiFieldsAreRefusedNamingTheField) {
  EXPECT_EQ(param_of(R"({"prompt": "a", "functions": [{"name": "f"}]})"), "functions");
  EXPECT_EQ(param_of(R"({"prompt": "a", "function_call": "auto"})"), "function_call");
  // Tools belong to chat: the completions endpoint names the field.
  EXPECT_EQ(param_of(R"({"prompt": "a", "tools": [{"type": "function", "function": {"name": "f"}}]})"), "tools");
  EXPECT_EQ(param_of(R"({"prompt": "a", "tool_choice": "auto"})"), "tool_choice");
  // logit_bias is supported since: a malformed one names the field.
  EXPECT_EQ(param_of(R"({"prompt": "a", "logit_bias": {"x": -100}})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"prompt": "a", "suffix": "end"})"), "suffix");
  EXPECT_EQ(param_of(R"({"prompt": "a", "best_of": 3})"), "best_of");
  auto chat = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{}]})");
  ASSERT_FALSE(chat.ok());
  EXPECT_EQ(error_param(chat.status()), "tools");
}

TEST(RequestLimits, FieldValuesThatAskForNothingAreAccepted) {
  auto r = parse_completion_request(R"({"prompt": "a", "n": 2, "best_of": 2, "logit_bias": {}, "suffix": "",
      "response_format": {"type": "text"}, "tools": [], "tool_choice": "none", "grammar": ""})");
  EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sampling.constraint.kind, OutputConstraint::Kind::kNone);
}

TEST(RequestLimits, LongStopStringsAndStopIdListsAreRefused) {
  const std::string long_stop(1025, 'x');
  EXPECT_EQ(param_of(R"({"prompt": "a", "stop": ")" + long_stop + R"("})"), "stop");
  EXPECT_EQ(param_of(R"({"prompt": "a", "stop": ["ok", ")" + long_stop + R"("]})"), "stop");
  std::string ids = "[1";
  for (int i = 0; i < 1024; ++i) ids += ",1";
  EXPECT_EQ(param_of(R"({"prompt": "a", "stop_token_ids": )" + ids + "]}"), "stop_token_ids");
  EXPECT_TRUE(parse_completion_request(R"({"prompt": "a", "stop": ")" + std::string(1024, 'x') + R"("})").ok());
}

TEST(RequestLimits, PromptsTimesNAboveTheLimitIsRefused) {
  EXPECT_EQ(param_of(R"({"prompt": ["a", "b", "c"], "n": 100})"), "n");
  EXPECT_TRUE(parse_completion_request(R"({"prompt": ["a", "b"], "n": 128})").ok());
}

TEST(RequestLimits, StopStringsAreSharedByEveryChoiceNotCopied) {
  auto r = parse_completion_request(R"({"prompt": "a", "stop": ["x"]})");
  ASSERT_TRUE(r.ok());
  StopStringMatcher first(r->sampling.stop), second(r->sampling.stop);
  EXPECT_EQ(r->sampling.stop.use_count(), 3);
  EXPECT_EQ(first.push("abxc"), "ab");
}

GenerationJob job_with(int32_t num_prompts, int32_t n, int32_t max_tokens, int32_t logprobs) {
  GenerationJob job;
  job.prompts.assign(size_t(num_prompts), std::vector<int32_t>{1, 2});
  job.sampling.params.n = n;
  job.sampling.params.max_tokens = max_tokens;
  job.sampling.params.logprobs = logprobs;
  return job;
}

TEST(RequestBudget, AResponseThatWouldBeHugeIsRefusedBeforeAnyWork) {
  // The issue's 118-byte request: 4 prompts x n=128, 500 tokens, logprobs 20 (a 146 MB response).
  const Status s = check_request_budget(job_with(4, 64, 500, 20), RequestLimits{}, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(error_param(s), "logprobs");
  EXPECT_EQ(error_param(check_request_budget(job_with(2, 128, 100000, -1), RequestLimits{}, 0)), "max_tokens");
  EXPECT_TRUE(check_request_budget(job_with(1, 1, 4096, 20), RequestLimits{}, 0).ok());
  EXPECT_TRUE(check_request_budget(job_with(1, 8, 32768, -1), RequestLimits{}, 0).ok());
}

TEST(RequestBudget, MoreCompletionsThanTheQueueHoldsCanNeverFit) {
  const Status s = check_request_budget(job_with(4, 8, 16, -1), RequestLimits{}, 16);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(error_param(s), "n");
  EXPECT_TRUE(check_request_budget(job_with(2, 8, 16, -1), RequestLimits{}, 16).ok());
  EXPECT_TRUE(check_request_budget(job_with(4, 8, 16, -1), RequestLimits{}, 0).ok()) << "0: no queue limit";
}

}  // namespace
}  // namespace tessera::serve
