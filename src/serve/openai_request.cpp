#include "serve/openai_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <string_view>
#include <limits>
#include <nlohmann/json.hpp>

namespace tessera::serve {
namespace {

// ordered_json: objects keep the order the client wrote (a JSON schema's properties come out in that
// order; tools reach the chat template as sent).
using json = nlohmann::ordered_json;

Status bad(std::string_view field, const std::string& problem) {
  return invalid_argument("'" + std::string(field) + "' " + problem);
}

Expected<json> parse_object(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid_argument("the request body is not valid JSON");
  if (!doc.is_object()) return invalid_argument("the request body must be a JSON object");
  return doc;
}

// Fields present with JSON null count as absent, as the OpenAI API treats them.
const json* field(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it == doc.end() || it->is_null() ? nullptr : &*it;
}

Status read_bool(const json& doc, const char* name, bool* out) {
  const json* v = field(doc, name);
  if (v == nullptr) return Status();
  if (!v->is_boolean()) return bad(name, "must be a boolean");
  *out = v->get<bool>();
  return Status();
}

Status read_string(const json& doc, const char* name, std::string* out) {
  const json* v = field(doc, name);
  if (v == nullptr) return Status();
  if (!v->is_string()) return bad(name, "must be a string");
  *out = v->get<std::string>();
  return Status();
}

// A number within [lo, hi]; `*present` (optional) tells whether it was given.
Status read_float(const json& doc, const char* name, double lo, double hi, float* out) {
  const json* v = field(doc, name);
  if (v == nullptr) return Status();
  if (!v->is_number()) return bad(name, "must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    return bad(name, "must be between " + json(lo).dump() + " and " + json(hi).dump() + ", got " + v->dump());
  }
  *out = static_cast<float>(x);
  return Status();
}

Status read_int(const json& doc, const char* name, int64_t lo, int64_t hi, int64_t* out, bool* present = nullptr) {
  const json* v = field(doc, name);
  if (v == nullptr) return Status();
  // 3.0 is accepted as 3 (some clients send floats); 3.5 is not.
  if (!v->is_number()) return bad(name, "must be an integer");
  if (v->is_number_float()) {
    const double x = v->get<double>();
    if (!(std::floor(x) == x) || !(x >= double(lo) && x <= double(hi))) {
      return bad(name, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    *out = static_cast<int64_t>(x);
  } else if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
    return bad(name, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  } else {
    *out = v->get<int64_t>();
  }
  if (*out < lo || *out > hi) {
    return bad(name, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi) +
                         ", got " + std::to_string(*out));
  }
  if (present != nullptr) *present = true;
  return Status();
}

Status read_int32(const json& doc, const char* name, int64_t lo, int64_t hi, int32_t* out, bool* present = nullptr) {
  int64_t value = *out;
  TS_RETURN_IF_ERROR(read_int(doc, name, lo, hi, &value, present));
  *out = static_cast<int32_t>(value);
  return Status();
}

Status read_stop(const json& doc, const RequestLimits& limits, std::vector<std::string>* out) {
  const json* v = field(doc, "stop");
  if (v == nullptr) return Status();
  auto take = [&](const json& s) -> Status {
    if (!s.is_string()) return bad("stop", "must be a string or a list of strings");
    const std::string& text = s.get_ref<const std::string&>();
    if (text.size() > size_t(limits.max_stop_string_bytes)) {
      return bad("stop", "strings may be at most " + std::to_string(limits.max_stop_string_bytes) + " bytes long");
    }
    if (!text.empty()) out->push_back(text);
    return Status();
  };
  if (v->is_string()) return take(*v);
  if (!v->is_array()) return bad("stop", "must be a string or a list of strings");
  if (v->size() > size_t(limits.max_stop_strings)) {
    return bad("stop", "may hold at most " + std::to_string(limits.max_stop_strings) + " strings");
  }
  for (const json& s : *v) TS_RETURN_IF_ERROR(take(s));
  return Status();
}

// OpenAI fields Tessera does not implement: a 400 naming the field beats a 200 that silently
// ignores it. Values that ask for nothing (the defaults some clients always send) pass.
Status reject_unsupported(const json& doc, int32_t n) {
  auto asks_for_something = [&](const char* name) {
    const json* v = field(doc, name);
    if (v == nullptr) return false;
    if (std::string_view(name) == "best_of") return !(v->is_number_integer() && (*v == 1 || *v == n));
    if (std::string_view(name) == "function_call") return *v != "none";
    return !(v->empty() || (v->is_string() && v->get_ref<const std::string&>().empty()));
  };
  for (const char* name : {"functions", "function_call", "suffix", "best_of"}) {
    if (asks_for_something(name)) return bad(name, "is not supported by this server");
  }
  return Status();
}

// The one structured-output field a request may carry; `*out` stays kNone when there is none.
Status read_constraint(const json& doc, const RequestLimits& limits, OutputConstraint* out) {
  int32_t num_given = 0;
  auto take = [&](const char* name, OutputConstraint::Kind kind, std::string source) {
    ++num_given;
    out->kind = kind;
    out->source = std::move(source);
    out->param = name;
  };
  if (const json* format = field(doc, "response_format")) {
    if (!format->is_object()) return bad("response_format", "must be an object");
    const json* type = field(*format, "type");
    if (type == nullptr || !type->is_string()) return bad("response_format", "needs a string 'type'");
    const std::string& kind = type->get_ref<const std::string&>();
    if (kind == "json_schema") {
      const json* spec = field(*format, "json_schema");
      if (spec == nullptr || !spec->is_object()) return bad("response_format", "'json_schema' must be an object");
      const json* schema = field(*spec, "schema");
      if (schema != nullptr && !schema->is_object() && !schema->is_boolean()) {
        return bad("response_format", "'json_schema.schema' must be a JSON schema object");
      }
      if (const json* strict = field(*spec, "strict"); strict != nullptr && !strict->is_boolean()) {
        return bad("response_format", "'json_schema.strict' must be a boolean");
      }
      // NOTE: strict or not, the schema is enforced: a guarantee costs nothing more here.
      if (schema == nullptr) {
        take("response_format", OutputConstraint::Kind::kJsonObject, "");
      } else {
        take("response_format", OutputConstraint::Kind::kJsonSchema, schema->dump());
      }
    } else if (kind == "json_object") {
      // llama.cpp also accepts {"type": "json_object", "schema": {...}}.
      const json* schema = field(*format, "schema");
      if (schema != nullptr && !schema->is_object()) return bad("response_format", "'schema' must be an object");
      if (schema != nullptr) {
        take("response_format", OutputConstraint::Kind::kJsonSchema, schema->dump());
      } else {
        take("response_format", OutputConstraint::Kind::kJsonObject, "");
      }
    } else if (kind != "text") {
      return bad("response_format", "'type' must be 'text', 'json_object' or 'json_schema', got '" + kind + "'");
    }
  }
  for (const char* name : {"json_schema", "guided_json"}) {
    const json* schema = field(doc, name);
    if (schema == nullptr) continue;
    if (schema->is_string()) {  // vLLM accepts the schema as JSON text too
      json parsed = json::parse(schema->get_ref<const std::string&>(), nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_object()) return bad(name, "must be a JSON schema object");
      take(name, OutputConstraint::Kind::kJsonSchema, parsed.dump());
    } else if (schema->is_object()) {
      take(name, OutputConstraint::Kind::kJsonSchema, schema->dump());
    } else {
      return bad(name, "must be a JSON schema object");
    }
  }
  for (const auto& [name, kind] : {std::pair{"grammar", OutputConstraint::Kind::kGbnf},
                                   std::pair{"guided_grammar", OutputConstraint::Kind::kGbnf},
                                   std::pair{"guided_regex", OutputConstraint::Kind::kRegex}}) {
    const json* text = field(doc, name);
    if (text == nullptr) continue;
    if (!text->is_string()) return bad(name, "must be a string");
    if (text->get_ref<const std::string&>().empty()) continue;  // llama.cpp's clients send "" for none
    take(name, kind, text->get<std::string>());
  }
  if (const json* choices = field(doc, "guided_choice")) {
    if (!choices->is_array() || choices->empty()) return bad("guided_choice", "must be a non-empty list of strings");
    if (choices->size() > size_t(limits.max_guided_choices)) {
      return bad("guided_choice", "may hold at most " + std::to_string(limits.max_guided_choices) + " strings");
    }
    for (const json& c : *choices) {
      if (!c.is_string() || c.get_ref<const std::string&>().empty()) {
        return bad("guided_choice", "must be a list of non-empty strings");
      }
      out->choices.push_back(c.get<std::string>());
    }
    take("guided_choice", OutputConstraint::Kind::kChoice, "");
  }
  if (num_given > 1) {
    return bad(out->param, "cannot be combined with another structured-output field (response_format, grammar, "
                           "json_schema, guided_json, guided_regex, guided_grammar, guided_choice)");
  }
  return Status();
}

// `tools`, `tool_choice`, `parallel_tool_calls`: validated as OpenAI does (a function needs a
// name; its parameters must be a JSON schema object; a named choice must name a given tool).
Status read_tools(const json& doc, const RequestLimits& limits, ToolRequest* out) {
  if (const json* tools = field(doc, "tools")) {
    if (!tools->is_array()) return bad("tools", "must be a list of tools");
    if (tools->size() > size_t(limits.max_tools)) {
      return bad("tools", "may hold at most " + std::to_string(limits.max_tools) + " tools");
    }
    for (const json& tool : *tools) {
      if (!tool.is_object() || tool.value("type", "") != "function") {
        return bad("tools", "each tool must be an object with \"type\": \"function\"");
      }
      const json* function = field(tool, "function");
      if (function == nullptr || !function->is_object()) return bad("tools", "each tool needs a 'function' object");
      const json* name = field(*function, "name");
      if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
        return bad("tools", "each function needs a non-empty string 'name'");
      }
      ToolDefinition definition;
      definition.name = name->get<std::string>();
      for (const ToolDefinition& other : out->tools) {
        if (other.name == definition.name) return bad("tools", "function '" + definition.name + "' is given twice");
      }
      if (const json* description = field(*function, "description")) {
        if (!description->is_string()) return bad("tools", "a function's 'description' must be a string");
        definition.description = description->get<std::string>();
      }
      if (const json* parameters = field(*function, "parameters")) {
        if (!parameters->is_object()) {
          return bad("tools", "the 'parameters' of function '" + definition.name + "' must be a JSON schema object");
        }
        if (const json* type = field(*parameters, "type"); type != nullptr && *type != "object") {
          return bad("tools", "the 'parameters' of function '" + definition.name + "' must have \"type\": \"object\"");
        }
        definition.parameters_json = parameters->dump();
      }
      out->tools.push_back(std::move(definition));
    }
    if (!tools->empty()) out->tools_json = tools->dump();
  }
  if (const json* choice = field(doc, "tool_choice")) {
    if (choice->is_string()) {
      const std::string& c = choice->get_ref<const std::string&>();
      if (c == "none") {
        out->choice = ToolChoice::kNone;
      } else if (c == "auto") {
        out->choice = ToolChoice::kAuto;
      } else if (c == "required") {
        out->choice = ToolChoice::kRequired;
      } else {
        return bad("tool_choice", "must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}");
      }
    } else if (choice->is_object()) {
      const json* function = field(*choice, "function");
      const json* name = function != nullptr && function->is_object() ? field(*function, "name") : nullptr;
      if (choice->value("type", "") != "function" || name == nullptr || !name->is_string()) {
        return bad("tool_choice", "must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}");
      }
      out->choice = ToolChoice::kNamed;
      out->named_function = name->get<std::string>();
      const bool known = std::any_of(out->tools.begin(), out->tools.end(),
                                     [&](const ToolDefinition& t) { return t.name == out->named_function; });
      if (!known) return bad("tool_choice", "names function '" + out->named_function + "', which is not in 'tools'");
    } else {
      return bad("tool_choice", "must be a string or an object");
    }
    if ((out->choice == ToolChoice::kRequired || out->choice == ToolChoice::kNamed) && out->tools.empty()) {
      return bad("tool_choice", "requires 'tools'");
    }
  }
  TS_RETURN_IF_ERROR(read_bool(doc, "parallel_tool_calls", &out->parallel));
  return Status();
}

Status read_token_ids(const json& list, const char* name, std::vector<int32_t>* out) {
  for (const json& id : list) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return bad(name, "token ids must be non-negative integers");
    }
    out->push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return Status();
}

// Fields common to completions and chat. `logprobs` differs between the two and is read by each.
Status read_sampling(const json& doc, const RequestLimits& limits, SamplingRequest* r) {
  GenerationParams& p = r->params;
  p.temperature = 1.0f;  // OpenAI's defaults, not llama.cpp's
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repetition_penalty = 1.0f;
  p.repetition_last_n = -1;
  TS_RETURN_IF_ERROR(read_string(doc, "model", &r->model));
  TS_RETURN_IF_ERROR(read_int32(doc, "n", 1, limits.max_n, &p.n));
  TS_RETURN_IF_ERROR(read_int32(doc, "max_tokens", 1, std::numeric_limits<int32_t>::max(), &p.max_tokens, &r->max_tokens_given));
  TS_RETURN_IF_ERROR(read_int32(doc, "max_completion_tokens", 1, std::numeric_limits<int32_t>::max(), &p.max_tokens,
                                &r->max_tokens_given));
  TS_RETURN_IF_ERROR(read_float(doc, "temperature", 0.0, 2.0, &p.temperature));
  TS_RETURN_IF_ERROR(read_float(doc, "top_p", 0.0, 1.0, &p.top_p));
  if (field(doc, "top_p") != nullptr && !(p.top_p > 0.0f)) return bad("top_p", "must be greater than 0");
  TS_RETURN_IF_ERROR(read_int32(doc, "top_k", -1, std::numeric_limits<int32_t>::max(), &p.top_k));
  TS_RETURN_IF_ERROR(read_float(doc, "min_p", 0.0, 1.0, &p.min_p));
  TS_RETURN_IF_ERROR(read_float(doc, "presence_penalty", -2.0, 2.0, &p.presence_penalty));
  TS_RETURN_IF_ERROR(read_float(doc, "frequency_penalty", -2.0, 2.0, &p.frequency_penalty));
  TS_RETURN_IF_ERROR(read_float(doc, "repetition_penalty", 0.0, 2.0, &p.repetition_penalty));
  if (!(p.repetition_penalty > 0.0f)) return bad("repetition_penalty", "must be greater than 0");
  TS_RETURN_IF_ERROR(read_bool(doc, "ignore_eos", &p.ignore_eos));
  int64_t seed = -1;
  bool seed_given = false;
  TS_RETURN_IF_ERROR(read_int(doc, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &seed, &seed_given));
  // NOTE: 0xFFFFFFFF is the engine's "random" marker; that one seed value is nudged to keep it fixed.
  if (seed_given) p.seed = static_cast<uint64_t>(seed) == 0xFFFFFFFFu ? 0xFFFFFFFEu : static_cast<uint64_t>(seed);
  std::vector<std::string> stop;
  TS_RETURN_IF_ERROR(read_stop(doc, limits, &stop));
  r->stop = std::make_shared<const std::vector<std::string>>(std::move(stop));
  if (const json* ids = field(doc, "stop_token_ids")) {
    if (!ids->is_array()) return bad("stop_token_ids", "must be a list of token ids");
    if (ids->size() > size_t(limits.max_stop_token_ids)) {
      return bad("stop_token_ids", "may hold at most " + std::to_string(limits.max_stop_token_ids) + " ids");
    }
    TS_RETURN_IF_ERROR(read_token_ids(*ids, "stop_token_ids", &p.stop_token_ids));
  }
  if (const json* bias = field(doc, "logit_bias"); bias != nullptr && !bias->is_null()) {
    // {"<token id>": bias, ...}, as OpenAI; ids are checked against the vocabulary by the engine.
    if (!bias->is_object()) return bad("logit_bias", "must map token ids (as strings) to numbers");
    if (bias->size() > size_t(limits.max_stop_token_ids)) {
      return bad("logit_bias", "may hold at most " + std::to_string(limits.max_stop_token_ids) + " tokens");
    }
    for (const auto& [key, value] : bias->items()) {
      int32_t id = -1;
      const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), id);
      if (error != std::errc() || end != key.data() + key.size() || id < 0) {
        return bad("logit_bias", "key '" + key + "' is not a token id");
      }
      if (!value.is_number() || !(value.get<double>() >= -100.0 && value.get<double>() <= 100.0)) {
        return bad("logit_bias", "values must be numbers in [-100, 100]");
      }
      p.logit_bias.emplace_back(id, value.get<float>());
    }
  }
  TS_RETURN_IF_ERROR(read_bool(doc, "stream", &r->stream));
  if (const json* options = field(doc, "stream_options")) {
    if (!r->stream) return bad("stream_options", "is only allowed when 'stream' is true");
    if (!options->is_object()) return bad("stream_options", "must be an object");
    TS_RETURN_IF_ERROR(read_bool(*options, "include_usage", &r->include_usage));
  }
  TS_RETURN_IF_ERROR(read_constraint(doc, limits, &r->constraint));
  return reject_unsupported(doc, p.n);
}

