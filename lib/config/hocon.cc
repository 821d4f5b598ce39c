// HOCON, the subset FLARE's job configs use (see hocon.h).
#include "config/hocon.h"

#include <cctype>
#include <set>
#include <vector>

namespace nvf::config {
namespace {

constexpr int kMaxDepth = 200;
constexpr const char* kSubst = "\x01hocon-substitution";  // marks a ${...} until it is resolved

class Parser {
 public:
  Parser(std::string_view text, std::string_view source) : s_(text), source_(source) {}

  Result<Value> parse_root() {
    skip_blank(true);
    Value root = Value::object();
    if (peek() == '{') {
      NVF_ASSIGN_OR_RETURN(root, parse_object(0));
      skip_blank(true);
      if (!eof()) return error("unexpected text after the closing '}' of the root object");
    } else {
      NVF_RETURN_IF_ERROR(parse_fields(root, '\0', 0));
    }
    NVF_RETURN_IF_ERROR(resolve(root, root, 0));
    return root;
  }

 private:
  bool eof() const { return i_ >= s_.size(); }
  char peek(size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  bool starts(std::string_view w) const { return s_.substr(i_, w.size()) == w; }
  void advance(size_t n = 1) {
    for (size_t k = 0; k < n && i_ < s_.size(); ++k, ++i_) {
      if (s_[i_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }
  Status error(const std::string& what) const {
    return InvalidArgumentError(std::string(source_) + ":" + std::to_string(line_) + ":" + std::to_string(col_) +
                                ": " + what);
  }
  Status error_at(int line, int col, const std::string& what) const {
    return InvalidArgumentError(std::string(source_) + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
                                what);
  }

  // Spaces and comments; newlines too when `newlines`.
  void skip_blank(bool newlines) {
    while (!eof()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        advance();
      } else if (c == '#' || (c == '/' && peek(1) == '/')) {
        while (!eof() && peek() != '\n') advance();
      } else if (static_cast<unsigned char>(c) == 0xEF && starts("\xEF\xBB\xBF")) {
        advance(3);  // a byte-order mark
      } else {
        break;
      }
    }
  }

  // A key: dotted segments, each unquoted or quoted ("a.b" is one segment when quoted).
  Result<std::vector<std::string>> parse_key() {
    std::vector<std::string> path;
    std::string seg;
    bool any = false;
    while (!eof()) {
      char c = peek();
      if (c == '"') {
        NVF_ASSIGN_OR_RETURN(std::string q, parse_quoted());
        seg += q;
        any = true;
      } else if (c == '.') {
        if (!any) return error("empty key segment before '.'");
        path.push_back(std::move(seg));
        seg.clear();
        any = false;
        advance();
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                 static_cast<unsigned char>(c) >= 0x80) {
        seg.push_back(c);
        any = true;
        advance();
      } else {
        break;
      }
    }
    if (!any) {
      if (path.empty()) return error(eof() ? "expected a key, found the end of the file" : std::string("expected a key, found '") + peek() + "'");
      return error("empty key segment after '.'");
    }
    path.push_back(std::move(seg));
    return path;
  }

  Status parse_fields(Value& obj, char close, int depth) {
    for (;;) {
      skip_blank(true);
      while (peek() == ',') {
        advance();
        skip_blank(true);
      }
      if (eof()) {
        if (close) return error("the object is not closed: '}' expected");
        return Status::OK();
      }
      if (close && peek() == close) {
        advance();
        return Status::OK();
      }
      if (starts("include") && (peek(7) == ' ' || peek(7) == '\t' || peek(7) == '"')) {
        return error("'include' is not supported; put the included settings in this file");
      }
      const int key_line = line_, key_col = col_;
      NVF_ASSIGN_OR_RETURN(std::vector<std::string> key, parse_key());
      skip_blank(false);
      Value value;
      if (peek() == '{') {
        NVF_ASSIGN_OR_RETURN(value, parse_object(depth + 1));
      } else if (starts("+=")) {
        return error("'+=' is not supported; write the whole array");
      } else if (peek() == '=' || peek() == ':') {
        advance();
        skip_blank(false);
        NVF_ASSIGN_OR_RETURN(value, parse_value(depth + 1));
      } else {
        return error_at(key_line, key_col,
                        "expected '=', ':' or '{' after the key '" + join_key(key) + "'");
      }
      set_path(obj, key, std::move(value));
      skip_blank(false);
      if (!eof() && peek() != '\n' && peek() != ',' && peek() != close) {
        return error(std::string("unexpected '") + peek() + "' after the value of '" + join_key(key) +
                     "' (one field per line, or separate them with ',')");
      }
    }
  }

  static std::string join_key(const std::vector<std::string>& key) {
    std::string out;
    for (const auto& k : key) out += (out.empty() ? "" : ".") + k;
    return out;
  }

  // HOCON: a later value replaces an earlier one, except that two objects merge.
  static void merge(Value& into, Value value) {
    if (into.is_object() && value.is_object() && !value.contains(kSubst)) {
      for (auto& [k, v] : value.items()) {
        if (into.contains(k)) {
          merge(into[k], std::move(v));
        } else {
          into[k] = std::move(v);
        }
      }
    } else {
      into = std::move(value);
    }
  }

  static void set_path(Value& obj, const std::vector<std::string>& key, Value value) {
    Value* at = &obj;
    for (size_t k = 0; k + 1 < key.size(); ++k) {
      Value& next = (*at)[key[k]];
      if (!next.is_object() || next.contains(kSubst)) next = Value::object();
      at = &next;
    }
    if (at->contains(key.back())) {
      merge((*at)[key.back()], std::move(value));
    } else {
      (*at)[key.back()] = std::move(value);
    }
  }

  Result<Value> parse_object(int depth) {
    if (depth > kMaxDepth) return error("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    advance();  // '{'
    Value obj = Value::object();
    NVF_RETURN_IF_ERROR(parse_fields(obj, '}', depth));
    return obj;
  }

  Result<Value> parse_array(int depth) {
    if (depth > kMaxDepth) return error("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    advance();  // '['
    Value arr = Value::array();
    for (;;) {
      skip_blank(true);
      if (eof()) return error("the array is not closed: ']' expected");
      if (peek() == ']') {
        advance();
        return arr;
      }
      NVF_ASSIGN_OR_RETURN(Value v, parse_value(depth + 1));
      arr.push_back(std::move(v));
      const int before = line_;
      skip_blank(true);
      if (peek() == ',') {
        advance();
      } else if (peek() != ']' && !eof() && line_ == before) {
        return error("expected ',' or ']' in the array");  // newline-separated elements are fine
      }
    }
  }

  Result<std::string> parse_quoted() {
    if (starts("\"\"\"")) {
      advance(3);
      size_t end = s_.find("\"\"\"", i_);
      if (end == std::string_view::npos) return error("the triple-quoted string is not closed");
      // HOCON: extra quotes just before the closing three belong to the string.
      while (end + 3 < s_.size() && s_[end + 3] == '"') ++end;
      std::string out(s_.substr(i_, end - i_));
      advance(end - i_ + 3);
      return out;
    }
    const size_t start = i_;
    const int l = line_, c = col_;
    advance();
    while (!eof() && peek() != '"') {
      if (peek() == '\n') return error_at(l, c, "the string is not closed on its line");
      if (peek() == '\\') advance();
      advance();
    }
    if (eof()) return error_at(l, c, "the string is not closed");
    advance();
    try {
      return Value::parse(s_.substr(start, i_ - start)).get<std::string>();
    } catch (const std::exception& e) {
      return error_at(l, c, std::string("bad string: ") + e.what());
    }
  }

  Result<Value> parse_value(int depth) {
    if (depth > kMaxDepth) return error("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    const int l = line_, c = col_;
    Value v;
    if (eof() || peek() == '\n') return error("expected a value");
    if (peek() == '{') {
      NVF_ASSIGN_OR_RETURN(v, parse_object(depth));
    } else if (peek() == '[') {
      NVF_ASSIGN_OR_RETURN(v, parse_array(depth));
    } else if (peek() == '"') {
      NVF_ASSIGN_OR_RETURN(std::string str, parse_quoted());
      v = std::move(str);
    } else if (starts("${")) {
      advance(2);
      bool optional = false;
      if (peek() == '?') {
        optional = true;
        advance();
      }
      skip_blank(false);
      NVF_ASSIGN_OR_RETURN(std::vector<std::string> path, parse_key());
      skip_blank(false);
      if (peek() != '}') return error("'}' expected to close the ${...} reference");
      advance();
      v = Value{{kSubst, path}, {"optional", optional}, {"line", l}, {"col", c}};
    } else {
      NVF_ASSIGN_OR_RETURN(v, parse_unquoted());
    }
    // Concatenation ("a" "b", ${x}/y): not in the subset.
    skip_blank(false);
    if (!eof() && peek() != '\n' && peek() != ',' && peek() != '}' && peek() != ']') {
      return error_at(l, c, std::string("value concatenation is not supported (found '") + peek() +
                                "' after the value); quote the whole value");
    }
    return v;
  }

  Result<Value> parse_unquoted() {
    static const std::string kStop = "\n,}]#{[\"=:$+^?!@*&\\`";
    const size_t start = i_;
    while (!eof() && kStop.find(peek()) == std::string::npos && !(peek() == '/' && peek(1) == '/')) advance();
    std::string token(s_.substr(start, i_ - start));
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\r')) token.pop_back();
    if (token.empty()) return error(std::string("expected a value, found '") + peek() + "'");
    if (token == "true" || token == "yes" || token == "on") return Value(true);
    if (token == "false" || token == "no" || token == "off") return Value(false);
    if (token == "null") return Value(nullptr);
    const char f = token[0];
    if (std::isdigit(static_cast<unsigned char>(f)) || f == '-' || f == '.') {
      Value num = Value::parse(token, nullptr, false);  // no throw: discarded on error
      if (num.is_number()) return num;
    }
    return Value(token);
  }

  // Replaces every ${...} by the value at its path (itself resolved first); a missing ${?x}
  // drops its field.
  Status resolve(Value& v, const Value& root, int depth) {
    if (depth > kMaxDepth) return error("${...} references nest deeper than " + std::to_string(kMaxDepth));
    if (v.is_array()) {
      for (auto it = v.begin(); it != v.end();) {
        if (is_subst(*it)) {
          NVF_ASSIGN_OR_RETURN(std::optional<Value> r, lookup(*it, root, depth));
          if (!r) {
            it = v.erase(it);
            continue;
          }
          *it = std::move(*r);
        } else {
          NVF_RETURN_IF_ERROR(resolve(*it, root, depth + 1));
        }
        ++it;
      }
    } else if (v.is_object()) {
      std::vector<std::string> drop;
      for (auto& [k, child] : v.items()) {
        if (is_subst(child)) {
          NVF_ASSIGN_OR_RETURN(std::optional<Value> r, lookup(child, root, depth));
          if (!r) {
            drop.push_back(k);
            continue;
          }
          child = std::move(*r);
        } else {
          NVF_RETURN_IF_ERROR(resolve(child, root, depth + 1));
        }
      }
      for (const auto& k : drop) v.erase(k);
    }
    return Status::OK();
  }

  static bool is_subst(const Value& v) { return v.is_object() && v.contains(kSubst); }

  Result<std::optional<Value>> lookup(const Value& ref, const Value& root, int depth) {
    const auto path = ref[kSubst].get<std::vector<std::string>>();
    const int l = ref["line"].get<int>(), c = ref["col"].get<int>();
    const Value* at = &root;
    for (const auto& k : path) {
      if (!at->is_object() || is_subst(*at) || !at->contains(k)) {
        at = nullptr;
        break;
      }
      at = &(*at)[k];
    }
    if (!at) {
      if (ref["optional"].get<bool>()) return std::optional<Value>();
      return error_at(l, c, "${" + join_key(path) + "} names nothing in this file");
    }
    Value out = *at;
    if (depth > kMaxDepth) return error_at(l, c, "${" + join_key(path) + "} refers to itself");
    if (is_subst(out)) {
      NVF_ASSIGN_OR_RETURN(std::optional<Value> r, lookup(out, root, depth + 1));
      if (!r) return std::optional<Value>();
      out = std::move(*r);
    }
    NVF_RETURN_IF_ERROR(resolve(out, root, depth + 1));
    return std::optional<Value>(std::move(out));
  }

  std::string_view s_;
  std::string_view source_;
  size_t i_ = 0;
  int line_ = 1, col_ = 1;
};

}  // namespace

Result<Value> parse_hocon(std::string_view text, std::string_view source) {
  try {
    return Parser(text, source).parse_root();
  } catch (const std::exception& e) {  // a library throw on odd input: an error, never a crash
    return InvalidArgumentError(std::string(source) + ": " + e.what());
  }
}

}  // namespace nvf::config
