// The one text table of the command-line tools, as FLARE's admin console prints its tables
// (fuel/hci/table.py) and as preflight_check prints its report: a border of '-', rows
// "| c1 | c2 |" with each cell padded to its column's width, a border after the first (header)
// row and one at the end. Widths count code points (Python's len()). Stateless.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nvf::tools {

/// UTF-8 code points in `s` (Python's len() of the text).
size_t code_points(std::string_view s);

/// Renders `rows` (the first is the header). `widths` empty: each column as wide as its widest
/// cell, cells printed as they are. Given: a cell wider than its column wraps at spaces (a word
/// longer than the column is cut) onto continuation lines whose other cells are blank. A row with
/// fewer cells than columns is padded with empty cells. No columns at all: each row is an empty
/// line, the borders a single '-'.
std::string render_text_table(const std::vector<std::vector<std::string>>& rows, std::vector<size_t> widths = {});

}  // namespace nvf::tools