Status read_prompt(const json& doc, int32_t max_prompts, std::vector<PromptInput>* out) {
  const json* v = field(doc, "prompt");
  if (v == nullptr) return bad("prompt", "is required");
  auto from_ids = [&](const json& list) -> Status {
    PromptInput input;
    input.is_tokens = true;
    TS_RETURN_IF_ERROR(read_token_ids(list, "prompt", &input.token_ids));
    if (input.token_ids.empty()) return bad("prompt", "must not be empty");
    out->push_back(std::move(input));
    return Status();
  };
  if (v->is_string()) {
    out->push_back({v->get<std::string>(), {}, false});
  } else if (!v->is_array() || v->empty()) {
    return bad("prompt", "must be a string, a list of strings, a list of token ids or a list of such lists");
  } else if ((*v)[0].is_number()) {
    TS_RETURN_IF_ERROR(from_ids(*v));
  } else {
    if (v->size() > size_t(max_prompts)) return bad("prompt", "may hold at most " + std::to_string(max_prompts) + " prompts");
    for (const json& item : *v) {
      if (item.is_string()) {
        out->push_back({item.get<std::string>(), {}, false});
      } else if (item.is_array()) {
        TS_RETURN_IF_ERROR(from_ids(item));
      } else {
        return bad("prompt", "must be a string, a list of strings, a list of token ids or a list of such lists");
      }
    }
  }
  for (const PromptInput& p : *out) {
    if (!p.is_tokens && p.text.empty()) return bad("prompt", "must not be empty");
  }
  return Status();
}

