#include "tools/admin_output.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "tools/text_table.h"

namespace nvf::tools {
namespace {

// The next code point of UTF-8 text at `i` (advancing it); a malformed sequence is U+FFFD.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += len;
  return cp;
}

void append_u16(std::string& out, uint32_t unit) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(unit & 0xFFFF));
  out += buf;
}

// A JSON string literal as Python's json module writes it with ensure_ascii.
void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20 || cp > 0x7E) {  // Python escapes all but ' '..'~'
          if (cp >= 0x10000) {
            append_u16(out, 0xD800 + ((cp - 0x10000) >> 10));
            append_u16(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
          } else {
            append_u16(out, cp);
          }
        } else {
          out += static_cast<char>(cp);
        }
    }
  }
  out += '"';
}

// repr(float): the shortest digits that round-trip, fixed notation for exponents -4..15 (with a
// ".0" when integral), else d.ddde±XX.
std::string python_float(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, ec == std::errc() ? end : buf);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits = sci.substr(0, e_pos);
  if (digits.size() > 1) digits.erase(1, 1);  // the '.'
  const int exp = std::stoi(sci.substr(e_pos + 1));
  const int n = static_cast<int>(digits.size());
  if (exp < -4 || exp >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + e;
  }
  const int point = exp + 1;  // digits before the decimal point
  if (point <= 0) return sign + "0." + std::string(-point, '0') + digits;
  if (point >= n) return sign + digits + std::string(point - n, '0') + ".0";
  return sign + digits.substr(0, point) + "." + digits.substr(point);
}

void dump(std::string& out, const config::Value& v, int indent, int depth) {
  const bool pretty = indent >= 0;
  const auto newline = [&](int d) {
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (v.type()) {
    case config::Value::value_t::null:
      out += "null";
      return;
    case config::Value::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case config::Value::value_t::number_integer:
      out += std::to_string(v.get<int64_t>());
      return;
    case config::Value::value_t::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      return;
    case config::Value::value_t::number_float:
      out += python_float(v.get<double>());
      return;
    case config::Value::value_t::string:
      append_json_string(out, v.get_ref<const std::string&>());
      return;
    case config::Value::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += pretty ? "," : ", ";
        first = false;
        if (pretty) newline(depth + 1);
        dump(out, e, indent, depth + 1);
      }
      if (pretty) newline(depth);
      out += ']';
      return;
    }
    case config::Value::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) out += pretty ? "," : ", ";
        first = false;
        if (pretty) newline(depth + 1);
        append_json_string(out, k);
        out += ": ";
        dump(out, e, indent, depth + 1);
      }
      if (pretty) newline(depth);
      out += '}';
      return;
    }
    default:  // binary and discarded values never come from JSON text
      out += "null";
      return;
  }
}

std::string cell_text(const config::Value& v) {
  return v.is_string() ? v.get<std::string>() : python_json_dumps(v, -1);
}

std::string string_of(const config::Value& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return "";
  return it->is_string() ? it->get<std::string>() : python_json_dumps(*it, -1);
}

}  // namespace

std::string python_json_dumps(const config::Value& value, int indent) {
  std::string out;
  dump(out, value, indent, 0);
  return out;
}

std::string render_admin_table(const config::Value& rows) {
  std::vector<std::vector<std::string>> cells;
  size_t num_cols = 0;
  if (rows.is_array()) {
    for (const auto& row : rows) {
      std::vector<std::string> line;
      if (row.is_array()) {
        for (const auto& c : row) line.push_back(cell_text(c));
      }
      num_cols = std::max(num_cols, line.size());
      cells.push_back(std::move(line));
    }
  }
  for (auto& line : cells) line.resize(num_cols, " ");  // FLARE prints a missing cell as " "
  return render_text_table(cells);
}

std::string render_admin_reply(const config::Value& reply) {
  if (!reply.is_object()) return "Response is not correct.\n";
  std::string out;
  auto details = reply.find("details");
  if (details != reply.end() && details->is_string()) out += details->get<std::string>() + "\n";
  auto data = reply.find("data");
  if (data != reply.end() && data->is_array()) {
    for (const auto& item : *data) {
      if (!item.is_object()) continue;
      const std::string type = string_of(item, "type");
      if (type == "string") {
        out += string_of(item, "data") + "\n";
      } else if (type == "error") {
        out += "Error: " + string_of(item, "data") + "\n";
      } else if (type == "table") {
        auto rows = item.find("rows");
        out += render_admin_table(rows == item.end() ? config::Value::array() : *rows);
      } else if (type == "dict") {
        auto d = item.find("data");
        out += python_json_dumps(d == item.end() ? config::Value() : *d, 2) + "\n";
      }
    }
  }
  if (details == reply.end() && data == reply.end()) out += "Response is not correct.\n";
  return out;
}

std::string admin_reply_status(const config::Value& reply) {
  if (!reply.is_object()) return "";
  auto it = reply.find("status");
  if (it != reply.end() && it->is_string()) return it->get<std::string>();
  auto meta = reply.find("meta");
  if (meta != reply.end() && meta->is_object()) {
    auto s = meta->find("status");
    if (s != meta->end() && s->is_string()) return s->get<std::string>();
  }
  return "";
}

int admin_reply_exit_code(const config::Value& reply) {
  const std::string status = admin_reply_status(reply);
  if (status == "ok") return 0;
  if (status == "not_authorized" || status == "not_authenticated") return 3;
  if (!status.empty() || !reply.is_object()) return 1;
  auto data = reply.find("data");
  if (data == reply.end() || !data->is_array()) return 1;
  for (const auto& item : *data) {
    if (item.is_object() && string_of(item, "type") == "error") return 1;
  }
  return 0;
}

std::string admin_done_line(std::chrono::microseconds took,
                            std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<microseconds>(now.time_since_epoch());
  auto secs = duration_cast<seconds>(since_epoch);
  auto usec = since_epoch - secs;
  if (usec.count() < 0) {  // before 1970: the fraction is still positive
    secs -= seconds(1);
    usec += seconds(1);
  }
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm local{};
  localtime_r(&t, &local);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
  std::string line = "Done [" + std::to_string(took.count()) + " usecs] " + when;
  if (usec.count() != 0) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(usec.count()));
    line += frac;
  }
  return line;
}

}  // namespace nvf::tools
