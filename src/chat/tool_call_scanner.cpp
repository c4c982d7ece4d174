// OutputScanner: finds call regions by their markers, reads each by its format's shape (JSON
// objects, named arguments, XML parameters) with the growing-text JSON scanner, and keeps the rest
// as content. Every decision depends only on the text seen so far, never on where it was split.
#include "chat/tool_call_scanner.h"

#include <algorithm>

#include "chat/json_scan.h"

namespace tessera::chat {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr size_t kMaxNameBytes = 256;  // a longer "name" is not a call
constexpr size_t kMaxGapBytes = 64;    // text skipped between a name and its arguments (call ids)
constexpr int kMaxCallNesting = 2;     // generic's {"tool_calls": [ {call} ]}

bool starts_with_at(std::string_view text, size_t pos, std::string_view s) {
  return pos <= text.size() && text.substr(pos).starts_with(s);
}

// True when text[pos:] is a proper prefix of s (more text may complete it).
bool could_become(std::string_view text, size_t pos, std::string_view s) {
  const std::string_view rest = text.substr(std::min(pos, text.size()));
  return rest.size() < s.size() && s.starts_with(rest);
}

// The longest k < s.size() with text[pos:] ending in s[0:k].
size_t partial_suffix(std::string_view text, size_t pos, std::string_view s) {
  const size_t avail = text.size() - std::min(pos, text.size());
  for (size_t k = std::min(avail, s.size() - 1); k > 0; --k) {
    if (text.substr(text.size() - k) == s.substr(0, k)) return k;
  }
  return 0;
}

// text.find(needle, from) for matches that start at most `window` bytes after `from`: bounded
// searches keep a stream's re-scan of an open call from reading the whole output again.
size_t find_within(std::string_view text, std::string_view needle, size_t from, size_t window) {
  const size_t limit = window >= text.size() ? text.size() : std::min(text.size(), from + window + needle.size());
  return text.substr(0, limit).find(needle, from);
}

// A function or parameter name: short, one word of valid UTF-8, no markup characters.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || !valid_utf8(name)) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return is_space(c) || c == '<' || c == '>' || c == '{' || c == '"' || c == '[' || c == ']';
  });
}

// A complete JSON object text (whitespace around allowed).
bool is_json_object(std::string_view text) {
  const size_t start = skip_json_ws(text, 0);
  if (start >= text.size() || text[start] != '{') return false;
  const JsonScan scan = scan_json_value(text, start);
  return scan.state == JsonState::kComplete && skip_json_ws(text, scan.end) == text.size();
}

// An XML parameter's value as JSON: valid JSON text stays JSON, anything else (or anything
// marked as a string) is a string.
void append_param_value(std::string_view value, bool is_string, std::string* out) {
  if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
  if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
  if (is_string) {
    append_json_string(value, out);
    return;
  }
  const std::string padded = std::string(value) + ' ';  // so a number at the end is complete
  const size_t start = skip_json_ws(padded, 0);
  if (start < padded.size()) {
    const JsonScan scan = scan_json_value(padded, start);
    if (scan.state == JsonState::kComplete && skip_json_ws(padded, scan.end) == padded.size()) {
      out->append(minify_json(padded.substr(start, scan.end - start)));
      return;
    }
  }
  append_json_string(value, out);
}

// After a value that ends at `pos`: an optional literal (a closer, a fence). Found: the position
// after it; absent: `pos` (forgiven); still possible: kIncomplete unless final.
JsonScan optional_literal(std::string_view text, size_t pos, std::string_view literal, bool final) {
  if (literal.empty()) return {JsonState::kComplete, pos};
  const size_t at = skip_json_ws(text, pos);
  if (starts_with_at(text, at, literal)) return {JsonState::kComplete, at + literal.size()};
  if (!final && could_become(text, at, literal)) return {JsonState::kIncomplete, 0};
  return {JsonState::kComplete, pos};
}

}  // namespace

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// One call region, or a JSON value holding calls: where it ends when complete, and its calls
// (partial while incomplete).
struct OutputScanner::Region {
  JsonState state = JsonState::kInvalid;
  size_t end = 0;
  std::vector<ScannedCall> calls;
  std::string response;  // generic's {"response": "..."}: content, not a call
  bool has_response = false;
};

