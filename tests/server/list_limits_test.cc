// List replies stay small (issue 9 item 2): campaigns near the 1 MiB file
// limit no longer push `ListCampaigns` past the client's 4 MB receive limit,
// because lists carry no documents (GetCampaign does).
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <string>

#include "server/server.h"
#include "tests/server/in_process_server.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

TEST_CASE("campaigns of ~0.5 MB each still list under the 4 MB receive limit", "[server]") {
  InProcessServer s;
  v1::CampaignService::Stub* stub = s.campaigns.get();
  auto context = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return c;
  };
  // A choice of 90,000 seeds: ~0.53 MB of campaign JSON.
  nlohmann::json seeds = nlohmann::json::array();
  for (int i = 0; i < 90000; ++i) seeds.push_back(i);
  nlohmann::json campaign = SmallCampaign();
  campaign["space"]["train"]["seed"] = {{"choice", seeds}};
  const std::string text = campaign.dump();
  REQUIRE(text.size() * 9 > (4u << 20));  // more than the 4 MB limit in all
  for (int i = 0; i < 9; ++i) {           // 4.8 MB of documents in all
    v1::LaunchCampaignRequest request;
    request.set_campaign_json(text);
    v1::LaunchCampaignResponse response;
    grpc::Status s = stub->LaunchCampaign(context().get(), request, &response);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
  v1::ListCampaignsRequest list;
  v1::ListCampaignsResponse page;
  grpc::Status listed = stub->ListCampaigns(context().get(), list, &page);
  INFO(listed.error_message());
  REQUIRE(listed.ok());
  REQUIRE(page.campaigns_size() == 9);
  for (const v1::Campaign& c : page.campaigns()) {
    CHECK(c.campaign_json().empty());
    CHECK(c.name() == "small");
  }
  v1::GetCampaignRequest get;
  get.set_campaign_id(page.campaigns(0).id());
  v1::Campaign one;
  REQUIRE(stub->GetCampaign(context().get(), get, &one).ok());
  CHECK(one.campaign_json().size() == text.size());
  s.server->Shutdown();
}

}  // namespace
}  // namespace convrnn::server::testing
