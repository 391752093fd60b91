// Human views of campaigns, trials and workers: aligned tables and the text
// of `convrnn status` / `convrnn show`. Pure functions of wire messages, so
// they are tested without a server.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_CLIENT_RENDER_H_
#define CONVRNN_CLIENT_RENDER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "proto/convrnn.pb.h"

namespace convrnn::client {

namespace v1 = ::convrnn::v1;

void PrintCampaignTable(const std::vector<v1::Campaign>& campaigns, std::ostream& out);
// Name, state, counts, times, and the search settings read from its JSON.
void PrintCampaignStatus(const v1::Campaign& campaign, std::ostream& out);
// One row per trial: id, number, state, attempt, worker, val_top1, params,
// architecture summary, failure reason.
void PrintTrialTable(const std::vector<v1::Trial>& trials, std::ostream& out);
// Ranked by `metric`: the metric column first, then val_top1 and params.
void PrintRankedTable(const std::vector<v1::Trial>& trials, const std::string& metric,
                      std::ostream& out);
// `objectives` as "metric:goal"; one column per objective metric.
void PrintParetoTable(const std::vector<v1::Trial>& trials,
                      const std::vector<std::string>& objectives, std::ostream& out);
// `now_unix_us` dates "last seen" ("12s ago").
void PrintWorkerTable(const std::vector<v1::Worker>& workers, int64_t now_unix_us,
                      std::ostream& out);
// The full text of `convrnn show`: header, the spec described, final
// metrics and the per-epoch curve. A spec that does not parse is printed raw.
void PrintTrialText(const v1::Trial& trial, std::ostream& out);

// The server's CSV export (util/csv.h: same columns, quoting and numbers),
// built from the trial list when the server cannot export itself.
std::string TrialsToCsv(const std::vector<v1::Trial>& trials);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_RENDER_H_
