// Parse and render entry points: where the interpreter's exceptions become Status values.
#include "chat/jinja/template.h"

#include <new>

#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"

namespace tessera::jinja {

Expected<Template> Template::parse(std::string_view source, const RenderLimits& limits) {
  TS_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source));
  TS_ASSIGN_OR_RETURN(Body body, jinja::parse(tokens, limits.max_nesting));
  return Template(std::make_shared<const Body>(std::move(body)), limits);
}

Expected<std::string> Template::render(const DictData& variables, const std::tm& now) const {
  // NOTE: inside the interpreter a Python exception is a C++ exception (TemplateError); it is
  // caught here so callers only ever see a Status.
  try {
    Interpreter interpreter(limits_, now);
    return interpreter.render(*body_, variables);
  } catch (const TemplateError& e) {
    return invalid_argument(std::string("chat template error: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kResourceExhausted, "chat template: out of memory");
  } catch (const std::exception& e) {
    return invalid_argument(std::string("chat template error: ") + e.what());
  }
}

}  // namespace tessera::jinja
