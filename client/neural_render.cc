#include "client/neural_render.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/format.h"
#include "client/proto_json.h"

namespace convrnn::client {
namespace {

using nlohmann::json;

// A number of the report (null when nothing was scored) with 3 decimals.
std::string Num(const json& j) {
  if (!j.is_number()) return "-";
  const double v = j.get<double>();
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

const json& At(const json& j, const char* key) {
  static const json* const kNull = new json();
  if (!j.is_object()) return *kNull;
  auto it = j.find(key);
  return it == j.end() ? *kNull : *it;
}

const json& Index(const json& j, size_t i) {
  static const json* const kNull = new json();
  if (!j.is_array() || i >= j.size()) return *kNull;
  return j[i];
}

}  // namespace

std::string ScoreStateName(v1::ScoreState state) {
  switch (state) {
    case v1::SCORE_STATE_PENDING:
      return "pending";
    case v1::SCORE_STATE_LEASED:
      return "leased";
    case v1::SCORE_STATE_COMPLETED:
      return "completed";
    case v1::SCORE_STATE_FAILED:
      return "failed";
    default:
      return "unspecified";
  }
}

json ToJson(const v1::NeuralScore& s) {
  json out = {{"id", s.id()},
              {"trial_id", s.trial_id()},
              {"state", ScoreStateName(s.state())},
              {"attempt", s.attempt()},
              {"worker_id", s.worker_id()},
              {"neural", EmbeddedJson(s.neural_json())},
              {"created_unix_us", s.created_unix_us()},
              {"updated_unix_us", s.updated_unix_us()}};
  if (s.state() == v1::SCORE_STATE_COMPLETED) out["result"] = EmbeddedJson(s.result_json());
  if (s.state() == v1::SCORE_STATE_FAILED) out["error"] = s.error();
  return out;
}

void PrintNeuralReport(const json& report, std::ostream& out) {
  const json& regions = At(report, "regions");
  const json& layers = At(report, "layers");
  out << "Neural predictivity ("
      << (At(report, "method").is_string() ? At(report, "method").get<std::string>() : "?") << "; "
      << (At(report, "data").is_string() ? At(report, "data").get<std::string>() : "")
      << (At(report, "seconds").is_number()
              ? absl::StrCat("; ", FormatNumber(At(report, "seconds").get<double>(), 2), " s")
              : "")
      << ")\n";
  Table summary({"region", "sites", "best layer", "median r", "normalised", "ceiling"});
  if (regions.is_array()) {
    for (const json& r : regions) {
      summary.AddRow({At(r, "region").is_string() ? At(r, "region").get<std::string>() : "?",
                      At(r, "sites").dump(), At(r, "best_layer").dump(), Num(At(r, "median_r")),
                      Num(At(r, "median_normalized")), Num(At(r, "median_ceiling"))});
    }
  }
  summary.AddRow(
      {"all", "", "", Num(At(report, "median_r")), Num(At(report, "median_normalized")), ""});
  summary.Print(out);

  // Per bin: each region's median r and normalised r at its best layer.
  const json& starts = At(report, "bin_start_ms");
  const json& steps = At(report, "bin_steps");
  if (starts.is_array() && !starts.empty() && regions.is_array()) {
    out << "\nPer time bin (median over sites, best layer):\n";
    std::vector<std::string> header = {"bin", "start ms", "step"};
    for (const json& r : regions) {
      const std::string name =
          At(r, "region").is_string() ? At(r, "region").get<std::string>() : "?";
      header.push_back(name + " r");
      header.push_back(name + " norm");
    }
    Table bins(header);
    for (size_t b = 0; b < starts.size(); ++b) {
      const json& step = Index(steps, b);
      std::vector<std::string> row = {
          std::to_string(b), FormatNumber(starts[b].is_number() ? starts[b].get<double>() : NAN),
          step.is_number_integer() && step.get<int>() >= 0 ? step.dump() : "-"};
      for (const json& r : regions) {
        row.push_back(Num(Index(At(r, "bin_median_r"), b)));
        row.push_back(Num(Index(At(r, "bin_median_normalized"), b)));
      }
      bins.AddRow(std::move(row));
    }
    bins.Print(out);
  }

  // Per layer: each region's median raw r.
  if (layers.is_array() && !layers.empty() && regions.is_array()) {
    out << "\nPer layer (median raw r):\n";
    std::vector<std::string> header = {"region"};
    for (const json& l : layers) header.push_back("layer " + l.dump());
    Table by_layer(header);
    for (const json& r : regions) {
      std::vector<std::string> row = {
          At(r, "region").is_string() ? At(r, "region").get<std::string>() : "?"};
      for (size_t i = 0; i < layers.size(); ++i) {
        row.push_back(Num(Index(At(r, "layer_median_r"), i)));
      }
      by_layer.AddRow(std::move(row));
    }
    by_layer.Print(out);
  }
}

void PrintNeuralScores(const google::protobuf::RepeatedPtrField<v1::NeuralScore>& scores,
                       std::ostream& out) {
  for (const v1::NeuralScore& s : scores) {
    const json neural = EmbeddedJson(s.neural_json());
    out << "\nNeural score " << s.id() << ": " << ScoreStateName(s.state()) << ", "
        << (At(neural, "file").is_string() ? At(neural, "file").get<std::string>() : "?") << " ("
        << (At(neural, "method").is_string() ? At(neural, "method").get<std::string>() : "?")
        << "), asked " << FormatTime(s.created_unix_us()) << "\n";
    if (s.state() == v1::SCORE_STATE_FAILED) out << "  error: " << TerminalSafe(s.error()) << "\n";
    if (s.state() == v1::SCORE_STATE_COMPLETED)
      PrintNeuralReport(EmbeddedJson(s.result_json()), out);
  }
}

}  // namespace convrnn::client
