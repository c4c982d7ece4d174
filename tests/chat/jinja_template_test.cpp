// The Jinja interpreter against Python Jinja2: every template in ../shared/chat-templates/ renders
// byte for byte what Jinja2 renders with Hugging Face's settings (jinja_renders.json, made by
// render_jinja_reference.py), and errors where Jinja2 raises; plus language details and limits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/jinja/json.h"
#include "chat/jinja/template.h"

namespace tessera::jinja {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// render_jinja_reference.py's FIXED_NOW: 2026-03-07 14:05:09, a Saturday.
std::tm fixed_now() {
  std::tm now{};
  now.tm_year = 126;
  now.tm_mon = 2;
  now.tm_mday = 7;
  now.tm_hour = 14;
  now.tm_min = 5;
  now.tm_sec = 9;
  now.tm_wday = 6;
  now.tm_yday = 65;
  return now;
}

Expected<std::string> render(std::string_view source, const DictData& variables = {}) {
  TS_ASSIGN_OR_RETURN(Template t, Template::parse(source));
  return t.render(variables, fixed_now());
}

std::string render_ok(std::string_view source, const DictData& variables = {}) {
  auto text = render(source, variables);
  EXPECT_TRUE(text.ok()) << source << ": " << text.status().message();
  return text.ok() ? *text : "";
}

TEST(JinjaTemplate, RendersEverySharedTemplateAsPythonJinja2Does) {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_SHARED_DIR) / "chat-templates";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  const std::string data = read_text(std::filesystem::path(TESSERA_CHAT_TEST_DIR) / "jinja_renders.json");
  auto doc = parse_json(data, 512);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  const DictData& root = doc->as_dict();
  const DictData& conversations = root.find("conversations")->as_dict();
  size_t passed = 0;
  size_t total = 0;
  for (const Value& r : root.find("renders")->as_list().items) {
    const DictData& render_case = r.as_dict();
    const std::string name = render_case.find("template")->as_string();
    const std::string conversation = render_case.find("conversation")->as_string();
    const DictData& conv = conversations.find(conversation)->as_dict();
    DictData variables;
    variables.set("messages", *conv.find("messages"));
    variables.set("tools", *conv.find("tools"));
    variables.set("documents", Value::none());
    variables.set("add_generation_prompt", *render_case.find("add_generation_prompt"));
    variables.set("bos_token", *root.find("bos_token"));
    variables.set("eos_token", *root.find("eos_token"));
    SCOPED_TRACE(name + " / " + conversation + " / add_generation_prompt=" + render_case.find("add_generation_prompt")->str());
    const Expected<std::string> text = render(read_text(dir / name), variables);
    const Value& expected = *render_case.find("expected");
    ++total;
    if (expected.is_none()) {
      EXPECT_FALSE(text.ok()) << "Jinja2 raises here";
      passed += !text.ok();
    } else {
      ASSERT_TRUE(text.ok()) << text.status().message();
      EXPECT_EQ(*text, expected.as_string());
      passed += *text == expected.as_string();
    }
  }
  EXPECT_GE(total, 650u);
  std::printf("byte-exact renders: %zu of %zu\n", passed, total);
}

TEST(JinjaTemplate, AppliesTrimBlocksAndLstripBlocksLikeHuggingFace) {
  EXPECT_EQ(render_ok("{% if true %}\n  x\n  {% endif %}\n  {{ 'y' }}\n"), "  x\n  y");
  EXPECT_EQ(render_ok("a  {%- if true -%}  b  {%- endif %}"), "ab");
  EXPECT_EQ(render_ok("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(render_ok("  {# comment #}\nA"), "A");
}

TEST(JinjaTemplate, ForLoopScopesAndLoopVariables) {
  EXPECT_EQ(render_ok("{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = 2 %}{% endfor %}{{ x }}"), "111");
  EXPECT_EQ(render_ok("{% for x in [1,2,3] if x > 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.previtem }}{% else %}E{% endfor %}"),
            "1/22/22");
  EXPECT_EQ(render_ok("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render_ok("{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}"),
            "02");
  EXPECT_EQ(render_ok("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"), "3");
}

TEST(JinjaTemplate, PrintsValuesAsPythonStrDoes) {
  EXPECT_EQ(render_ok("{{ {'a': [1, 'x', None, True, 1.5]} }}{{ ('a',) }}{{ 1e20 }} {{ 1e-5 }} {{ 0.1+0.2 }} {{ 3/1 }}"),
            "{'a': [1, 'x', None, True, 1.5]}('a',)1e+20 1e-05 0.30000000000000004 3.0");
  EXPECT_EQ(render_ok("{{ true + 1 }} {{ 7 // -2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'abc'[::-1] }}{{ 'Zürich'|length }}{{ 'Zürich'[1:3] }}"),
            "2 -4 2 1024 cba6ür");
}

TEST(JinjaTemplate, TojsonMatchesJsonDumps) {
  EXPECT_EQ(render_ok("{{ {'a': {}, 'b': [], 'c': 1.0, 'd': none, 'e': 'é\n'}|tojson }}"),
            "{\"a\": {}, \"b\": [], \"c\": 1.0, \"d\": null, \"e\": \"é\\n\"}");
  EXPECT_EQ(render_ok("{{ [1,'é']|tojson(indent=2) }}"), "[\n  1,\n  \"é\"\n]");
  EXPECT_EQ(render_ok("{{ 'é'|tojson(ensure_ascii=True) }}"), "\"\\u00e9\"");
}

TEST(JinjaTemplate, MacrosTakeDefaultsVarargsAndCaller) {
  EXPECT_EQ(render_ok("{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}{{ m(1, 3, 4, c=5) }}"),
            "12(){}13(4,){'c': 5}");
  EXPECT_EQ(render_ok("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"), "[in]");
  EXPECT_FALSE(render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}").ok());
}

TEST(JinjaTemplate, RaisesWherePythonRaises) {
  EXPECT_EQ(render("{{ raise_exception('no system role') }}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(render("{{ raise_exception('no system role') }}").status().message().find("no system role"), std::string::npos);
  EXPECT_FALSE(render("{{ x.y }}").ok());
  EXPECT_FALSE(render("{{ 'a' + none }}").ok());
  EXPECT_FALSE(render("{% set l = [1] %}{{ l.append(2) }}").ok());  // the immutable sandbox
  EXPECT_FALSE(render("{{ [1]|map('upper')|tojson }}").ok());       // generators are not JSON
  EXPECT_FALSE(render("{% for %}").ok());
  EXPECT_FALSE(render("{{ 1 +").ok());
}

TEST(JinjaTemplate, BoundsWorkRecursionAndOutput) {
  EXPECT_FALSE(render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").ok());
  EXPECT_FALSE(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").ok());
  EXPECT_FALSE(render("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}").ok());
  EXPECT_FALSE(render("{{ " + std::string(10000, '(') + "1" + std::string(10000, ')') + " }}").ok());
  EXPECT_FALSE(render("{{ 'x' * 100000000000 }}").ok());
  EXPECT_FALSE(render("{{ range(1000000) }}").ok());
}

}  // namespace
}  // namespace tessera::jinja
