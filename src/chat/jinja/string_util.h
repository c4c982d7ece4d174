// Python's str operations on UTF-8 text, as templates use them. ASCII case mapping only: role
// names and keywords are ASCII; other letters pass through unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::jinja {

bool is_python_space(char c);
// str.strip/lstrip/rstrip; chars == nullptr strips whitespace.
std::string python_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split/rsplit; sep == nullptr splits on runs of whitespace.
std::vector<std::string> python_split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right);
std::vector<std::string> python_splitlines(std::string_view s);
std::string python_replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count);
std::string python_title(std::string_view s);
std::string python_capitalize(std::string_view s);
std::string ascii_lower(std::string_view s);
std::string ascii_upper(std::string_view s);
std::string html_escape(std::string_view s);

}  // namespace tessera::jinja
