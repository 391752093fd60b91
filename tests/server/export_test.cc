// Export (server/export.h) through the ExportTrials stream and the unary
// Export, in process over loopback; and parameter importance through the
// coordinator.
#include "server/export.h"

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/server/in_process_server.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using nlohmann::json;

constexpr int kEpochMetrics = 60;

// Runs `trials` trials of a fresh campaign to completion, each reporting two
// epochs of kEpochMetrics metrics (about 5 KB of JSON per trial).
int64_t RunCampaign(Coordinator& c, FakeClock& clock, int trials) {
  const int64_t campaign =
      Must(c.Launch(SmallCampaign({{"search", {{"max_trials", trials}, {"max_parallel", trials}}}})
                        .dump()))
          .campaign.id;
  db::Worker w;
  w.hostname = "h";
  w.device = "cpu";
  const int64_t worker = Must(c.RegisterWorker(w)).worker_id;
  for (int i = 0; i < trials; ++i) {
    LeaseGrant grant = Must(c.LeaseTrial(worker));
    REQUIRE(grant.has_trial);
    for (int epoch = 1; epoch <= 2; ++epoch) {
      Metrics m = {{"val_top1", 0.1 * epoch + 0.001 * i}};
      for (int k = 0; k < kEpochMetrics; ++k) m["metric_" + std::to_string(k)] = k + 0.123456789;
      clock.Advance(absl::Seconds(1));
      MustOk(c.ReportProgress(worker, grant.trial.lease_token, epoch, m).status());
    }
    MustOk(c.Complete(worker, grant.trial.lease_token, {{"val_top1", 0.2 + 0.001 * i}}).status());
  }
  return campaign;
}

struct Streamed {
  grpc::Status status;
  std::vector<v1::ExportChunk> chunks;
  std::string document() const {
    std::string all;
    for (const v1::ExportChunk& c : chunks) all += c.content();
    return all;
  }
};

Streamed Stream(InProcessServer& s, int64_t campaign, const std::string& format,
                const std::string& token = "", int cancel_after = -1) {
  auto context = s.Context(token);
  v1::ExportRequest request;
  request.set_campaign_id(campaign);
  request.set_format(format);
  auto reader = s.campaigns->ExportTrials(context.get(), request);
  Streamed out;
  v1::ExportChunk chunk;
  while (reader->Read(&chunk)) {
    out.chunks.push_back(chunk);
    if (static_cast<int>(out.chunks.size()) == cancel_after) context->TryCancel();
  }
  out.status = reader->Finish();
  return out;
}

TEST_CASE("ExportTrials streams a document past gRPC's 4 MB message limit", "[server]") {
  InProcessServer s;
  const int64_t campaign = RunCampaign(s.server->coordinator(), s.clock, 1000);

  // The unary Export cannot carry it: the client refuses a reply over 4 MB.
  v1::ExportRequest request;
  request.set_campaign_id(campaign);
  request.set_format("json");
  v1::ExportResponse unary;
  CHECK(s.campaigns->Export(s.Context().get(), request, &unary).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED);

  const Streamed json_stream = Stream(s, campaign, "json");
  REQUIRE(json_stream.status.ok());
  const std::string document = json_stream.document();
  CHECK(document.size() > (4u << 20));
  CHECK(json_stream.chunks.size() >= 4);
  CHECK(json_stream.chunks.front().content_type() == "application/json");
  for (const v1::ExportChunk& c : json_stream.chunks) CHECK(c.content().size() < (3u << 19));
  CHECK(json_stream.chunks.back().trials() == 1000);
  const json all = json::parse(document);
  REQUIRE(all.size() == 1000);
  const json& last = all[999];
  CHECK(last["number"] == 1000);
  CHECK(last["state"] == "COMPLETED");
  REQUIRE(last["epochs"].size() == 2);
  CHECK(last["epochs"][1]["epoch"] == 2);
  CHECK(last["epochs"][1]["metrics"]["val_top1"].get<double>() == Approx(0.2 + 0.999));
  CHECK(last["epochs"][1]["metrics"].size() == kEpochMetrics + 1);
  CHECK(last["epochs"][0]["reported_unix_us"] < last["epochs"][1]["reported_unix_us"]);
  CHECK(last["created_unix_us"] < last["updated_unix_us"]);

  // JSON lines: one trial a line, the same objects.
  const Streamed lines = Stream(s, campaign, "jsonl");
  REQUIRE(lines.status.ok());
  std::istringstream in(lines.document());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) CHECK(json::parse(line) == all[n++]);
  CHECK(n == 1000);

  // CSV: a header and a row per trial, the curve in epochs_json.
  const Streamed csv = Stream(s, campaign, "csv");
  REQUIRE(csv.status.ok());
  const std::string text = csv.document();
  const std::string header = text.substr(0, text.find("\r\n"));
  CHECK_THAT(header, Catch::EndsWith(",spec_json,created_unix_us,updated_unix_us,epochs_json"));
  CHECK_THAT(header, Catch::Contains("metric:val_top1"));
  size_t rows = 0;
  for (size_t at = 0; (at = text.find("\r\n", at)) != std::string::npos; at += 2) ++rows;
  CHECK(rows == 1001);
}

