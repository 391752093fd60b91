// Fuzz target: proto-to-domain conversion of what clients and workers send
// (server/proto_convert.h): page tokens, trial states, metric maps and the
// campaign JSON of a LaunchCampaignRequest, from arbitrary wire bytes. The
// first byte picks the message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/convrnn.pb.h"
#include "server/campaign.h"
#include "server/proto_convert.h"

namespace v1 = convrnn::v1;
using convrnn::server::DecodePageToken;
using convrnn::server::FromProto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* body = data + 1;
  const int n = static_cast<int>(size - 1);
  switch (data[0] % 5) {
    case 0: {
      v1::LaunchCampaignRequest r;
      if (r.ParseFromArray(body, n)) (void)convrnn::server::ParseCampaignText(r.campaign_json());
      break;
    }
    case 1: {
      v1::ListTrialsRequest r;
      if (r.ParseFromArray(body, n)) {
        (void)DecodePageToken(r.page_token());
        (void)FromProto(r.state());
      }
      break;
    }
    case 2: {
      v1::ListCampaignsRequest r;
      if (r.ParseFromArray(body, n)) (void)DecodePageToken(r.page_token());
      break;
    }
    case 3: {
      v1::CompleteTrialRequest r;
      if (r.ParseFromArray(body, n)) (void)FromProto(r.final_metrics());
      break;
    }
    default: {
      v1::ReportProgressRequest r;
      if (r.ParseFromArray(body, n)) (void)FromProto(r.metrics());
      break;
    }
  }
  return 0;
}
