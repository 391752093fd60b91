// Human and JSON views of neural-predictivity scores (`convrnn score`, and
// the neural section of `convrnn show`): per region the raw and normalised
// medians with the best layer, per time bin the medians of each region, and
// every layer's median raw r. Pure functions of wire messages.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_CLIENT_NEURAL_RENDER_H_
#define CONVRNN_CLIENT_NEURAL_RENDER_H_

#include <nlohmann/json.hpp>
#include <ostream>

#include "proto/convrnn.pb.h"

namespace convrnn::client {

namespace v1 = ::convrnn::v1;

// "pending", "leased", "completed", "failed".
std::string ScoreStateName(v1::ScoreState state);

// {"id", "trial_id", "state", "neural": {...}, "result": {...} | "error"}.
nlohmann::json ToJson(const v1::NeuralScore& score);

// The report of a COMPLETED score as tables: regions (best layer, median r,
// normalised, ceiling), bins, layers. A report missing parts prints what it has.
void PrintNeuralReport(const nlohmann::json& report, std::ostream& out);

// One block per score: its state, file and method, and the report tables
// for COMPLETED ones (the error for FAILED ones).
void PrintNeuralScores(const google::protobuf::RepeatedPtrField<v1::NeuralScore>& scores,
                       std::ostream& out);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_NEURAL_RENDER_H_
