// OpenAI request bodies -> plain structs: JSON parsing and validation of /v1/completions,
// /v1/chat/completions, /tokenize and /detokenize. Pure functions, no networking or engine:
// every malformed body or out-of-range field is an kInvalidArgument Status whose message starts
// with the offending field in quotes ('temperature' ...), which becomes the error's `param`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/chat_template.h"
#include "tessera/sampling_params.h"

namespace tessera::serve {

// One prompt: text to tokenize, or token ids given by the client.
struct PromptInput {
  std::string text;                // used when !is_tokens
  std::vector<int32_t> token_ids;  // used when is_tokens
  bool is_tokens = false;
};

// What a request constrains its output to: OpenAI's `response_format`, llama.cpp's `grammar` and
// `json_schema`, vLLM's `guided_json` / `guided_regex` / `guided_grammar` / `guided_choice`. At
// most one per request; compiled against the vocabulary by the server (structured_output.h).
struct OutputConstraint {
  enum class Kind { kNone, kJsonObject, kJsonSchema, kGbnf, kRegex, kChoice };
  Kind kind = Kind::kNone;
  std::string source;                 // kJsonSchema: the schema as compact JSON; kGbnf: the grammar; kRegex: the pattern
  std::vector<std::string> choices;   // kChoice: the output is exactly one of these
  std::string param;                  // the request field it came from (error messages name it)
};

// One entry of OpenAI's `tools` (type "function").
struct ToolDefinition {
  std::string name;
  std::string description;
  std::string parameters_json = "{}";  // the JSON schema of the arguments, compact; {} = any object
};

enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

// OpenAI's `tools`, `tool_choice` and `parallel_tool_calls` (chat only).
struct ToolRequest {
  std::vector<ToolDefinition> tools;
  std::string tools_json;          // the `tools` array as sent, compact, for the chat template ("" = none)
  ToolChoice choice = ToolChoice::kAuto;
  std::string named_function;      // kNamed: the function that must be called
  bool parallel = true;            // more than one call per reply allowed
  // Tools are offered to the model (rendered into the prompt, calls parsed out of the reply).
  bool active() const { return !tools.empty() && choice != ToolChoice::kNone; }
  // The grammar forces a call (tool_choice "required" or a named function), as vLLM does.
  bool forced() const { return active() && (choice == ToolChoice::kRequired || choice == ToolChoice::kNamed); }
};

// Fields shared by completions and chat.
struct SamplingRequest {
  std::string model;                   // "" when absent (then any served model is fine)
  GenerationParams params;             // OpenAI defaults: temperature 1, top_p 1, no top-k/min-p
  bool max_tokens_given = false;       // false: completions use 16, chat the rest of the context
  // Stop strings, never shown in the output. Shared, not copied, by the request's every choice.
  std::shared_ptr<const std::vector<std::string>> stop = std::make_shared<const std::vector<std::string>>();
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  bool want_logprobs = false;          // completions: logprobs given; chat: logprobs true
  OutputConstraint constraint;         // structured output, if asked for
};

struct CompletionRequest {
  SamplingRequest sampling;
  std::vector<PromptInput> prompts;  // >= 1; choices of prompt p are indices p*n .. p*n+n-1
  bool echo = false;                 // prepend the prompt text to each choice
};

struct ChatRequest {
  SamplingRequest sampling;
  std::vector<ChatMessage> messages;  // >= 1
  ToolRequest tools;
};

// POST /tokenize: {"prompt": "..."} or {"messages": [...]}; add_special_tokens defaults to true.
struct TokenizeRequest {
  std::string model;
  std::optional<std::string> prompt;
  std::vector<ChatMessage> messages;  // used when prompt is absent
  bool add_special_tokens = true;
};

// POST /detokenize: {"tokens": [ids]}.
struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

// Bounds a server sets on what one request may ask for. The parsers check the per-field ones;
// the server checks max_completions and max_response_bytes once prompts are tokenized
// (request_budget.h). Every one is listed in docs/robustness.md.
struct RequestLimits {
  int32_t max_n = 128;                    // completions per prompt
  int32_t max_logprobs = 20;              // logprobs (completions) / top_logprobs (chat)
  int32_t max_prompts = 64;               // prompts in one completions request
  int32_t max_stop_strings = 16;
  int32_t max_stop_string_bytes = 1024;   // each stop string; the matcher holds back up to this much
  int32_t max_stop_token_ids = 1024;      // stop_token_ids entries
  int32_t max_tools = 128;                // entries of `tools`
  int32_t max_guided_choices = 1024;      // entries of `guided_choice`
  int32_t max_completions = 256;          // prompts x n in one request
  int64_t max_response_bytes = 32 << 20;  // estimated JSON of every choice (request_budget.h)
};

Expected<CompletionRequest> parse_completion_request(std::string_view body, const RequestLimits& limits = {});
Expected<ChatRequest> parse_chat_request(std::string_view body, const RequestLimits& limits = {});
Expected<TokenizeRequest> parse_tokenize_request(std::string_view body);
Expected<DetokenizeRequest> parse_detokenize_request(std::string_view body);

// The field a parse error names ("temperature" for "'temperature' must be ..."); "" when none.
std::string error_param(const Status& status);

}  // namespace tessera::serve