namespace {

// The region (or JSON value) as far as it goes, marked with how it ended.
OutputScanner::Region ended(OutputScanner::Region& region, JsonState state) {
  region.state = state;
  return std::move(region);
}

}  // namespace

OutputScanner::OutputScanner(ToolCallFormat format, const ToolCallParseOptions& options)
    : spec_(format_spec(format)),
      phase_(!options.extract_reasoning ? Phase::kMain : options.starts_in_reasoning ? Phase::kInThink : Phase::kBeforeThink) {}

void OutputScanner::scan(std::string_view text, bool final) {
  calls_.resize(settled_calls_);
  std::erase_if(args_reads_, [&](const ArgsRead& r) { return r.start < pos_; });
  if (phase_ != Phase::kMain) scan_think(text, final);
  if (phase_ == Phase::kMain) scan_main(text, final);
}

void OutputScanner::scan_think(std::string_view text, bool final) {
  if (phase_ == Phase::kBeforeThink) {
    const size_t start = skip_json_ws(text, pos_);
    if (starts_with_at(text, start, kThinkOpen)) {
      pos_ = start + kThinkOpen.size();
      phase_ = Phase::kInThink;
    } else if (!final && (start >= text.size() || could_become(text, start, kThinkOpen))) {
      return;  // may still open a think block
    } else {
      phase_ = Phase::kMain;
      return;
    }
  }
  const size_t close = text.find(kThinkClose, pos_);
  if (close != std::string_view::npos) {
    reasoning_.append(text.substr(pos_, close - pos_));
    pos_ = close + kThinkClose.size();
    phase_ = Phase::kMain;
    return;
  }
  const size_t end = final ? text.size() : text.size() - partial_suffix(text, pos_, kThinkClose);
  reasoning_.append(text.substr(pos_, end - pos_));
  pos_ = end;
  if (final) phase_ = Phase::kMain;
}

size_t OutputScanner::held_back(std::string_view text, size_t pos) const {
  size_t hold = 0;
  if (!spec_.opener.empty()) hold = partial_suffix(text, pos, spec_.opener);
  for (std::string_view marker : spec_.dropped) {
    if (!marker.empty()) hold = std::max(hold, partial_suffix(text, pos, marker));
  }
  return hold;
}

void OutputScanner::scan_main(std::string_view text, bool final) {
  if (spec_.shape == CallShape::kNone) {
    content_.append(text.substr(pos_));
    pos_ = text.size();
    return;
  }
  while (pos_ < text.size()) {
    // The earliest marker: the opener, a dropped section marker, or a bare JSON value opening the output.
    size_t at = std::string_view::npos;
    size_t marker_len = 0;
    bool opens_region = false;
    bool bare = false;
    auto consider = [&](std::string_view marker, bool region) {
      if (marker.empty()) return;
      // Only a match before the best so far matters.
      const size_t found = find_within(text, marker, pos_, at == std::string_view::npos ? at : at - pos_);
      if (found < at) {
        at = found;
        marker_len = marker.size();
        opens_region = region;
      }
    };
    consider(spec_.opener, true);
    for (std::string_view marker : spec_.dropped) consider(marker, false);
    if (spec_.bare_json_at_start && !seen_output_) {
      const size_t start = skip_json_ws(text, pos_);
      if (start < text.size() && start < at && (text[start] == '{' || text[start] == '[')) {
        at = start;
        marker_len = 0;
        opens_region = true;
        bare = true;
      }
    }
    if (at == std::string_view::npos) {
      const size_t end = final ? text.size() : text.size() - held_back(text, pos_);
      const std::string_view piece = text.substr(pos_, end - pos_);
      content_.append(piece);
      seen_output_ = seen_output_ || !trim_spaces(piece).empty();
      pos_ = end;
      return;
    }
    const std::string_view before = text.substr(pos_, at - pos_);
    content_.append(before);
    seen_output_ = seen_output_ || !trim_spaces(before).empty();
    pos_ = at;
    if (!opens_region) {
      pos_ = at + marker_len;
      continue;
    }
    Region region = scan_region(text, at + marker_len, bare, final);
    if (region.state == JsonState::kIncomplete && final) region.state = JsonState::kInvalid;
    if (region.state == JsonState::kIncomplete) {
      for (ScannedCall& call : region.calls) calls_.push_back(std::move(call));
      return;  // wait for more text; nothing after `at` is settled
    }
    seen_output_ = true;
    if (region.state == JsonState::kInvalid) {
      // Not a call after all: the marker is content, and scanning goes on after it. A bare JSON
      // value that is not a call is content whole (it is valid JSON, not the start of a call).
      const size_t skip = bare ? (region.end > at ? region.end - at : 1) : marker_len;
      content_.append(text.substr(at, skip));
      pos_ = at + skip;
      continue;
    }
    if (region.has_response) content_.append(region.response);
    for (ScannedCall& call : region.calls) calls_.push_back(std::move(call));
    settled_calls_ = calls_.size();
    pos_ = region.end;
  }
}

