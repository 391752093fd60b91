// Export of a campaign's trials (ExportTrials, Export): one CSV row, JSON
// object or JSON line per trial, in trial-number order, with its state,
// attempt, sampled params, final metrics, spec, timestamps and per-epoch
// reports (the learning curve), produced a chunk at a time so that neither
// side holds the whole document.
//
// CSV columns: trial_id, number, state, attempt, worker_id, failure_reason,
// then one column per sampled parameter ("param:train.lr") and per final
// metric ("metric:val_top1") over the union of all trials (empty when a trial
// lacks it), then spec_json, created_unix_us, updated_unix_us and
// epochs_json (the JSON array below). Fields are quoted per RFC 4180 when
// needed. Knowing the columns takes a first pass over the trials (their
// params and metrics only), so CSV reads every trial twice.
//
// JSON: an array of objects {"trial_id", "campaign_id", "number", "state",
// "attempt", "worker_id", "params", "final_metrics", "failure_reason",
// "spec", "created_unix_us", "updated_unix_us", "epochs"}, where "epochs" is
// [{"epoch", "attempt", "reported_unix_us", "metrics": {...}}, ...] oldest
// first. JSON lines ("jsonl"): the same objects, one per line.
//
// Cost: the trials are read a page at a time (ListTrials) and each trial's
// epochs with one indexed read; memory holds one page and one chunk.
//
// Thread-safety: a TrialExporter is used by one thread at a time; the
// Coordinator it reads is thread-safe.
#ifndef CONVRNN_SERVER_EXPORT_H_
#define CONVRNN_SERVER_EXPORT_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/coordinator.h"

namespace convrnn::server {

class TrialExporter {
 public:
  struct Options {
    // A chunk ends after the trial that takes it past this size (so a
    // chunk holds whole trials and may exceed it by one trial). Default 1 MiB.
    size_t chunk_bytes = 1 << 20;
    // Trials read per page. Default 200.
    int page_size = 200;
  };

  // INVALID_ARGUMENT for a format other than csv, json or jsonl; NOT_FOUND
  // for an unknown campaign. CSV's first pass happens here.
  static absl::StatusOr<std::unique_ptr<TrialExporter>> Open(Coordinator& coordinator,
                                                             int64_t campaign_id,
                                                             const std::string& format,
                                                             const Options& options);

  // "text/csv", "application/json" or "application/x-ndjson".
  const std::string& content_type() const { return content_type_; }
  // The next piece of the document; "" once it is complete.
  absl::StatusOr<std::string> Next();
  // Trials written so far.
  int64_t trials_written() const { return written_; }

 private:
  TrialExporter(Coordinator& coordinator, int64_t campaign_id, std::string format,
                const Options& options);
  absl::Status CollectColumns();
  absl::StatusOr<std::string> Row(const db::Trial& trial);
  std::string Header() const;

  Coordinator& coordinator_;
  const int64_t campaign_id_;
  const std::string format_;
  const Options options_;
  std::string content_type_;
  std::set<std::string> param_names_, metric_names_;  // CSV columns
  int64_t after_number_ = 0;
  int64_t written_ = 0;
  bool started_ = false;
  bool done_ = false;
};

// The whole document at once (the unary Export RPC).
absl::StatusOr<ExportedDocument> ExportDocument(Coordinator& coordinator, int64_t campaign_id,
                                                const std::string& format);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_EXPORT_H_
