// Recursive descent in Jinja2's precedence order, lowest first:
//   x if c else y  <  or  <  and  <  not  <  comparisons, in  <  + -  <  ~  <  * / // %  <  **
//   <  unary - +  <  primary with .attr [item] (call)  then  |filter, is test
// Note that filters bind tighter than every binary operator: "a + b | trim" is "a + (b | trim)".
#include "chat/jinja/parser.h"

#include <initializer_list>
#include <string_view>

namespace tessera::jinja {
namespace {

class SyntaxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, int max_depth) : tokens_(tokens), max_depth_(max_depth) {}

  Body parse_template() {
    Body body = parse_body({});
    if (current().kind != TokenKind::kEnd) fail_here("unexpected tag");
    return body;
  }

 private:
  // --- token helpers ---
  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  [[noreturn]] void fail_here(const std::string& message) const {
    throw SyntaxError("template syntax error at line " + std::to_string(current().line) + ": " + message +
                      (current().text.empty() ? "" : " near '" + current().text.substr(0, 40) + "'"));
  }
  bool is_op(std::string_view op) const { return current().kind == TokenKind::kOperator && current().text == op; }
  bool is_name(std::string_view name) const { return current().kind == TokenKind::kName && current().text == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_here("expected '" + std::string(op) + "'");
  }
  void expect_kind(TokenKind kind, const char* what) {
    if (current().kind != kind) fail_here(std::string("expected ") + what);
    advance();
  }
  std::string expect_name() {
    if (current().kind != TokenKind::kName) fail_here("expected a name");
    std::string name = current().text;
    advance();
    return name;
  }

  struct DepthGuard {
    explicit DepthGuard(Parser* p) : parser(p) {
      if (++parser->depth_ > parser->max_depth_) parser->fail_here("template nested too deeply");
    }
    ~DepthGuard() { --parser->depth_; }
    Parser* parser;
  };

