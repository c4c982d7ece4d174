#include "serve/response_writer.h"

#include <random>

#include "base/timer.h"

namespace tessera::serve {
namespace {

const char* object_name(const GenerationJob& job, bool chunk) {
  if (job.chat) return chunk ? "chat.completion.chunk" : "chat.completion";
  return "text_completion";
}

// The echoed prompt of a choice (completions with echo), else "".
const std::string& echo_text(const GenerationJob& job, int32_t choice_index) {
  static const std::string kNone;
  const size_t prompt = size_t(choice_index / job.sampling.params.n);
  return prompt < job.echo_texts.size() ? job.echo_texts[prompt] : kNone;
}

Json logprobs_json(const GenerationJob& job, const std::vector<LogprobEntry>& entries, size_t first_offset) {
  if (!job.sampling.want_logprobs) return nullptr;
  return job.chat ? chat_logprobs_json(entries) : completion_logprobs_json(entries, first_offset);
}

std::string sse(const Json& chunk) { return "data: " + dump_json(chunk) + "\n\n"; }

// OpenAI reports "tool_calls" when a reply ended by calling tools (not when it ran out of tokens).
std::string tool_finish_reason(const std::string& reason, bool has_calls) {
  return has_calls && reason == "stop" ? "tool_calls" : reason;
}

// The assistant message of a finished chat choice whose text may hold tool calls.
Json tool_message_json(const GenerationJob& job, const std::string& text, bool* has_calls) {
  const ParsedAssistantMessage parsed = parse_assistant_output(job.tool_format, text, job.parse_options);
  Json message = {{"role", "assistant"}};
  *has_calls = !parsed.tool_calls.empty();
  message["content"] = parsed.content.empty() && *has_calls ? Json(nullptr) : Json(parsed.content);
  if (!parsed.reasoning_content.empty()) message["reasoning_content"] = parsed.reasoning_content;
  if (*has_calls) {
    Json calls = Json::array();
    for (const ParsedToolCall& call : parsed.tool_calls) {
      if (!job.parallel_tool_calls && !calls.empty()) break;
      calls.push_back({{"id", new_tool_call_id()},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  return message;
}

}  // namespace

std::string new_tool_call_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return id;
}

Json collect_response(GenerationSession& session, const GenerationJob& job, const ResponseIds& ids) {
  while (!session.done()) session.poll(std::chrono::milliseconds(100));
  return response_body(session, job, ids);
}

Json response_body(const GenerationSession& session, const GenerationJob& job, const ResponseIds& ids) {
  Json body = response_envelope(ids.id, object_name(job, false), ids.created, job.model);
  const std::vector<ChoiceState>& choices = session.choices();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceState& c = choices[i];
    const std::string& echo = echo_text(job, int32_t(i));
    const Json logprobs = logprobs_json(job, c.logprobs(), echo.size());
    if (job.parses_output()) {
      bool has_calls = false;
      Json message = tool_message_json(job, c.text(), &has_calls);
      body["choices"].push_back({{"index", i},
                                 {"message", std::move(message)},
                                 {"logprobs", logprobs},
                                 {"finish_reason", tool_finish_reason(c.finish_reason(), has_calls)}});
    } else if (job.chat) {
      body["choices"].push_back({{"index", i},
                                 {"message", {{"role", "assistant"}, {"content", c.text()}}},
                                 {"logprobs", logprobs},
                                 {"finish_reason", c.finish_reason()}});
    } else {
      body["choices"].push_back(completion_chunk_choice(int32_t(i), echo + c.text(), logprobs, c.finish_reason()));
    }
  }
  body["usage"] = usage_json(session.prompt_tokens(), session.completion_tokens());
  return body;
}

SseEncoder::SseEncoder(const GenerationJob& job, const ResponseIds& ids, int32_t num_choices)
    : job_(job), envelope_(response_envelope(ids.id, object_name(job, true), ids.created, job.model)),
      num_choices_(num_choices), text_offset_(size_t(num_choices), 0) {
  if (job.parses_output()) {
    for (int32_t i = 0; i < num_choices; ++i) tool_parsers_.emplace_back(job.tool_format, job.parse_options);
    call_ids_.resize(size_t(num_choices));
  }
}

std::string SseEncoder::encode_with_tools(int32_t index, const ChoiceDelta& delta, const Json& logprobs) {
  StreamingToolCallParser& parser = tool_parsers_[size_t(index)];
  std::vector<ToolCallEvent> events = parser.feed(delta.text);
  if (delta.finish_reason) {
    std::vector<ToolCallEvent> rest = parser.finish();
    events.insert(events.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  }
  std::vector<std::string>& ids = call_ids_[size_t(index)];
  std::string out;
  Json pending_logprobs = logprobs;  // rides on the first chunk of this delta
  for (ToolCallEvent& e : events) {
    const bool is_call = e.kind == ToolCallEvent::Kind::kToolCallStart || e.kind == ToolCallEvent::Kind::kArguments;
    if (is_call && e.index > 0 && !job_.parallel_tool_calls) continue;
    Json d;
    switch (e.kind) {
      case ToolCallEvent::Kind::kContent: d = {{"content", std::move(e.text)}}; break;
      case ToolCallEvent::Kind::kReasoning: d = {{"reasoning_content", std::move(e.text)}}; break;
      case ToolCallEvent::Kind::kToolCallStart:
        while (ids.size() <= e.index) ids.push_back(new_tool_call_id());
        d = {{"tool_calls", Json::array({{{"index", e.index},
                                          {"id", ids[e.index]},
                                          {"type", "function"},
                                          {"function", {{"name", std::move(e.text)}, {"arguments", ""}}}}})}};
        break;
      case ToolCallEvent::Kind::kArguments:
        d = {{"tool_calls", Json::array({{{"index", e.index}, {"function", {{"arguments", std::move(e.text)}}}}})}};
        break;
    }
    out += chunk_with(chat_chunk_choice(index, std::move(d), pending_logprobs, std::nullopt));
    pending_logprobs = nullptr;
  }
  if (delta.finish_reason || !pending_logprobs.is_null()) {
    const std::optional<std::string> reason =
        delta.finish_reason ? std::optional<std::string>(tool_finish_reason(*delta.finish_reason, parser.has_tool_calls()))
                            : std::nullopt;
    out += chunk_with(chat_chunk_choice(index, Json::object(), pending_logprobs, reason));
  }
  return out;
}

std::string SseEncoder::chunk_with(Json choice) const {
  Json chunk = envelope_;
  chunk["choices"].push_back(std::move(choice));
  if (job_.sampling.include_usage) chunk["usage"] = nullptr;  // OpenAI: null on every chunk but the last
  return sse(chunk);
}

std::string SseEncoder::begin() {
  std::string out;
  for (int32_t i = 0; i < num_choices_; ++i) {
    if (job_.chat) {
      out += chunk_with(chat_chunk_choice(i, {{"role", "assistant"}, {"content", ""}}, nullptr, std::nullopt));
    } else if (!echo_text(job_, i).empty()) {
      out += chunk_with(completion_chunk_choice(i, echo_text(job_, i), nullptr, std::nullopt));
      text_offset_[size_t(i)] = echo_text(job_, i).size();
    }
  }
  return out;
}

std::string SseEncoder::encode(const std::vector<std::pair<int32_t, ChoiceDelta>>& deltas) {
  std::string out;
  for (const auto& [index, delta] : deltas) {
    if (delta.text.empty() && delta.logprobs.empty() && !delta.finish_reason) continue;
    const Json logprobs = logprobs_json(job_, delta.logprobs, text_offset_[size_t(index)]);
    for (const LogprobEntry& e : delta.logprobs) text_offset_[size_t(index)] += e.token.size();
    if (!tool_parsers_.empty()) {
      out += encode_with_tools(index, delta, logprobs);
      continue;
    }
    Json choice = job_.chat ? chat_chunk_choice(index, delta.text.empty() ? Json::object() : Json{{"content", delta.text}},
                                                logprobs, delta.finish_reason)
                            : completion_chunk_choice(index, delta.text, logprobs, delta.finish_reason);
    out += chunk_with(std::move(choice));
  }
  return out;
}

std::string SseEncoder::end(int64_t prompt_tokens, int64_t completion_tokens) {
  std::string out;
  if (job_.sampling.include_usage) {
    Json last = envelope_;
    last["usage"] = usage_json(prompt_tokens, completion_tokens);
    out = sse(last);
  }
  return out + "data: [DONE]\n\n";
}

bool stream_response(GenerationSession& session, const GenerationJob& job, const ResponseIds& ids,
                     const StreamWrite& write, const StreamOptions& options) {
  int64_t last_write_us = now_us();
  auto send = [&](const std::string& bytes) {
    if (bytes.empty()) return true;
    if (!write(bytes)) {
      session.cancel();
      return false;
    }
    last_write_us = now_us();
    return true;
  };
  SseEncoder encoder(job, ids, static_cast<int32_t>(session.choices().size()));
  if (!send(encoder.begin())) return false;
  while (!session.done()) {
    const auto deltas = session.poll(options.poll_interval);
    if (!send(encoder.encode(deltas))) return false;
    // NOTE: a quiet stream (request still queued) learns that its client left only by writing:
    // an SSE comment, which every SSE client ignores.
    if (deltas.empty() && now_us() - last_write_us >= options.heartbeat_interval.count() * 1000) {
      if (!send(": keep-alive\n\n")) return false;
    }
  }
  return send(encoder.end(session.prompt_tokens(), session.completion_tokens()));
}

}  // namespace tessera::serve
