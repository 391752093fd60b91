#include "client/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace convrnn::client {

std::string FormatPercent(double fraction) {
  if (!std::isfinite(fraction)) return "-";
  return absl::StrFormat("%.2f%%", 100.0 * fraction);
}

std::string FormatThousands(int64_t value) {
  // Through uint64 so INT64_MIN negates safely.
  uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string FormatSi(double value) {
  if (!std::isfinite(value)) return "-";
  static constexpr struct {
    double scale;
    const char* suffix;
  } kUnits[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
  for (const auto& unit : kUnits) {
    if (std::fabs(value) >= unit.scale)
      return absl::StrFormat("%.2f%s", value / unit.scale, unit.suffix);
  }
  return FormatNumber(value);
}

std::string FormatNumber(double value, int digits) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return FormatThousands(static_cast<int64_t>(value));
  }
  return absl::StrFormat("%.*g", digits, value);
}

std::string FormatMetric(const std::string& name, double value) {
  if (absl::StrContains(name, "top1") || absl::StrContains(name, "top5") ||
      absl::StrContains(name, "accuracy")) {
    return FormatPercent(value);
  }
  if (name == "params") return FormatThousands(static_cast<int64_t>(std::llround(value)));
  if (absl::StartsWith(name, "flops")) return FormatSi(value);
  if (absl::StrContains(name, "images_per")) return FormatNumber(std::round(value));
  return FormatNumber(value);
}

std::string FormatTime(int64_t unix_us) {
  if (unix_us <= 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(unix_us / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return absl::StrFormat("%ds", s);
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

namespace {

bool LooksNumeric(const std::string& cell) {
  if (cell.empty() || cell == "-") return true;  // placeholders do not decide
  return std::all_of(cell.begin(), cell.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == ',' || c == '.' || c == '%' || c == '-' || c == '+' ||
           c == 'e' || c == 'k' || c == 'M' || c == 'G' || c == 'T';
  });
}

}  // namespace

std::string TerminalSafe(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(text[++i]));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  for (std::string& cell : row) cell = TerminalSafe(cell);
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  const size_t n = header_.size();
  std::vector<size_t> width(n);
  std::vector<bool> right(n, true);
  for (size_t c = 0; c < n; ++c) {
    width[c] = header_[c].size();
    for (const auto& row : rows_) {
      width[c] = std::max(width[c], row[c].size());
      if (!LooksNumeric(row[c])) right[c] = false;
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      const size_t pad = width[c] - row[c].size();
      if (c > 0) line += "  ";
      if (right[c]) line.append(pad, ' ');
      line += row[c];
      if (!right[c]) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

}  // namespace convrnn::client