const OutputScanner::ArgsRead& OutputScanner::read_arguments(std::string_view text, size_t start) const {
  auto it = std::find_if(args_reads_.begin(), args_reads_.end(), [&](const ArgsRead& r) { return r.start == start; });
  if (it == args_reads_.end()) {
    args_reads_.emplace_back();
    it = std::prev(args_reads_.end());
    it->start = start;
    it->read = start;
  }
  ArgsRead& r = *it;
  if (r.scan.state == JsonState::kIncomplete && r.read < text.size()) {
    r.scan = r.machine.feed(text, r.read);
    const size_t end = r.scan.state == JsonState::kComplete ? r.scan.end : text.size();
    r.minifier.append(text.substr(r.read, end - r.read), &r.compact);
    r.read = end;
  }
  return r;
}

OutputScanner::Region OutputScanner::scan_region(std::string_view text, size_t pos, bool bare, bool final) const {
  switch (spec_.shape) {
    case CallShape::kJsonObjects: {
      Region region = scan_json_region(text, pos, final);
      // A bare value that is valid JSON but no call: report its end so it stays content whole.
      if (bare && region.state == JsonState::kInvalid) {
        const JsonScan value = scan_json_value(text, pos);
        region.end = value.state == JsonState::kComplete ? value.end : pos + 1;
      }
      return region;
    }
    case CallShape::kNamedArgs:
      return scan_named_region(text, pos, final);
    case CallShape::kXmlParams:
      return scan_xml_region(text, pos, final);
    case CallShape::kNone:
      break;
  }
  return {};
}

OutputScanner::Region OutputScanner::scan_json_region(std::string_view text, size_t pos, bool final) const {
  Region region;
  size_t at = skip_json_ws(text, pos);
  for (;;) {
    if (at >= text.size()) {
      region.state = JsonState::kIncomplete;
      return region;
    }
    Region value = scan_call_value(text, at, kMaxCallNesting);
    const bool no_calls = value.calls.empty();
    for (ScannedCall& call : value.calls) region.calls.push_back(std::move(call));
    if (value.state != JsonState::kComplete) {
      region.state = value.state;
      return region;
    }
    if (value.has_response) {
      // Only generic answers {"response": "..."}, and only as the whole output.
      if (spec_.format != ToolCallFormat::kGeneric || !region.calls.empty()) return {};
      region.response = std::move(value.response);
      region.has_response = true;
    } else if (no_calls) {
      return {};  // JSON without a call in it
    }
    size_t end = value.end;
    if (spec_.separator != 0) {
      const size_t next = skip_json_ws(text, end);
      if (next >= text.size() && !final) {
        region.state = JsonState::kIncomplete;  // a separator and another call may follow
        return region;
      }
      if (next < text.size() && text[next] == spec_.separator) {
        at = skip_json_ws(text, next + 1);
        if (at >= text.size() && final) end = next + 1;  // a trailing separator
        if (at < text.size() || !final) continue;
      }
    }
    const JsonScan closer = optional_literal(text, end, spec_.closer, final);
    region.state = closer.state;
    region.end = closer.end;
    return region;
  }
}

