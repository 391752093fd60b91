// `convrnn export ID --format optuna --storage sqlite:///FILE`: the campaign
// as an Optuna study (db/optuna_study.h) that `optuna.load_study`, its plots
// and optuna-dashboard read.
//
//   distributions  from the campaign's space: uniform -> FloatDistribution,
//                  loguniform -> FloatDistribution(log=True), int ->
//                  IntDistribution(step), choice -> CategoricalDistribution
//                  (choices as JSON values: "rgc", 3, true); a conditional
//                  parameter appears only in the trials where it is active;
//   trials         number = the campaign's number - 1; COMPLETED -> COMPLETE
//                  with one value per objective (a completed trial missing
//                  one is FAIL), PRUNED -> PRUNED (single objective: its last
//                  reported value, as Optuna's tell does), FAILED -> FAIL,
//                  LEASED/RUNNING -> RUNNING, PENDING -> WAITING;
//   intermediate   per epoch, the first objective's metric when epochs
//   values         report it, else val_top1 (a retried epoch: the last report);
//   user attrs     study: convrnn_campaign_id, convrnn_campaign (its JSON);
//                  trial: convrnn_trial_id, convrnn_state, convrnn_attempt,
//                  convrnn_spec, and failure_reason when set.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_CLIENT_OPTUNA_EXPORT_H_
#define CONVRNN_CLIENT_OPTUNA_EXPORT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "db/optuna_study.h"
#include "search/space.h"

namespace convrnn::client {

struct OptunaObjective {
  std::string metric;
  bool maximize = true;
};

// Optuna's distribution JSON of one parameter.
std::string OptunaDistributionJson(const search::Param& param);
// The campaign JSON's objectives (default: val_top1, max).
std::vector<OptunaObjective> CampaignObjectives(const nlohmann::json& campaign);
// One exported trial (server/export.h's JSON object) as an Optuna trial.
db::OptunaTrial ToOptunaTrial(const search::Space& space,
                              const std::vector<OptunaObjective>& objectives,
                              const nlohmann::json& trial);
// "sqlite:///F" -> "F" (so "sqlite:////abs/f.db" -> "/abs/f.db").
absl::StatusOr<std::string> SqlitePathOf(const std::string& storage);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_OPTUNA_EXPORT_H_
