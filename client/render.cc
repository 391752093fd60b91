#include "client/render.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/format.h"
#include "client/proto_json.h"
#include "client/spec_render.h"
#include "spec/arch_spec.h"
#include "util/csv.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

using nlohmann::json;

std::string Metric(const google::protobuf::Map<std::string, double>& metrics,
                   const std::string& name) {
  auto it = metrics.find(name);
  return it == metrics.end() ? "-" : FormatMetric(name, it->second);
}

std::string Architecture(const v1::Trial& t) {
  auto spec = ParseArchSpecText(t.spec_json());
  return spec.ok() ? ArchSummary(*spec) : "?";
}

std::string OrDash(int64_t v) { return v == 0 ? "-" : std::to_string(v); }

// A flat JSON scalar as a CSV cell.
std::string Scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// The stored spelling (db::TrialStateName, as the server's export writes
// it), so both CSVs agree.
std::string CsvStateName(v1::TrialState state) {
  const std::optional<db::TrialState> known = DbTrialState(state);
  if (known.has_value()) return std::string(db::TrialStateName(*known));
  return absl::AsciiStrToUpper(TrialStateName(state));
}

}  // namespace

void PrintCampaignTable(const std::vector<v1::Campaign>& campaigns, std::ostream& out) {
  Table table({"ID", "NAME", "STATE", "DONE", "RUNNING", "PENDING", "FAILED", "PRUNED", "TOTAL",
               "CREATED"});
  for (const auto& c : campaigns) {
    const auto& n = c.counts();
    table.AddRow({std::to_string(c.id()), c.name(), CampaignStateName(c.state()),
                  FormatThousands(n.completed()), FormatThousands(n.running() + n.leased()),
                  FormatThousands(n.pending()), FormatThousands(n.failed()),
                  FormatThousands(n.pruned()), FormatThousands(n.total()),
                  FormatTime(c.created_unix_us())});
  }
  if (table.empty()) {
    out << "no campaigns\n";
    return;
  }
  table.Print(out);
}

void PrintCampaignStatus(const v1::Campaign& c, std::ostream& out) {
  const auto& n = c.counts();
  out << "Campaign " << c.id() << ": " << TerminalSafe(c.name()) << '\n';
  out << "State:    " << CampaignStateName(c.state()) << '\n';
  out << "Created:  " << FormatTime(c.created_unix_us()) << " UTC\n";
  out << "Updated:  " << FormatTime(c.updated_unix_us()) << " UTC\n";
  json doc = EmbeddedJson(c.campaign_json());
  std::string budget;
  if (doc.is_object() && doc.contains("search") && doc["search"].is_object()) {
    const json& s = doc["search"];
    std::vector<std::string> parts;
    if (s.contains("algorithm")) parts.push_back(Scalar(s["algorithm"]));
    if (s.contains("max_trials"))
      parts.push_back(absl::StrCat("max_trials=", Scalar(s["max_trials"])));
    if (s.contains("max_parallel")) {
      parts.push_back(absl::StrCat("max_parallel=", Scalar(s["max_parallel"])));
    }
    if (s.contains("early_stopping") && s["early_stopping"].is_object() &&
        s["early_stopping"].contains("rule")) {
      parts.push_back(absl::StrCat("early_stopping=", Scalar(s["early_stopping"]["rule"])));
    }
    if (s.contains("max_trials")) budget = absl::StrCat(" of ", Scalar(s["max_trials"]));
    out << "Search:   " << absl::StrJoin(parts, " ") << '\n';
  }
  if (doc.is_object() && doc.contains("objectives") && doc["objectives"].is_array()) {
    std::vector<std::string> parts;
    for (const json& o : doc["objectives"]) {
      if (o.is_object())
        parts.push_back(
            absl::StrCat(Scalar(o.value("metric", json())), ":", Scalar(o.value("goal", json()))));
    }
    out << "Objectives: " << absl::StrJoin(parts, ", ") << '\n';
  }
  out << "Trials:   " << n.total() << budget << " proposed: " << n.completed() << " done, "
      << n.running() + n.leased() << " running, " << n.pending() << " pending, " << n.failed()
      << " failed, " << n.pruned() << " pruned\n";
}

void PrintTrialTable(const std::vector<v1::Trial>& trials, std::ostream& out) {
  Table table(
      {"TRIAL", "#", "STATE", "ATTEMPT", "WORKER", "VAL_TOP1", "PARAMS", "ARCHITECTURE", "REASON"});
  for (const auto& t : trials) {
    table.AddRow({std::to_string(t.id()), std::to_string(t.number()), TrialStateName(t.state()),
                  std::to_string(t.attempt()), OrDash(t.worker_id()),
                  Metric(t.final_metrics(), "val_top1"), Metric(t.final_metrics(), "params"),
                  Architecture(t), t.failure_reason()});
  }
  if (table.empty()) {
    out << "no trials\n";
    return;
  }
  table.Print(out);
}