// An assistant message's `tool_calls` and a tool message's `tool_call_id` / `name`. Arguments are
// OpenAI's JSON text; an object (some clients send one) is taken as its JSON text.
Status read_message_tool_fields(const json& m, ChatMessage* message) {
  if (const json* calls = field(m, "tool_calls")) {
    if (!calls->is_array()) return bad("messages", "'tool_calls' must be a list");
    for (const json& call : *calls) {
      const json* function = call.is_object() ? field(call, "function") : nullptr;
      const json* name = function != nullptr && function->is_object() ? field(*function, "name") : nullptr;
      if (name == nullptr || !name->is_string()) return bad("messages", "each tool call needs a 'function' with a string 'name'");
      ChatToolCall parsed;
      parsed.name = name->get<std::string>();
      if (const json* id = field(call, "id")) {
        if (!id->is_string()) return bad("messages", "a tool call's 'id' must be a string");
        parsed.id = id->get<std::string>();
      }
      if (const json* arguments = field(*function, "arguments")) {
        parsed.arguments = arguments->is_string() ? arguments->get<std::string>() : arguments->dump();
      } else {
        parsed.arguments = "{}";
      }
      message->tool_calls.push_back(std::move(parsed));
    }
  }
  for (const auto& [name, target] : {std::pair{"tool_call_id", &message->tool_call_id}, std::pair{"name", &message->name}}) {
    if (const json* v = field(m, name)) {
      if (!v->is_string()) return bad("messages", std::string("'") + name + "' must be a string");
      *target = v->get<std::string>();
    }
  }
  return Status();
}

