#include "search/early_stopping.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

namespace convrnn::search {
namespace {

constexpr Decision kGo = Decision::kContinue;
constexpr Decision kStop = Decision::kStop;

std::unique_ptr<EarlyStopper> Make(const nlohmann::json& j, Goal goal = Goal::kMaximize) {
  absl::StatusOr<EarlyStoppingOptions> options =
      ParseEarlyStopping(j, "search.early_stopping", goal);
  REQUIRE(options.ok());
  absl::StatusOr<std::unique_ptr<EarlyStopper>> stopper = CreateEarlyStopper(*options);
  REQUIRE(stopper.ok());
  return *std::move(stopper);
}

TEST_CASE("ASHA promotes the top 1/eta at each rung, asynchronously", "[search]") {
  // Rungs at epochs 1, 3, 9 (27 is the full budget).
  auto asha =
      Make({{"rule", "asha"}, {"reduction_factor", 3}, {"min_resource", 1}, {"max_resource", 27}});
  // Rung 0: keep the best max(1, floor(n/3)) seen so far.
  CHECK(asha->Decide(1, 1, 0.50) == kGo);    // alone: best of 1
  CHECK(asha->Decide(2, 1, 0.60) == kGo);    // best of 2
  CHECK(asha->Decide(3, 1, 0.40) == kStop);  // 3rd of 3
  CHECK(asha->Decide(4, 1, 0.70) == kGo);    // best of 4
  CHECK(asha->Decide(5, 1, 0.55) == kStop);  // 3rd of 5, top is 1
  CHECK(asha->Decide(6, 1, 0.65) == kGo);    // 2nd of 6, top is 2
  CHECK(asha->Decide(7, 1, 0.62) == kStop);  // 3rd of 7, top is 2
  // Between rungs everyone continues.
  CHECK(asha->Decide(1, 2, 0.10) == kGo);
  // Rung 1 (epoch 3) compares only trials that reached it.
  CHECK(asha->Decide(2, 3, 0.61) == kGo);
  CHECK(asha->Decide(4, 3, 0.60) == kStop);
  CHECK(asha->Decide(6, 3, 0.75) == kGo);
  // A retried trial's repeated report gets the same answer and is not re-counted.
  CHECK(asha->Decide(3, 1, 0.99) == kStop);
  CHECK(asha->Decide(4, 3, 0.99) == kStop);
  // Rung 2 (epoch 9); no rung at the budget itself.
  CHECK(asha->Decide(6, 9, 0.8) == kGo);
  CHECK(asha->Decide(6, 27, 0.1) == kGo);
  CHECK(asha->Decide(8, 1, NAN) == kStop);
}

TEST_CASE("ASHA with a loss to minimise and eta 2", "[search]") {
  auto asha =
      Make({{"rule", "asha"}, {"reduction_factor", 2}, {"min_resource", 2}}, Goal::kMinimize);
  CHECK(asha->Decide(1, 1, 9.0) == kGo);  // epoch 1 is before the first rung
  CHECK(asha->Decide(1, 2, 1.0) == kGo);
  CHECK(asha->Decide(2, 2, 2.0) == kStop);  // top 1 of 2
  CHECK(asha->Decide(3, 2, 0.5) == kGo);
  CHECK(asha->Decide(4, 2, 0.9) == kGo);  // top 2 of 4: 0.5, 0.9
  CHECK(asha->Decide(1, 4, 1.0) == kGo);  // rung at 4
}

TEST_CASE("ASHA without a reduction factor keeps the best quarter, rungs at 1, 4, 16", "[search]") {
  auto asha = Make({{"rule", "asha"}});
  CHECK(asha->Decide(1, 1, 0.50) == kGo);    // best of 1
  CHECK(asha->Decide(2, 1, 0.40) == kStop);  // 2nd of 2
  CHECK(asha->Decide(3, 1, 0.45) == kStop);
  CHECK(asha->Decide(4, 1, 0.48) == kStop);
  CHECK(asha->Decide(5, 1, 0.49) == kStop);
  CHECK(asha->Decide(6, 1, 0.495) == kStop);  // 2nd of 6: eta 3 would keep it
  CHECK(asha->Decide(7, 1, 0.60) == kGo);
  CHECK(asha->Decide(8, 1, 0.55) == kGo);  // 2nd of 8: top 2
  // Epoch 3 is no rung (with eta 3 it would be, and trial 8 would stop there).
  CHECK(asha->Decide(7, 3, 0.70) == kGo);
  CHECK(asha->Decide(8, 3, 0.10) == kGo);
  CHECK(asha->Decide(7, 4, 0.70) == kGo);
  CHECK(asha->Decide(8, 4, 0.65) == kStop);  // 2nd of 2 at epoch 4
  CHECK(asha->Decide(1, 16, 0.1) == kGo);    // first at the rung at 16
}

TEST_CASE("median rule stops trials worse than the median at the same epoch", "[search]") {
  auto median = Make({{"rule", "median"}, {"warmup_epochs", 1}, {"min_trials", 3}});
  for (int t = 1; t <= 3; ++t) {
    CHECK(median->Decide(t, 1, 0.1 * t) == kGo);  // warm-up
    CHECK(median->Decide(t, 2, 0.2 * t) == kGo);  // fewer than 3 others at epoch 2
  }
  // Others at epoch 2 (best so far): 0.2, 0.4, 0.6 -> median 0.4.
  CHECK(median->Decide(4, 1, 0.9) == kGo);
  CHECK(median->Decide(4, 2, 0.1) == kGo);    // best so far 0.9 beats 0.4
  CHECK(median->Decide(5, 2, 0.3) == kStop);  // 0.3 < median of 0.2, 0.4, 0.6, 0.9
  CHECK(median->Decide(5, 2, 0.9) == kStop);  // repeated report: same answer
  CHECK(median->Decide(6, 2, 0.5) == kGo);    // median of 0.2 0.3 0.4 0.6 0.9 is 0.4
}

TEST_CASE("early stopping options are checked with key paths", "[search]") {
  auto bad = [](const nlohmann::json& j) {
    absl::StatusOr<EarlyStoppingOptions> o =
        ParseEarlyStopping(j, "search.early_stopping", Goal::kMaximize);
    REQUIRE_FALSE(o.ok());
    return std::string(o.status().message());
  };
  CHECK_THAT(bad({{"rule", "hyperband"}}), Catch::Contains("search.early_stopping.rule"));
  CHECK_THAT(bad({{"rule", "asha"}, {"reduction_factor", 1}}),
             Catch::Contains("search.early_stopping.reduction_factor"));
  CHECK_THAT(bad({{"rule", "asha"}, {"warmup_epochs", 1}}),
             Catch::Contains("search.early_stopping.warmup_epochs: unknown key"));
  CHECK_THAT(bad({{"rule", "asha"}, {"min_resource", 4}, {"max_resource", 2}}),
             Catch::Contains("search.early_stopping.max_resource"));
}

}  // namespace
}  // namespace convrnn::search