OutputScanner::Region OutputScanner::scan_call_value(std::string_view text, size_t pos, int nesting) const {
  Region out;
  auto fail = [&](JsonState state) { return ended(out, state); };
  if (pos >= text.size()) return fail(JsonState::kIncomplete);
  if (text[pos] == '[') {
    size_t at = skip_json_ws(text, pos + 1);
    for (;;) {
      if (at >= text.size()) return fail(JsonState::kIncomplete);
      if (text[at] != '{' || nesting <= 0) return fail(JsonState::kInvalid);
      Region item = scan_call_value(text, at, nesting - 1);
      for (ScannedCall& call : item.calls) out.calls.push_back(std::move(call));
      if (item.state != JsonState::kComplete) return fail(item.state);
      if (item.calls.empty()) return fail(JsonState::kInvalid);
      at = skip_json_ws(text, item.end);
      if (at >= text.size()) return fail(JsonState::kIncomplete);
      if (text[at] == ']') {
        out.state = JsonState::kComplete;
        out.end = at + 1;
        return out;
      }
      if (text[at] != ',') return fail(JsonState::kInvalid);
      at = skip_json_ws(text, at + 1);
    }
  }
  if (text[pos] != '{') return fail(JsonState::kInvalid);

  // An object: the members that make a call; the others are checked and ignored.
  std::string name;
  bool has_name = false;
  bool bad = false;
  size_t args_start = 0;
  size_t args_end = 0;  // 0 while the arguments are incomplete
  const ArgsRead* args_object = nullptr;  // arguments given as an object
  bool has_args = false;
  std::vector<ScannedCall> nested;
  // The call so far, once its name is known (the arguments as far as they go when they are an object).
  auto partial = [&](JsonState state) {
    if (has_name && !bad && nested.empty()) {
      out.calls.push_back({name, args_object != nullptr ? args_object->compact : ""});
    }
    for (ScannedCall& call : nested) out.calls.push_back(std::move(call));
    return fail(state);
  };
  size_t at = skip_json_ws(text, pos + 1);
  if (at >= text.size()) return partial(JsonState::kIncomplete);
  if (text[at] != '}') {
    for (;;) {
      if (text[at] != '"') return fail(JsonState::kInvalid);
      const JsonScan key_scan = scan_json_value(text, at);
      if (key_scan.state != JsonState::kComplete) return partial(key_scan.state);
      std::string key;
      decode_json_string(text.substr(at, key_scan.end - at), &key);
      at = skip_json_ws(text, key_scan.end);
      if (at >= text.size()) return partial(JsonState::kIncomplete);
      if (text[at] != ':') return fail(JsonState::kInvalid);
      at = skip_json_ws(text, at + 1);
      if (at >= text.size()) return partial(JsonState::kIncomplete);
      const bool is_name = key == "name" || key == "tool_name";
      const bool is_args = key == "arguments" || key == "parameters";
      JsonScan value;
      if ((key == "tool_calls" || key == "tool_call") && nesting > 0 && (text[at] == '[' || text[at] == '{')) {
        Region inner = scan_call_value(text, at, nesting - 1);
        nested = std::move(inner.calls);
        value = {inner.state, inner.end};
        if (value.state == JsonState::kComplete && nested.empty()) return fail(JsonState::kInvalid);
      } else if (is_args && text[at] == '{') {
        args_object = &read_arguments(text, at);
        value = args_object->scan;
      } else {
        value = scan_json_value(text, at);
      }
      if (is_args) {
        has_args = true;
        args_start = at;
        args_end = value.state == JsonState::kComplete ? value.end : 0;
      }
      if (value.state != JsonState::kComplete) return partial(value.state);
      if (is_name) {
        has_name = text[at] == '"' && decode_json_string(text.substr(at, value.end - at), &name) && valid_name(name);
        bad = bad || !has_name;
      } else if (key == "response" && text[at] == '"') {
        out.has_response = decode_json_string(text.substr(at, value.end - at), &out.response);
      }
      at = skip_json_ws(text, value.end);
      if (at >= text.size()) return partial(JsonState::kIncomplete);
      if (text[at] == '}') break;
      if (text[at] != ',') return fail(JsonState::kInvalid);
      at = skip_json_ws(text, at + 1);
      if (at >= text.size()) return partial(JsonState::kIncomplete);
    }
  }
  out.state = JsonState::kComplete;
  out.end = at + 1;
  if (!nested.empty()) {
    out.calls = std::move(nested);
    out.has_response = false;
    return out;
  }
  if (!has_name || bad) {
    // No call; generic's {"response": "..."} when that is all the object says.
    return out.has_response && !has_name && !has_args ? out : fail(JsonState::kInvalid);
  }
  out.has_response = false;
  ScannedCall call{name, "{}"};
  if (has_args) {
    const std::string_view args = text.substr(args_start, args_end - args_start);
    if (args_object != nullptr) {
      call.arguments = args_object->compact;
    } else {
      // Arguments given as a JSON string holding the object (OpenAI's own shape).
      std::string decoded;
      if (args.front() != '"' || !decode_json_string(args, &decoded) || !is_json_object(decoded)) return fail(JsonState::kInvalid);
      call.arguments = minify_json(decoded);
    }
  }
  out.calls.push_back(std::move(call));
  return out;
}

