// Number formatting and table alignment of the client's human output.
#include "client/format.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

namespace convrnn::client {
namespace {

TEST_CASE("val_top1 prints as a percent with two decimals", "[client]") {
  CHECK(FormatPercent(0.91234) == "91.23%");
  CHECK(FormatPercent(1.0) == "100.00%");
  CHECK(FormatPercent(0.0) == "0.00%");
  CHECK(FormatPercent(0.123456) == "12.35%");
  CHECK(FormatMetric("val_top1", 0.5) == "50.00%");
  CHECK(FormatMetric("test_top1", 0.25) == "25.00%");
}

TEST_CASE("counts print with thousands separators", "[client]") {
  CHECK(FormatThousands(0) == "0");
  CHECK(FormatThousands(999) == "999");
  CHECK(FormatThousands(1000) == "1,000");
  CHECK(FormatThousands(1234567) == "1,234,567");
  CHECK(FormatThousands(-1234) == "-1,234");
  CHECK(FormatThousands(INT64_MIN) == "-9,223,372,036,854,775,808");
  CHECK(FormatMetric("params", 123456.0) == "123,456");
}

TEST_CASE("large quantities take an SI suffix, small ones stay plain", "[client]") {
  CHECK(FormatSi(1.5e9) == "1.50G");
  CHECK(FormatSi(2300) == "2.30k");
  CHECK(FormatSi(12) == "12");
  CHECK(FormatMetric("flops", 4.2e7) == "42.00M");
  CHECK(FormatNumber(0.0005) == "0.0005");
  CHECK(FormatNumber(0.123456) == "0.1235");
  CHECK(FormatDuration(5) == "5s");
  CHECK(FormatDuration(192) == "3m12s");
  CHECK(FormatTime(0) == "-");
  CHECK(FormatTime(86400LL * 1000000) == "1970-01-02 00:00:00");
}

TEST_CASE("tables pad every column and right-align numbers", "[client]") {
  Table table({"ID", "NAME", "VAL_TOP1"});
  table.AddRow({"7", "a-long-name", "91.23%"});
  table.AddRow({"12", "b", "5.00%"});
  std::ostringstream out;
  table.Print(out);
  CHECK(out.str() ==
        "ID  NAME         VAL_TOP1\n"
        " 7  a-long-name    91.23%\n"
        "12  b               5.00%\n");
}

}  // namespace
}  // namespace convrnn::client

namespace convrnn::client {
namespace {

TEST_CASE("control characters in user text reach the terminal escaped", "[client]") {
  CHECK(TerminalSafe("plain name") == "plain name");
  CHECK(TerminalSafe("\x1b[2J\x1b[Hpwned") == "\\x1b[2J\\x1b[Hpwned");
  CHECK(TerminalSafe("bell\a") == "bell\\x07");
  CHECK(TerminalSafe("row\r\n2  fake  row") == "row\\x0d\\x0a2  fake  row");
  CHECK(TerminalSafe("tab\there") == "tab\\x09here");
  CHECK(TerminalSafe("del\x7f") == "del\\x7f");
  CHECK(TerminalSafe("c1 \xc2\x9b"
                     "2J") == "c1 \\u009b2J");            // 8-bit CSI in UTF-8
  CHECK(TerminalSafe("back\\slash") == "back\\\\slash");  // unambiguous
  CHECK(TerminalSafe("ünïcödé → ok") == "ünïcödé → ok");
  CHECK(TerminalSafe(std::string("nul\0x", 5)) == "nul\\x00x");
}

TEST_CASE("a table cell cannot add rows or clear the screen", "[client]") {
  Table table({"id", "name"});
  table.AddRow({"1", "evil\n2  forged\x1b[2J"});
  std::ostringstream out;
  table.Print(out);
  const std::string text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);  // header + one row
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("evil\\x0a2  forged\\x1b[2J") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::client