  ExprPtr node(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // --- statements ---

  // Statements until a block tag whose keyword is one of `ends` (left as the current token,
  // right after "{%"), or the end of the template when `ends` is empty.
  Body parse_body(std::initializer_list<std::string_view> ends) {
    DepthGuard guard(this);
    Body body;
    while (true) {
      const Token& t = current();
      if (t.kind == TokenKind::kEnd) {
        if (ends.size() != 0) fail_here("unexpected end of template, expected '" + std::string(*ends.begin()) + "'");
        return body;
      }
      if (t.kind == TokenKind::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.kind == TokenKind::kVarBegin) {
        advance();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = t.line;
        s->expr = parse_tuple(true, {});
        expect_kind(TokenKind::kVarEnd, "'}}'");
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kBlockBegin) {
        const Token& keyword = peek();
        for (std::string_view end : ends) {
          if (keyword.kind == TokenKind::kName && keyword.text == end) {
            advance();  // "{%"
            return body;
          }
        }
        advance();
        body.push_back(parse_statement());
      } else {
        fail_here("unexpected token");
      }
    }
  }

  // After the end keyword of a block: "{% endif %}" etc.
  void finish_end_tag() {
    advance();  // the keyword
    expect_kind(TokenKind::kBlockEnd, "'%}'");
  }

  StmtPtr make_stmt(StmtKind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  StmtPtr parse_statement() {
    const int line = current().line;
    const std::string keyword = expect_name();
    if (keyword == "if") return parse_if(line);
    if (keyword == "for") return parse_for(line);
    if (keyword == "set") return parse_set(line);
    if (keyword == "macro") return parse_macro(line);
    if (keyword == "call") return parse_call_block(line);
    if (keyword == "filter") {
      auto s = make_stmt(StmtKind::kFilterBlock, line);
      s->expr = parse_filter_chain(nullptr);
      expect_kind(TokenKind::kBlockEnd, "'%}'");
      s->bodies.push_back(parse_body({"endfilter"}));
      finish_end_tag();
      return s;
    }
    if (keyword == "break" || keyword == "continue") {
      auto s = make_stmt(keyword == "break" ? StmtKind::kBreak : StmtKind::kContinue, line);
      expect_kind(TokenKind::kBlockEnd, "'%}'");
      return s;
    }
    if (keyword == "generation") {
      auto s = make_stmt(StmtKind::kScope, line);
      expect_kind(TokenKind::kBlockEnd, "'%}'");
      s->bodies.push_back(parse_body({"endgeneration"}));
      finish_end_tag();
      return s;
    }
    --pos_;
    fail_here("unknown or unsupported tag '" + keyword + "'");
  }

  StmtPtr parse_if(int line) {
    auto s = make_stmt(StmtKind::kIf, line);
    s->conditions.push_back(parse_tuple(true, {}));
    expect_kind(TokenKind::kBlockEnd, "'%}'");
    while (true) {
      s->bodies.push_back(parse_body({"elif", "else", "endif"}));
      const std::string keyword = current().text;
      advance();
      if (keyword == "elif") {
        s->conditions.push_back(parse_tuple(true, {}));
        expect_kind(TokenKind::kBlockEnd, "'%}'");
      } else if (keyword == "else") {
        expect_kind(TokenKind::kBlockEnd, "'%}'");
        s->bodies.push_back(parse_body({"endif"}));
        finish_end_tag();
        return s;
      } else {
        expect_kind(TokenKind::kBlockEnd, "'%}'");
        return s;
      }
    }
  }

  // Names assigned by for/set: "x", "k, v", "(k, v)".
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool parens = skip_op("(");
    do {
      if (parens && is_op(")")) break;
      names.push_back(expect_name());
    } while (skip_op(","));
    if (parens) expect_op(")");
    return names;
  }

  StmtPtr parse_for(int line) {
    auto s = make_stmt(StmtKind::kFor, line);
    s->targets = parse_targets();
    if (!skip_name("in")) fail_here("expected 'in'");
    s->expr = parse_tuple(false, {"recursive", "if"});
    if (skip_name("if")) s->condition = parse_expression(true);
    if (is_name("recursive")) fail_here("recursive loops are not supported");
    expect_kind(TokenKind::kBlockEnd, "'%}'");
    s->bodies.push_back(parse_body({"else", "endfor"}));
    if (current().text == "else") {
      advance();
      expect_kind(TokenKind::kBlockEnd, "'%}'");
      s->bodies.push_back(parse_body({"endfor"}));
    } else {
      s->bodies.emplace_back();
    }
    finish_end_tag();
    return s;
  }

  StmtPtr parse_set(int line) {
    auto s = make_stmt(StmtKind::kSet, line);
    if (current().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == ".") {
      s->targets.push_back(expect_name());
      advance();
      s->text = expect_name();
    } else {
      s->targets = parse_targets();
    }
    if (skip_op("=")) {
      s->expr = parse_tuple(true, {});
      expect_kind(TokenKind::kBlockEnd, "'%}'");
      return s;
    }
    if (s->targets.size() != 1 || !s->text.empty()) fail_here("expected '='");
    s->kind = StmtKind::kSetBlock;
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_kind(TokenKind::kBlockEnd, "'%}'");
    s->bodies.push_back(parse_body({"endset"}));
    finish_end_tag();
    return s;
  }

  // "(a, b=default, ...)" of a macro or call block.
  void parse_parameters(Stmt* s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s->targets.empty()) expect_op(",");
      if (is_op(")")) break;
      s->targets.push_back(expect_name());
      s->defaults.push_back(skip_op("=") ? parse_expression(true) : nullptr);
    }
    expect_op(")");
  }

  StmtPtr parse_macro(int line) {
    auto s = make_stmt(StmtKind::kMacro, line);
    s->text = expect_name();
    parse_parameters(s.get());
    expect_kind(TokenKind::kBlockEnd, "'%}'");
    s->bodies.push_back(parse_body({"endmacro"}));
    finish_end_tag();
    return s;
  }

  StmtPtr parse_call_block(int line) {
    auto s = make_stmt(StmtKind::kCallBlock, line);
    if (is_op("(")) parse_parameters(s.get());
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::kCall) fail_here("expected a call");
    expect_kind(TokenKind::kBlockEnd, "'%}'");
    s->bodies.push_back(parse_body({"endcall"}));
    finish_end_tag();
    return s;
  }

  // --- expressions ---

  bool is_tuple_end(std::initializer_list<std::string_view> extra_ends) const {
    const Token& t = current();
    if (t.kind == TokenKind::kVarEnd || t.kind == TokenKind::kBlockEnd || t.kind == TokenKind::kEnd) return true;
    if (t.kind == TokenKind::kOperator && t.text == ")") return true;
    for (std::string_view end : extra_ends) {
      if (t.kind == TokenKind::kName && t.text == end) return true;
    }
    return false;
  }

  // "a" or "a, b, ..." (a tuple); used where Jinja2 calls parse_tuple.
  ExprPtr parse_tuple(bool with_condition, std::initializer_list<std::string_view> extra_ends, bool explicit_parens = false) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_ends)) break;
      items.push_back(parse_expression(with_condition));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail_here("expected an expression");
    }
    auto e = node(ExprKind::kTuple, line);
    e->args = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condition) {
    DepthGuard guard(this);
    if (!with_condition) return parse_or();
    const int line = current().line;
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      auto e = node(ExprKind::kCondition, line);
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_expression(true) : nullptr;
      e->args.push_back(std::move(condition));
      e->args.push_back(std::move(expr));
      e->args.push_back(std::move(otherwise));
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, int line) {
    auto e = node(ExprKind::kBinary, line);
    e->name = std::move(op);
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = current().line;
      advance();
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = current().line;
      advance();
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(this);
      auto e = node(ExprKind::kUnary, current().line);
      advance();
      e->name = "not";
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    ExprPtr first = parse_math1();
    ExprPtr e;
    while (true) {
      std::string op;
      if (current().kind == TokenKind::kOperator &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">="))) {
        op = current().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!e) {
        e = node(ExprKind::kCompare, line);
        e->args.push_back(std::move(first));
      }
      e->ops.push_back(op);
      e->args.push_back(parse_math1());
    }
    return e ? std::move(e) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = current();
      const std::string op = t.text;
      const int line = t.line;
      advance();
      left = binary(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const int line = current().line;
      advance();
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = current().text;
      const int line = current().line;
      advance();
      left = binary(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const int line = current().line;
      advance();
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = node(ExprKind::kUnary, current().line);
      e->name = current().text;
      advance();
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr literal(Value v, int line) {
    auto e = node(ExprKind::kLiteral, line);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    const int line = t.line;
    switch (t.kind) {
      case TokenKind::kName: {
        const std::string name = t.text;
        advance();
        if (name == "true" || name == "True") return literal(Value(true), line);
        if (name == "false" || name == "False") return literal(Value(false), line);
        if (name == "none" || name == "None") return literal(Value::none(), line);
        auto e = node(ExprKind::kName, line);
        e->name = name;
        return e;
      }
      case TokenKind::kString: {
        std::string s;
        while (current().kind == TokenKind::kString) {  // adjacent literals concatenate
          s += current().text;
          advance();
        }
        return literal(Value(std::move(s)), line);
      }
      case TokenKind::kInteger: {
        const int64_t i = t.integer;
        advance();
        return literal(Value(i), line);
      }
      case TokenKind::kFloat: {
        const double d = t.number;
        advance();
        return literal(Value(d), line);
      }
      case TokenKind::kOperator:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, {}, /*explicit_parens=*/true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail_here("unexpected token in expression");
  }

  ExprPtr parse_list() {
    auto e = node(ExprKind::kList, current().line);
    expect_op("[");
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    auto e = node(ExprKind::kDict, current().line);
    expect_op("{");
    while (!is_op("}")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("}")) break;
      e->args.push_back(parse_expression(true));
      expect_op(":");
      e->args.push_back(parse_expression(true));
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const int line = current().line;
    if (skip_op(".")) {
      if (current().kind == TokenKind::kInteger) {
        auto e = node(ExprKind::kGetItem, line);
        e->args.push_back(std::move(object));
        e->args.push_back(literal(Value(current().integer), line));
        advance();
        return e;
      }
      auto e = node(ExprKind::kGetAttr, line);
      e->name = expect_name();
      e->args.push_back(std::move(object));
      return e;
    }
    expect_op("[");
    ExprPtr parts[3];
    bool is_slice = false;
    int part = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        is_slice = true;
        advance();
        if (++part > 2) fail_here("bad slice");
        continue;
      }
      if (parts[part]) fail_here("expected ']'");
      parts[part] = parse_expression(true);
    }
    expect_op("]");
    if (!is_slice) {
      if (!parts[0]) fail_here("expected an index");
      auto e = node(ExprKind::kGetItem, line);
      e->args.push_back(std::move(object));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    auto e = node(ExprKind::kSlice, line);
    e->args.push_back(std::move(object));
    for (ExprPtr& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  // "(a, b, name=c)" into e->args (after whatever is already there) and e->kwargs.
  void parse_call_args(Expr* e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail_here("*args and **kwargs are not supported");
      if (current().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == "=") {
        std::string name = expect_name();
        advance();
        e->kwargs.emplace_back(std::move(name), parse_expression(true));
      } else {
        if (!e->kwargs.empty()) fail_here("positional argument after keyword argument");
        e->args.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = node(ExprKind::kCall, current().line);
    e->args.push_back(std::move(callee));
    parse_call_args(e.get());
    return e;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek().kind == TokenKind::kName) {
      advance();
      name += "." + expect_name();
    }
    return name;
  }

  // "| f | g(x)" applied to `operand` (null for filter blocks and block sets).
  ExprPtr parse_filter_chain(ExprPtr operand) {
    bool first = true;
    while (first || is_op("|")) {
      if (!first || is_op("|")) expect_op("|");
      first = false;
      auto e = node(ExprKind::kFilter, current().line);
      e->name = parse_dotted_name();
      e->args.push_back(std::move(operand));
      if (is_op("(")) parse_call_args(e.get());
      operand = std::move(e);
    }
    return operand;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_test(ExprPtr operand) {
    auto e = node(ExprKind::kTest, current().line);
    advance();  // "is"
    e->negated = skip_name("not");
    e->name = parse_dotted_name();
    e->args.push_back(std::move(operand));
    const Token& t = current();
    if (is_op("(")) {
      parse_call_args(e.get());
    } else if ((t.kind == TokenKind::kName || t.kind == TokenKind::kString || t.kind == TokenKind::kInteger ||
                t.kind == TokenKind::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail_here("tests cannot be chained with 'is'");
      e->args.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int max_depth_;
};

}  // namespace

Expected<Body> parse(const std::vector<Token>& tokens, int max_depth) {
  try {
    return Parser(tokens, max_depth).parse_template();
  } catch (const SyntaxError& e) {
    return invalid_argument(e.what());
  }
}

}  // namespace tessera::jinja
