// The paper's workflow as commands (issue 11): enqueue and extend a
// campaign, and the analyses of Nayebi et al. over its completed trials
// (search/analysis.h): the median architecture, feedback enrichment, and
// per-group comparison. Each prints a table or text, or JSON with
// env.json; bad input (a spec outside the space, --top 0, an unknown
// parameter) is INVALID_ARGUMENT, exit 2.
//
// Trials are ranked by the campaign's first objective (its metric in
// final_metrics and its goal); only COMPLETED trials with that metric count.
//
// Thread-safety: as commands.h.
#ifndef CONVRNN_CLIENT_PLAN_COMMANDS_H_
#define CONVRNN_CLIENT_PLAN_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/commands.h"

namespace convrnn::client {

// Reads each FILE (an architecture spec) and enqueues them in one call.
absl::Status EnqueueCommand(const CommandEnv& env, int64_t campaign_id,
                            const std::vector<std::string>& files);
// `max_parallel` 0 keeps the campaign's.
absl::Status ExtendCommand(const CommandEnv& env, int64_t campaign_id, int max_trials,
                           int max_parallel);
// Prints the median spec of the top-K (text: the spec JSON alone, so it can
// be saved and trained with convrnn-worker --spec); `enqueue` also queues it.
absl::Status MedianCommand(const CommandEnv& env, int64_t campaign_id, int top, bool enqueue);
absl::Status EnrichmentCommand(const CommandEnv& env, int64_t campaign_id, int top);
// `by`: "cell_type" (the layers' cell types, from each trial's spec) or a
// parameter name of the space ("layers[1].cell.type", "train.lr").
absl::Status CompareCommand(const CommandEnv& env, int64_t campaign_id, const std::string& by);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_PLAN_COMMANDS_H_
