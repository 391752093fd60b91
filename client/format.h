// Number formatting and aligned text tables for the `convrnn` client.
//
// Every human-readable view prints numbers the same way: accuracies as
// percents with two decimals, counts with thousands separators, large
// quantities (FLOPs) with an SI suffix. Machine-readable output (--json)
// never goes through these helpers.
//
// Thread-safety: pure functions; a Table is used by one thread.
#ifndef CONVRNN_CLIENT_FORMAT_H_
#define CONVRNN_CLIENT_FORMAT_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace convrnn::client {

// 0.91234 -> "91.23%"; NaN -> "-".
std::string FormatPercent(double fraction);
// 1234567 -> "1,234,567"; -1234 -> "-1,234".
std::string FormatThousands(int64_t value);
// 1.5e9 -> "1.50G", 2300 -> "2.30k", 12 -> "12".
std::string FormatSi(double value);
// Up to `digits` significant digits, no trailing zeros: 0.0005 -> "0.0005".
std::string FormatNumber(double value, int digits = 4);
// One metric by its name's convention: *top1/*top5/accuracy as percents,
// params as a count, flops* with an SI suffix, anything else FormatNumber.
std::string FormatMetric(const std::string& name, double value);
// Microseconds since the epoch -> "2024-05-01 12:34:56" (UTC); 0 -> "-".
std::string FormatTime(int64_t unix_us);
// Seconds -> "4s", "3m12s", "2h05m".
std::string FormatDuration(double seconds);

// User text (campaign names, failure reasons, server messages) made safe for
// a terminal: control characters (C0 including CR, LF, TAB, ESC and BEL; DEL;
// C1 as UTF-8 U+0080..U+009F) become visible escapes such as "\x1b", and a
// backslash becomes "\\", so a name can neither clear the screen nor fake a
// table row, and the escaped text is unambiguous. Every human-readable view
// passes user text through this; --json output is JSON-escaped instead.
std::string TerminalSafe(absl::string_view text);

// A text table whose columns are padded to their widest cell. Columns whose
// every body cell looks numeric (or is a "-" / empty placeholder) are
// right-aligned, so a column keeps its alignment while values arrive.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  // REQUIRES: row.size() == header.size(). Cells pass through TerminalSafe.
  void AddRow(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  // Two spaces between columns; no trailing spaces.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_FORMAT_H_
