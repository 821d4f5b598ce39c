#include "tools/text_table.h"

#include <algorithm>

#include "base/strings.h"

namespace nvf::tools {
namespace {

// The byte length of the first `n` code points of `s`.
size_t prefix_bytes(std::string_view s, size_t n) {
  size_t i = 0;
  for (size_t seen = 0; i < s.size(); ++i) {
    if ((s[i] & 0xC0) != 0x80 && seen++ == n) break;
  }
  return i;
}

// `text` as lines of at most `width` code points: as it is when it fits, else word-wrapped.
std::vector<std::string> wrap(const std::string& text, size_t width) {
  if (code_points(text) <= width) return {text};
  std::vector<std::string> lines;
  std::string line;
  for (std::string word : base::split(text, ' ', true)) {
    while (code_points(word) > width && width > 0) {
      if (!line.empty()) lines.push_back(std::move(line));
      line.clear();
      size_t cut = prefix_bytes(word, width);
      lines.push_back(word.substr(0, cut));
      word.erase(0, cut);
    }
    if (line.empty()) {
      line = word;
    } else if (code_points(line) + 1 + code_points(word) <= width) {
      line += " " + word;
    } else {
      lines.push_back(std::move(line));
      line = word;
    }
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string render_text_table(const std::vector<std::vector<std::string>>& rows, std::vector<size_t> widths) {
  size_t num_cols = widths.size();
  for (const auto& row : rows) num_cols = std::max(num_cols, row.size());
  if (widths.empty()) {
    widths.assign(num_cols, 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], code_points(row[i]));
    }
  }
  widths.resize(num_cols, 0);
  size_t table_width = num_cols + 1;
  for (size_t w : widths) table_width += w + 2;
  const std::string border = std::string(table_width, '-') + "\n";

  std::string out = border;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::vector<std::string>> cells(num_cols);
    size_t height = 1;
    for (size_t i = 0; i < num_cols; ++i) {
      cells[i] = wrap(i < rows[r].size() ? rows[r][i] : "", widths[i]);
      height = std::max(height, cells[i].size());
    }
    for (size_t line = 0; line < height; ++line) {
      for (size_t i = 0; i < num_cols; ++i) {
        const std::string& text = line < cells[i].size() ? cells[i][line] : "";
        out += i == 0 ? "| " : " | ";
        out += text;
        out.append(widths[i] - std::min(widths[i], code_points(text)), ' ');
      }
      out += num_cols ? " |\n" : "\n";
    }
    if (r == 0) out += border;
  }
  out += border;
  return out;
}

}  // namespace nvf::tools