OutputScanner::Region OutputScanner::scan_named_region(std::string_view text, size_t pos, bool final) const {
  Region region;
  auto stop = [&](JsonState state) { return ended(region, state); };
  const size_t name_end = find_within(text, spec_.name_end, pos, kMaxNameBytes + spec_.name_prefix.size());
  const std::string_view raw_name = text.substr(pos, name_end == std::string_view::npos ? std::string_view::npos : name_end - pos);
  std::string_view name = raw_name;
  if (name_end == std::string_view::npos) name.remove_suffix(partial_suffix(name, 0, spec_.name_end));
  if (name.starts_with(spec_.name_prefix)) name.remove_prefix(spec_.name_prefix.size());
  if (name_end == std::string_view::npos) {
    // Still writing the name (or name_end): a prefix of a valid name, or of the prefix to strip, may continue.
    const std::string_view whole = name.substr(0, utf8_whole_prefix(name));  // may end inside a character
    const bool fits = raw_name.size() <= kMaxNameBytes + spec_.name_prefix.size() &&
                      (whole.empty() || valid_name(whole) || could_become(raw_name, 0, spec_.name_prefix));
    return stop(fits ? JsonState::kIncomplete : JsonState::kInvalid);
  }
  if (!valid_name(name)) return stop(JsonState::kInvalid);
  region.calls.push_back({std::string(name), ""});
  size_t at = name_end + spec_.name_end.size();
  if (!spec_.args_marker.empty()) {
    const size_t marker = find_within(text, spec_.args_marker, at, kMaxGapBytes);
    if (marker == std::string_view::npos) {
      return stop(text.size() - at > kMaxGapBytes + spec_.args_marker.size() ? JsonState::kInvalid : JsonState::kIncomplete);
    }
    if (marker - at > kMaxGapBytes) return stop(JsonState::kInvalid);
    at = marker + spec_.args_marker.size();
  }
  if (spec_.fenced) {
    const JsonScan fence = optional_literal(text, at, "```json", final);
    if (fence.state != JsonState::kComplete) return stop(fence.state);
    at = fence.end;
  }
  at = skip_json_ws(text, at);
  if (at >= text.size()) return stop(JsonState::kIncomplete);
  if (text[at] != '{') return stop(JsonState::kInvalid);
  const ArgsRead& args = read_arguments(text, at);
  if (args.scan.state == JsonState::kInvalid) return stop(JsonState::kInvalid);
  region.calls.back().arguments = args.compact;
  if (args.scan.state == JsonState::kIncomplete) return stop(JsonState::kIncomplete);
  size_t end = args.scan.end;
  if (spec_.fenced) {
    const JsonScan fence = optional_literal(text, end, "```", final);
    if (fence.state != JsonState::kComplete) return stop(fence.state);
    end = fence.end;
  }
  const JsonScan closer = optional_literal(text, end, spec_.closer, final);
  region.end = closer.end;
  return stop(closer.state);
}

