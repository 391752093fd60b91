// The dashboard's trial table: filter, sort and page a snapshot's trials on
// the server, so the page holds one page of a 100,000-trial campaign.
//
//   state   a trial state name (COMPLETED, ...) or empty for all
//   filter  conditions joined by "," or " and ": KEY OP VALUE with OP one of
//           = != < <= > >=; KEY a parameter ("train.lr",
//           "layers[1].cell.type"), a final metric ("val_top1") or number,
//           attempt, worker; a string VALUE compares as text ("=rgc")
//   sort    "number" (default), "state", "attempt", "worker", a metric or
//           a parameter; trials without the key sort last
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SERVER_DASHBOARD_TRIAL_TABLE_H_
#define CONVRNN_SERVER_DASHBOARD_TRIAL_TABLE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "server/dashboard/snapshot.h"

namespace convrnn::server::dashboard {

struct TableQuery {
  int64_t offset = 0;
  int64_t limit = 50;
  std::string sort = "number";
  bool descending = false;
  std::string state;
  std::string filter;
};

// {"total": matching rows, "offset", "rows": [{"id", "number", "state",
// "attempt", "worker_id", "metrics": {...}, "params": {...}, "cells",
// "edges", "failure_reason", "updated_unix_us"}]}. INVALID_ARGUMENT names a
// malformed filter or state.
absl::StatusOr<nlohmann::json> QueryTrials(const CampaignSnapshot& s, const TableQuery& q);

}  // namespace convrnn::server::dashboard

#endif  // CONVRNN_SERVER_DASHBOARD_TRIAL_TABLE_H_