// content: a string, or a list of parts of which the {"type": "text"} ones are joined.
Status read_messages(const json& doc, std::vector<ChatMessage>* out) {
  const json* v = field(doc, "messages");
  if (v == nullptr) return bad("messages", "is required");
  if (!v->is_array() || v->empty()) return bad("messages", "must be a non-empty list");
  for (const json& m : *v) {
    if (!m.is_object()) return bad("messages", "each message must be an object");
    ChatMessage message;
    const json* role = field(m, "role");
    if (role == nullptr || !role->is_string()) return bad("messages", "each message needs a string 'role'");
    message.role = role->get<std::string>();
    // OpenAI's roles (vLLM rejects others too); a template would otherwise render any string.
    constexpr std::string_view kRoles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    if (std::find(std::begin(kRoles), std::end(kRoles), message.role) == std::end(kRoles)) {
      return bad("messages", "unknown role '" + message.role + "' (system, developer, user, assistant, tool)");
    }
    if (const json* content = field(m, "content")) {
      if (content->is_string()) {
        message.content = content->get<std::string>();
      } else if (content->is_array()) {
        for (const json& part : *content) {
          const json* type = part.is_object() ? field(part, "type") : nullptr;
          const json* text = part.is_object() ? field(part, "text") : nullptr;
          if (type == nullptr || *type != "text" || text == nullptr || !text->is_string()) {
            return bad("messages", "only text content parts are supported");
          }
          message.content += text->get<std::string>();
        }
      } else {
        return bad("messages", "'content' must be a string or a list of text parts");
      }
    }
    TS_RETURN_IF_ERROR(read_message_tool_fields(m, &message));
    out->push_back(std::move(message));
  }
  return Status();
}

}  // namespace