void PrintRankedTable(const std::vector<v1::Trial>& trials, const std::string& metric,
                      std::ostream& out) {
  std::vector<std::string> header = {"RANK", "TRIAL", "#"};
  std::vector<std::string> metrics = {metric};
  for (const char* extra : {"val_top1", "params", "flops"}) {
    if (metric != extra) metrics.push_back(extra);
  }
  for (const auto& m : metrics) header.push_back(absl::AsciiStrToUpper(m));
  header.push_back("ARCHITECTURE");
  Table table(header);
  int rank = 0;
  for (const auto& t : trials) {
    std::vector<std::string> row = {std::to_string(++rank), std::to_string(t.id()),
                                    std::to_string(t.number())};
    for (const auto& m : metrics) row.push_back(Metric(t.final_metrics(), m));
    row.push_back(Architecture(t));
    table.AddRow(std::move(row));
  }
  if (table.empty()) {
    out << "no completed trials\n";
    return;
  }
  table.Print(out);
}

void PrintParetoTable(const std::vector<v1::Trial>& trials,
                      const std::vector<std::string>& objectives, std::ostream& out) {
  std::vector<std::string> metrics;
  for (const auto& o : objectives) {
    metrics.push_back(o.substr(0, o.find(':')));  // "val_top1:max" -> "val_top1"
  }
  std::vector<std::string> header = {"TRIAL", "#"};
  for (const auto& m : metrics) header.push_back(absl::AsciiStrToUpper(m));
  header.push_back("ARCHITECTURE");
  Table table(header);
  for (const auto& t : trials) {
    std::vector<std::string> row = {std::to_string(t.id()), std::to_string(t.number())};
    for (const auto& m : metrics) row.push_back(Metric(t.final_metrics(), m));
    row.push_back(Architecture(t));
    table.AddRow(std::move(row));
  }
  out << "Pareto front (" << absl::StrJoin(objectives, ", ") << "): " << trials.size()
      << " trials\n";
  if (!table.empty()) table.Print(out);
}

void PrintWorkerTable(const std::vector<v1::Worker>& workers, int64_t now_unix_us,
                      std::ostream& out) {
  Table table({"WORKER", "HOST", "PID", "DEVICE", "VERSION", "TRIAL", "LAST SEEN", "STATUS"});
  for (const auto& w : workers) {
    std::string seen = "-";
    if (w.last_seen_unix_us() > 0) {
      seen = FormatDuration((now_unix_us - w.last_seen_unix_us()) / 1e6) + " ago";
    }
    table.AddRow({std::to_string(w.id()), w.hostname(), std::to_string(w.pid()), w.device(),
                  w.version(), OrDash(w.current_trial_id()), seen,
                  w.presumed_dead() ? "dead" : (w.current_trial_id() ? "busy" : "idle")});
  }
  if (table.empty()) {
    out << "no workers\n";
    return;
  }
  table.Print(out);
}

void PrintTrialText(const v1::Trial& t, std::ostream& out) {
  out << "Trial " << t.id() << " (campaign " << t.campaign_id() << ", #" << t.number()
      << "): " << TrialStateName(t.state()) << ", attempt " << t.attempt();
  if (t.worker_id() != 0) out << ", worker " << t.worker_id();
  out << '\n';
  if (!t.failure_reason().empty()) out << "Reason: " << TerminalSafe(t.failure_reason()) << '\n';

  auto spec = ParseArchSpecText(t.spec_json());
  if (spec.ok()) {
    DescribeSpec(*spec, out);
  } else {
    out << "Spec (does not parse: " << TerminalSafe(spec.status().message()) << "):\n"
        << TerminalSafe(t.spec_json()) << '\n';
  }

  if (!t.final_metrics().empty()) {
    std::map<std::string, double> sorted(t.final_metrics().begin(), t.final_metrics().end());
    std::vector<std::string> parts;
    for (const auto& [name, value] : sorted) {
      parts.push_back(absl::StrCat(name, "=", FormatMetric(name, value)));
    }
    out << "Metrics: " << absl::StrJoin(parts, " ") << '\n';
  }

  if (t.epochs_size() > 0) {
    // Columns: every metric any epoch reported, well-known ones first.
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const char* known : {"train_loss", "val_top1", "lr", "images_per_s", "wall_s"}) {
      for (const auto& e : t.epochs()) {
        if (e.metrics().count(known) && seen.insert(known).second) names.push_back(known);
      }
    }
    std::set<std::string> rest;
    for (const auto& e : t.epochs()) {
      for (const auto& [name, value] : e.metrics()) {
        if (!seen.count(name)) rest.insert(name);
      }
    }
    names.insert(names.end(), rest.begin(), rest.end());
    std::vector<std::string> header = {"EPOCH", "ATTEMPT"};
    for (const auto& n : names) header.push_back(absl::AsciiStrToUpper(n));
    Table table(header);
    for (const auto& e : t.epochs()) {
      std::vector<std::string> row = {std::to_string(e.epoch()), std::to_string(e.attempt())};
      for (const auto& n : names) row.push_back(Metric(e.metrics(), n));
      table.AddRow(std::move(row));
    }
    out << "Epochs:\n";
    table.Print(out);
  }
}

std::string TrialsToCsv(const std::vector<v1::Trial>& trials) {
  std::vector<CsvTrial> rows;
  for (const v1::Trial& t : trials) {
    CsvTrial row{t.id(),         t.number(),     CsvStateName(t.state()),
                 t.attempt(),    t.worker_id(),  t.failure_reason(),
                 json::object(), json::object(), t.spec_json()};
    json params = EmbeddedJson(t.params_json());
    if (params.is_object()) row.params = std::move(params);
    for (const auto& [name, value] : t.final_metrics()) row.metrics[name] = value;
    rows.push_back(std::move(row));
  }
  return convrnn::TrialsToCsv(rows);
}

}  // namespace convrnn::client
