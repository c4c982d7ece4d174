// A parsed Jinja template, safe to render with untrusted source and variables: parsing and
// rendering return errors as values, and every render is bounded by RenderLimits.
// This is the only header of src/chat/jinja/ that code outside it needs.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/value.h"

namespace tessera::jinja {

class Template {
 public:
  // kInvalidArgument on a syntax error (with its line).
  static Expected<Template> parse(std::string_view source, const RenderLimits& limits = {});

  // Renders with `variables` (Hugging Face passes messages, tools, add_generation_prompt,
  // bos_token, ...) and `now` as strftime_now's clock. kInvalidArgument when the template raises
  // (raise_exception, undefined attribute, type error) or exceeds a limit.
  Expected<std::string> render(const DictData& variables, const std::tm& now) const;

 private:
  Template(std::shared_ptr<const Body> body, const RenderLimits& limits) : body_(std::move(body)), limits_(limits) {}

  std::shared_ptr<const Body> body_;  // immutable after parsing: one Template renders on many threads
  RenderLimits limits_;
};

}  // namespace tessera::jinja