Expected<CompletionRequest> parse_completion_request(std::string_view body, const RequestLimits& limits) {
  TS_ASSIGN_OR_RETURN(const json doc, parse_object(body));
  CompletionRequest r;
  TS_RETURN_IF_ERROR(read_sampling(doc, limits, &r.sampling));
  TS_RETURN_IF_ERROR(read_prompt(doc, limits.max_prompts, &r.prompts));
  if (int64_t(r.prompts.size()) * r.sampling.params.n > limits.max_completions) {
    return bad("n", "times the number of prompts may be at most " + std::to_string(limits.max_completions) + ", got " +
                        std::to_string(r.prompts.size()) + " prompts x n = " + std::to_string(r.sampling.params.n));
  }
  TS_RETURN_IF_ERROR(read_bool(doc, "echo", &r.echo));
  int32_t logprobs = -1;
  TS_RETURN_IF_ERROR(read_int32(doc, "logprobs", 0, limits.max_logprobs, &logprobs, &r.sampling.want_logprobs));
  r.sampling.params.logprobs = logprobs;
  for (const char* name : {"tools", "tool_choice"}) {
    const json* v = field(doc, name);
    if (v != nullptr && !(v->empty() || *v == "none")) return bad(name, "is only supported by /v1/chat/completions");
  }
  if (!r.sampling.max_tokens_given) r.sampling.params.max_tokens = 16;  // OpenAI's completions default
  return r;
}