OutputScanner::Region OutputScanner::scan_xml_region(std::string_view text, size_t pos, bool final) const {
  Region region;
  auto stop = [&](JsonState state) { return ended(region, state); };
  // A literal expected at `at`: kComplete (matched), kIncomplete (text ends inside it) or kInvalid.
  auto expect = [&](size_t at, std::string_view literal) -> JsonState {
    if (starts_with_at(text, at, literal)) return JsonState::kComplete;
    return could_become(text, at, literal) ? JsonState::kIncomplete : JsonState::kInvalid;
  };
  // Text up to `close` (not containing it): its end, or npos while incomplete; the bound makes
  // runaway text invalid rather than held forever.
  auto until = [&](size_t at, std::string_view close, size_t bound, JsonState* state) -> size_t {
    const size_t found = find_within(text, close, at, bound);
    if (found == std::string_view::npos || found - at > bound) {
      *state = (found == std::string_view::npos && text.size() - at <= bound) ? JsonState::kIncomplete : JsonState::kInvalid;
      return std::string_view::npos;
    }
    *state = JsonState::kComplete;
    return found;
  };
  const std::string_view call_close = spec_.call_close.empty() ? spec_.closer : spec_.call_close;
  size_t at = pos;
  for (;;) {
    // One call: its name, then parameters until call_close.
    const size_t after_call = at;
    at = skip_json_ws(text, at);
    std::string_view name;
    JsonState state = JsonState::kComplete;
    if (spec_.call_open.empty()) {
      size_t end = at;
      const size_t limit = std::min(text.size(), at + kMaxNameBytes + 1);
      while (end < limit && text[end] != '<' && text[end] != '\n') ++end;
      if (end - at > kMaxNameBytes) return stop(JsonState::kInvalid);
      if (end >= text.size()) return stop(JsonState::kIncomplete);
      name = trim_spaces(text.substr(at, end - at));
      at = end;
    } else {
      if (!region.calls.empty() && !starts_with_at(text, at, spec_.call_open)) {
        // After a call: the closer ends the region; a missing closer is forgiven.
        if (starts_with_at(text, at, spec_.closer)) {
          region.end = at + spec_.closer.size();
          return stop(JsonState::kComplete);
        }
        if (!final && (could_become(text, at, spec_.closer) || could_become(text, at, spec_.call_open))) {
          return stop(JsonState::kIncomplete);
        }
        region.end = after_call;
        return stop(JsonState::kComplete);
      }
      if ((state = expect(at, spec_.call_open)) != JsonState::kComplete) return stop(state);
      at += spec_.call_open.size();
      const size_t end = until(at, spec_.name_close, kMaxNameBytes, &state);
      if (state != JsonState::kComplete) return stop(state);
      name = text.substr(at, end - at);
      at = end + spec_.name_close.size();
    }
    if (!valid_name(name)) return stop(JsonState::kInvalid);
    region.calls.push_back({std::string(name), "{"});
    std::string& args = region.calls.back().arguments;
    for (bool first = true;; first = false) {
      at = skip_json_ws(text, at);
      if (at >= text.size()) return stop(JsonState::kIncomplete);
      if ((state = expect(at, call_close)) == JsonState::kComplete) {
        at += call_close.size();
        args.push_back('}');
        break;
      }
      const bool maybe_close = state == JsonState::kIncomplete;
      if ((state = expect(at, spec_.key_open)) != JsonState::kComplete) return stop(maybe_close ? JsonState::kIncomplete : state);
      at += spec_.key_open.size();
      const size_t key_end = until(at, spec_.key_close, kMaxNameBytes, &state);
      if (state != JsonState::kComplete) return stop(state);
      const std::string_view key = text.substr(at, key_end - at);
      if (!valid_name(key)) return stop(JsonState::kInvalid);
      at = key_end + spec_.key_close.size();
      bool is_string = false;
      if (spec_.value_attributes) {
        const size_t gt = until(at, ">", kMaxGapBytes, &state);
        if (state != JsonState::kComplete) return stop(state);
        is_string = text.substr(at, gt - at).find("string=\"true\"") != std::string_view::npos;
        at = gt + 1;
      }
      if (!spec_.value_open.empty()) {
        at = skip_json_ws(text, at);
        if ((state = expect(at, spec_.value_open)) != JsonState::kComplete) return stop(state);
        at += spec_.value_open.size();
      }
      const size_t value_end = until(at, spec_.value_close, std::string_view::npos, &state);
      if (state != JsonState::kComplete) return stop(state);
      if (!valid_utf8(text.substr(at, value_end - at))) return stop(JsonState::kInvalid);
      if (!first) args.push_back(',');
      append_json_string(key, &args);
      args.push_back(':');
      append_param_value(text.substr(at, value_end - at), is_string, &args);
      at = value_end + spec_.value_close.size();
    }
    if (spec_.call_close.empty()) {  // the closer ended the call and the region
      region.end = at;
      return stop(JsonState::kComplete);
    }
  }
}

}  // namespace tessera::chat
