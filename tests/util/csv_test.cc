#include "util/csv.h"

#include <catch2/catch.hpp>
#include <string>

namespace convrnn {
namespace {

TEST_CASE("CSV scalars: integral numbers without .0, others read back exactly", "[util]") {
  CHECK(CsvScalar(nlohmann::json(12345.0)) == "12345");
  CHECK(CsvScalar(nlohmann::json(12345)) == "12345");
  CHECK(CsvScalar(nlohmann::json(0.875)) == "0.875");
  CHECK(CsvScalar(nlohmann::json(0.1)) == "0.1");
  CHECK(CsvScalar(nlohmann::json("gru")) == "gru");
  CHECK(CsvScalar(nlohmann::json(true)) == "true");
}

TEST_CASE("the trial table: params then metrics, the union over trials, CRLF rows", "[util]") {
  CsvTrial done{7,   1,  "COMPLETED",          1,
                3,   "", {{"train.lr", 0.05}}, {{"val_top1", 0.8}, {"params", 1000.0}},
                "{}"};
  CsvTrial failed{8, 2, "FAILED", 2, 3, "NaN, at epoch 1", {{"cell", "gru"}}, {}, "{\"a\": 1}"};
  CHECK(TrialsToCsv({done, failed}) ==
        "trial_id,number,state,attempt,worker_id,failure_reason,param:cell,param:train.lr,"
        "metric:params,metric:val_top1,spec_json\r\n"
        "7,1,COMPLETED,1,3,,,0.05,1000,0.8,{}\r\n"
        "8,2,FAILED,2,3,\"NaN, at epoch 1\",gru,,,,\"{\"\"a\"\": 1}\"\r\n");
}

}  // namespace
}  // namespace convrnn
