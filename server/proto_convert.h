// Translation between the wire contract (proto/convrnn.proto) and the
// coordinator's domain types, plus the one absl::Status -> grpc::Status
// helper every handler uses.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SERVER_PROTO_CONVERT_H_
#define CONVRNN_SERVER_PROTO_CONVERT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/store.h"
#include "proto/convrnn.pb.h"
#include "server/coordinator.h"

namespace convrnn::server {

// Same code (abseil's codes are gRPC's), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

v1::TrialState ToProto(db::TrialState state);
v1::CampaignState ToProto(db::CampaignState state);
// UNSPECIFIED -> nullopt ("any state").
std::optional<db::TrialState> FromProto(v1::TrialState state);

void ToProto(const CampaignView& view, v1::Campaign* out);
void ToProto(const db::Trial& trial, v1::Trial* out);
void ToProto(const db::EpochReport& epoch, v1::EpochMetrics* out);
void ToProto(const WorkerView& worker, v1::Worker* out);
void ToProto(const db::Score& score, v1::NeuralScore* out);
// Store events carry their details as JSON; this spreads them over the
// CampaignEvent fields.
void ToProto(const db::Event& event, v1::CampaignEvent* out);

Metrics FromProto(const google::protobuf::Map<std::string, double>& metrics);

// Page tokens are the decimal position to continue after; "" is the start.
std::string EncodePageToken(int64_t position);
absl::StatusOr<int64_t> DecodePageToken(const std::string& token);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_PROTO_CONVERT_H_
