// Export of a campaign's trials as CSV or JSON (ExportRequest): one row or
// object per trial with its state, attempt, sampled params, final metrics
// and spec.
//
// CSV columns: trial_id, number, state, attempt, worker_id, failure_reason,
// then one column per sampled parameter ("param:train.lr") and per final
// metric ("metric:val_top1") over the union of all trials (empty when a trial
// lacks it), then spec_json. Fields are quoted per RFC 4180 when needed.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SERVER_EXPORT_H_
#define CONVRNN_SERVER_EXPORT_H_

#include <string>
#include <vector>

#include "db/store.h"

namespace convrnn::server {

std::string TrialsToCsv(const std::vector<db::Trial>& trials);
std::string TrialsToJson(const std::vector<db::Trial>& trials);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_EXPORT_H_
