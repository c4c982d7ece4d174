// Python str semantics (split with and without a separator, strip with a character set, ...).
#include "chat/jinja/string_util.h"

#include <algorithm>

#include "chat/jinja/value.h"

namespace tessera::jinja {

bool is_python_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f);
}

std::string python_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  if (chars == nullptr) {
    size_t begin = 0;
    size_t end = s.size();
    while (left && begin < end && is_python_space(s[begin])) ++begin;
    while (right && end > begin && is_python_space(s[end - 1])) --end;
    return std::string(s.substr(begin, end - begin));
  }
  // A character set: compare whole UTF-8 characters.
  const std::vector<std::string_view> set = utf8_chars(*chars);
  const std::vector<std::string_view> text = utf8_chars(s);
  auto in_set = [&](std::string_view c) { return std::find(set.begin(), set.end(), c) != set.end(); };
  size_t begin = 0;
  size_t end = text.size();
  while (left && begin < end && in_set(text[begin])) ++begin;
  while (right && end > begin && in_set(text[end - 1])) --end;
  std::string out;
  for (size_t i = begin; i < end; ++i) out += text[i];
  return out;
}

std::vector<std::string> python_split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep != nullptr && sep->empty()) fail("empty separator");
  if (sep == nullptr) {
    // Runs of whitespace; no empty strings.
    if (!from_right) {
      size_t i = 0;
      while (true) {
        while (i < s.size() && is_python_space(s[i])) ++i;
        if (i >= s.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
          size_t end = s.size();
          while (end > i && is_python_space(s[end - 1])) --end;
          parts.emplace_back(s.substr(i, end - i));
          break;
        }
        size_t j = i;
        while (j < s.size() && !is_python_space(s[j])) ++j;
        parts.emplace_back(s.substr(i, j - i));
        i = j;
      }
      return parts;
    }
    size_t end = s.size();
    while (true) {
      while (end > 0 && is_python_space(s[end - 1])) --end;
      if (end == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t begin = 0;
        while (begin < end && is_python_space(s[begin])) ++begin;
        parts.emplace_back(s.substr(begin, end - begin));
        break;
      }
      size_t begin = end;
      while (begin > 0 && !is_python_space(s[begin - 1])) --begin;
      parts.emplace_back(s.substr(begin, end - begin));
      end = begin;
    }
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  if (!from_right) {
    size_t start = 0;
    while (true) {
      const size_t pos = s.find(*sep, start);
      if (pos == std::string_view::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
        parts.emplace_back(s.substr(start));
        return parts;
      }
      parts.emplace_back(s.substr(start, pos - start));
      start = pos + sep->size();
    }
  }
  size_t end = s.size();
  while (true) {
    const size_t pos = end >= sep->size() ? s.substr(0, end).rfind(*sep) : std::string_view::npos;
    if (pos == std::string_view::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
      parts.emplace_back(s.substr(0, end));
      break;
    }
    parts.emplace_back(s.substr(pos + sep->size(), end - pos - sep->size()));
    end = pos;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> python_splitlines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
      lines.emplace_back(s.substr(start, i - start));
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string python_replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count) {
  std::string out;
  if (old_text.empty()) {  // inserts new_text around every character
    int64_t n = 0;
    for (std::string_view ch : utf8_chars(s)) {
      if (count < 0 || n < count) {
        out += new_text;
        ++n;
      }
      out += ch;
    }
    if (count < 0 || n < count) out += new_text;
    return out;
  }
  size_t start = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    const size_t pos = s.find(old_text, start);
    if (pos == std::string_view::npos) break;
    out += s.substr(start, pos - start);
    out += new_text;
    start = pos + old_text.size();
    ++n;
  }
  out += s.substr(start);
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string python_title(std::string_view s) {
  std::string out(s);
  bool previous_cased = false;
  for (char& c : out) {
    const bool lower = c >= 'a' && c <= 'z';
    const bool upper = c >= 'A' && c <= 'Z';
    if (lower && !previous_cased) c = static_cast<char>(c - 'a' + 'A');
    else if (upper && previous_cased) c = static_cast<char>(c - 'A' + 'a');
    previous_cased = lower || upper;
  }
  return out;
}

std::string python_capitalize(std::string_view s) {
  std::string out = ascii_lower(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace tessera::jinja