Expected<ChatRequest> parse_chat_request(std::string_view body, const RequestLimits& limits) {
  TS_ASSIGN_OR_RETURN(const json doc, parse_object(body));
  ChatRequest r;
  TS_RETURN_IF_ERROR(read_sampling(doc, limits, &r.sampling));
  TS_RETURN_IF_ERROR(read_messages(doc, &r.messages));
  TS_RETURN_IF_ERROR(read_bool(doc, "logprobs", &r.sampling.want_logprobs));
  int32_t top_logprobs = 0;
  bool top_given = false;
  TS_RETURN_IF_ERROR(read_int32(doc, "top_logprobs", 0, limits.max_logprobs, &top_logprobs, &top_given));
  if (top_given && !r.sampling.want_logprobs) return bad("top_logprobs", "requires 'logprobs' to be true");
  r.sampling.params.logprobs = r.sampling.want_logprobs ? top_logprobs : -1;
  TS_RETURN_IF_ERROR(read_tools(doc, limits, &r.tools));
  if (r.tools.forced() && r.sampling.constraint.kind != OutputConstraint::Kind::kNone) {
    return bad(r.sampling.constraint.param, "cannot be combined with a tool_choice that forces a tool call");
  }
  return r;
}

Expected<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  TS_ASSIGN_OR_RETURN(const json doc, parse_object(body));
  TokenizeRequest r;
  TS_RETURN_IF_ERROR(read_string(doc, "model", &r.model));
  TS_RETURN_IF_ERROR(read_bool(doc, "add_special_tokens", &r.add_special_tokens));
  if (const json* prompt = field(doc, "prompt")) {
    if (!prompt->is_string()) return bad("prompt", "must be a string");
    r.prompt = prompt->get<std::string>();
  } else if (field(doc, "messages") != nullptr) {
    TS_RETURN_IF_ERROR(read_messages(doc, &r.messages));
  } else {
    return bad("prompt", "or 'messages' is required");
  }
  return r;
}

Expected<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  TS_ASSIGN_OR_RETURN(const json doc, parse_object(body));
  DetokenizeRequest r;
  TS_RETURN_IF_ERROR(read_string(doc, "model", &r.model));
  const json* tokens = field(doc, "tokens");
  if (tokens == nullptr || !tokens->is_array()) return bad("tokens", "must be a list of token ids");
  TS_RETURN_IF_ERROR(read_token_ids(*tokens, "tokens", &r.tokens));
  return r;
}

std::string error_param(const Status& status) {
  const std::string& m = status.message();
  if (m.size() < 2 || m[0] != '\'') return "";
  const size_t end = m.find('\'', 1);
  return end == std::string::npos ? "" : m.substr(1, end - 1);
}

}  // namespace tessera::serve
