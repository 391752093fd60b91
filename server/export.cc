#include "server/export.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/metrics.h"
#include "util/csv.h"
#include "util/status_macros.h"

namespace convrnn::server {
namespace {

using nlohmann::json;

json ObjectOrEmpty(const std::string& text) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

json EpochsJson(const std::vector<db::EpochReport>& epochs) {
  json out = json::array();
  for (const db::EpochReport& e : epochs) {
    out.push_back({{"epoch", e.epoch},
                   {"attempt", e.attempt},
                   {"reported_unix_us", e.reported_us},
                   {"metrics", ObjectOrEmpty(e.metrics_json)}});
  }
  return out;
}

json TrialJson(const db::Trial& t, json epochs) {
  json spec = json::parse(t.spec_json, nullptr, false);
  return {{"trial_id", t.id},
          {"campaign_id", t.campaign_id},
          {"number", t.number},
          {"state", std::string(db::TrialStateName(t.state))},
          {"attempt", t.attempt},
          {"worker_id", t.worker_id},
          {"params", ObjectOrEmpty(t.params_json)},
          {"final_metrics", ObjectOrEmpty(t.metrics_json)},
          {"failure_reason", t.failure_reason},
          {"spec", spec.is_discarded() ? json(t.spec_json) : spec},
          {"created_unix_us", t.created_us},
          {"updated_unix_us", t.updated_us},
          {"epochs", std::move(epochs)}};
}

}  // namespace

TrialExporter::TrialExporter(Coordinator& coordinator, int64_t campaign_id, std::string format,
                             const Options& options)
    : coordinator_(coordinator),
      campaign_id_(campaign_id),
      format_(std::move(format)),
      options_(options) {
  if (format_ == "csv") content_type_ = "text/csv";
  if (format_ == "json") content_type_ = "application/json";
  if (format_ == "jsonl") content_type_ = "application/x-ndjson";
}

absl::StatusOr<std::unique_ptr<TrialExporter>> TrialExporter::Open(Coordinator& coordinator,
                                                                   int64_t campaign_id,
                                                                   const std::string& format,
                                                                   const Options& options) {
  if (format != "csv" && format != "json" && format != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("format: must be csv, json or jsonl, got \"", format, "\""));
  }
  if (absl::Status s = coordinator.GetCampaign(campaign_id).status(); !s.ok()) return s;
  std::unique_ptr<TrialExporter> exporter(
      new TrialExporter(coordinator, campaign_id, format, options));
  if (format == "csv") {
    if (absl::Status s = exporter->CollectColumns(); !s.ok()) return s;
  }
  return exporter;
}

absl::Status TrialExporter::CollectColumns() {
  int64_t after = 0;
  do {
    ASSIGN_OR_RETURN(TrialPage page, coordinator_.ListTrials(campaign_id_, std::nullopt, after,
                                                             options_.page_size));
    for (const db::Trial& t : page.trials) {
      const json params = ObjectOrEmpty(t.params_json);
      const json metrics = ObjectOrEmpty(t.metrics_json);
      for (auto it = params.begin(); it != params.end(); ++it) param_names_.insert(it.key());
      for (auto it = metrics.begin(); it != metrics.end(); ++it) metric_names_.insert(it.key());
    }
    after = page.next_after_number;
  } while (after != 0);
  return absl::OkStatus();
}

std::string TrialExporter::Header() const {
  std::string out = "trial_id,number,state,attempt,worker_id,failure_reason";
  for (const std::string& p : param_names_) absl::StrAppend(&out, ",", CsvField("param:" + p));
  for (const std::string& m : metric_names_) absl::StrAppend(&out, ",", CsvField("metric:" + m));
  return out + ",spec_json,created_unix_us,updated_unix_us,epochs_json\r\n";
}

absl::StatusOr<std::string> TrialExporter::Row(const db::Trial& t) {
  ASSIGN_OR_RETURN(std::vector<db::EpochReport> epochs, coordinator_.TrialEpochs(t.id));
  if (format_ != "csv") {
    return TrialJson(t, EpochsJson(epochs)).dump() + (format_ == "jsonl" ? "\n" : "");
  }
  const json params = ObjectOrEmpty(t.params_json);
  const json metrics = ObjectOrEmpty(t.metrics_json);
  std::string row = absl::StrCat(t.id, ",", t.number, ",", std::string(db::TrialStateName(t.state)),
                                 ",", t.attempt, ",", t.worker_id, ",", CsvField(t.failure_reason));
  for (const std::string& p : param_names_) {
    row += ",";
    if (params.contains(p)) row += CsvField(CsvScalar(params[p]));
  }
  for (const std::string& m : metric_names_) {
    row += ",";
    if (metrics.contains(m)) row += CsvScalar(metrics[m]);
  }
  absl::StrAppend(&row, ",", CsvField(t.spec_json), ",", t.created_us, ",", t.updated_us, ",",
                  CsvField(EpochsJson(epochs).dump()), "\r\n");
  return row;
}

absl::StatusOr<std::string> TrialExporter::Next() {
  if (done_) return std::string();
  std::string chunk;
  if (!started_) {
    if (format_ == "csv") chunk = Header();
    if (format_ == "json") chunk = "[";
    started_ = true;
  }
  while (chunk.size() < options_.chunk_bytes) {
    ASSIGN_OR_RETURN(TrialPage page, coordinator_.ListTrials(campaign_id_, std::nullopt,
                                                             after_number_, options_.page_size));
    for (const db::Trial& t : page.trials) {
      ASSIGN_OR_RETURN(std::string row, Row(t));
      if (format_ == "json") chunk += written_ == 0 ? "\n" : ",\n";
      chunk += row;
      ++written_;
      after_number_ = t.number;
      if (chunk.size() >= options_.chunk_bytes) return chunk;
    }
    if (page.next_after_number == 0) {
      if (format_ == "json") chunk += "\n]\n";
      done_ = true;
      break;
    }
  }
  return chunk;
}

absl::StatusOr<ExportedDocument> ExportDocument(Coordinator& coordinator, int64_t campaign_id,
                                                const std::string& format) {
  if (format == "jsonl") return absl::InvalidArgumentError("format: jsonl needs ExportTrials");
  ASSIGN_OR_RETURN(std::unique_ptr<TrialExporter> exporter,
                   TrialExporter::Open(coordinator, campaign_id, format, {}));
  ExportedDocument doc{exporter->content_type(), ""};
  while (true) {
    ASSIGN_OR_RETURN(std::string chunk, exporter->Next());
    if (chunk.empty()) return doc;
    doc.content += chunk;
  }
}

}  // namespace convrnn::server