TEST_CASE("ExportTrials refuses bad requests and survives a client that leaves", "[server]") {
  InProcessServer s;
  const int64_t campaign = RunCampaign(s.server->coordinator(), s.clock, 300);
  CHECK(Stream(s, campaign, "xml").status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Stream(s, campaign + 100, "json").status.error_code() == grpc::StatusCode::NOT_FOUND);
  // The client cancels after the first chunk; the server ends that stream
  // and serves the next export whole.
  const Streamed cut = Stream(s, campaign, "jsonl", "", /*cancel_after=*/1);
  CHECK(cut.status.error_code() == grpc::StatusCode::CANCELLED);
  const Streamed whole = Stream(s, campaign, "jsonl");
  REQUIRE(whole.status.ok());
  CHECK(whole.chunks.back().trials() == 300);
  // The unary Export is the same document as the stream.
  CHECK(Must(ExportDocument(s.server->coordinator(), campaign, "json")).content ==
        Stream(s, campaign, "json").document());

  InProcessServer locked("s3cret");
  CHECK(Stream(locked, 1, "json").status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(Stream(locked, 1, "json", "s3cret").status.error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("importance of a campaign names the parameter its objective depends on", "[server]") {
  Harness h;
  const int64_t campaign =
      h.Launch(SmallCampaign({{"search", {{"max_trials", 60}, {"max_parallel", 60}}},
                              {"objectives", {{{"metric", "val_top1"}, {"goal", "max"}}}}}));
  const int64_t worker = h.Worker();
  CHECK(h.coordinator->Importance(campaign, "").status().code() ==
        absl::StatusCode::kFailedPrecondition);
  for (int i = 0; i < 60; ++i) {
    db::Trial t = h.Lease(worker);
    const double lr = json::parse(t.params_json)["train.lr"].get<double>();
    MustOk(h.coordinator->Complete(worker, t.lease_token, {{"val_top1", 10 * lr}}).status());
  }
  ImportanceResult r = Must(h.coordinator->Importance(campaign, ""));
  CHECK(r.metric == "val_top1");
  CHECK(r.trials == 60);
  REQUIRE(!r.params.empty());
  CHECK(r.params.front().name == "train.lr");
  CHECK(r.params.front().importance > 0.5);
  CHECK(h.coordinator->Importance(campaign, "no such").status().code() ==
        absl::StatusCode::kInvalidArgument);
  // A metric no trial reports leaves nothing to explain.
  CHECK(h.coordinator->Importance(campaign, "neural_predictivity").status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace convrnn::server::testing
