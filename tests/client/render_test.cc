// Tables, `show` text, CSV export and the watch view, from wire messages.
#include "client/render.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "client/watch_view.h"
#include "tests/client/test_specs.h"
#include "util/csv.h"

namespace convrnn::client {
namespace {

// RFC 4180 reader: enough to check what TrialsToCsv writes reads back.
std::vector<std::vector<std::string>> ReadCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

v1::Trial MakeTrial(int64_t id, v1::TrialState state) {
  v1::Trial t;
  t.set_id(id);
  t.set_campaign_id(3);
  t.set_number(id - 100);
  t.set_state(state);
  t.set_attempt(1);
  t.set_spec_json(testing::kFeedbackSpec);
  return t;
}

TEST_CASE("CSV fields are quoted only when they must be", "[client]") {
  using ::convrnn::CsvField;
  CHECK(CsvField("plain") == "plain");
  CHECK(CsvField("") == "");
  CHECK(CsvField("a,b") == "\"a,b\"");
  CHECK(CsvField("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(CsvField("two\nlines") == "\"two\nlines\"");
  CHECK(CsvField(" padded") == "\" padded\"");
}

TEST_CASE("CSV export: one row per trial, awkward text survives a round trip", "[client]") {
  v1::Trial done = MakeTrial(101, v1::TRIAL_STATE_COMPLETED);
  (*done.mutable_final_metrics())["val_top1"] = 0.875;
  (*done.mutable_final_metrics())["params"] = 12345;
  done.set_params_json(R"({"layers[1].cell.type": "gru", "train.lr": 0.05})");
  v1::Trial failed = MakeTrial(102, v1::TRIAL_STATE_FAILED);
  failed.set_failure_reason("loss became NaN at epoch 3, \"lr\" too high\nsecond line");
  failed.set_params_json(R"({"layers[1].cell.type": "rgc, wide"})");

  const auto rows = ReadCsv(TrialsToCsv({done, failed}));
  REQUIRE(rows.size() == 3);
  const std::vector<std::string>& header = rows[0];
  for (const auto& row : rows) CHECK(row.size() == header.size());
  auto column = [&header](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    FAIL("no column " << name);
    return size_t{0};
  };
  CHECK(rows[1][column("trial_id")] == "101");
  CHECK(rows[1][column("state")] == "COMPLETED");  // as the server's export
  CHECK(rows[1][column("metric:val_top1")] == "0.875");
  CHECK(rows[1][column("metric:params")] == "12345");
  CHECK(rows[1][column("param:train.lr")] == "0.05");
  CHECK(rows[2][column("failure_reason")] ==
        "loss became NaN at epoch 3, \"lr\" too high\nsecond line");
  CHECK(rows[2][column("param:layers[1].cell.type")] == "rgc, wide");
  CHECK(rows[2][column("metric:val_top1")] == "");
  CHECK(rows[2][column("spec_json")] == testing::kFeedbackSpec);
}

TEST_CASE("trial table: aligned rows with percent and thousands", "[client]") {
  v1::Trial t = MakeTrial(101, v1::TRIAL_STATE_COMPLETED);
  (*t.mutable_final_metrics())["val_top1"] = 0.91234;
  (*t.mutable_final_metrics())["params"] = 1234567;
  std::ostringstream out;
  PrintTrialTable({t, MakeTrial(102, v1::TRIAL_STATE_RUNNING)}, out);
  const std::string text = out.str();
  INFO(text);
  CHECK(text.find("91.23%") != std::string::npos);
  CHECK(text.find("1,234,567") != std::string::npos);
  CHECK(text.find("feedforward>gru>rgc>lstm fb 2->0,3->1") != std::string::npos);
  // Every line has the header's ARCHITECTURE column at the same offset.
  std::istringstream lines(text);
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  const size_t arch = header.find("ARCHITECTURE");
  CHECK(row1.substr(arch, 11) == "feedforward");
  CHECK(row2.substr(arch, 11) == "feedforward");
}

TEST_CASE("show text: header, every layer, metrics and the epoch curve", "[client]") {
  v1::Trial t = MakeTrial(105, v1::TRIAL_STATE_COMPLETED);
  (*t.mutable_final_metrics())["val_top1"] = 0.8;
  (*t.mutable_final_metrics())["params"] = 54321;
  for (int e = 1; e <= 2; ++e) {
    v1::EpochMetrics* m = t.add_epochs();
    m->set_epoch(e);
    m->set_attempt(1);
    (*m->mutable_metrics())["val_top1"] = 0.7 + 0.1 * (e - 1);
    (*m->mutable_metrics())["train_loss"] = 1.0 / e;
  }
  std::ostringstream out;
  PrintTrialText(t, out);
  const std::string text = out.str();
  INFO(text);
  CHECK(text.find("Trial 105 (campaign 3, #5): completed, attempt 1") != std::string::npos);
  for (const char* cell : {"cell feedforward", "cell gru", "cell rgc", "cell lstm"}) {
    CHECK(text.find(cell) != std::string::npos);
  }
  CHECK(text.find("params=54,321") != std::string::npos);
  CHECK(text.find("val_top1=80.00%") != std::string::npos);
  CHECK(text.find("EPOCH  ATTEMPT  TRAIN_LOSS  VAL_TOP1") != std::string::npos);
  CHECK(text.find("70.00%") != std::string::npos);
}

TEST_CASE("show text: a spec that does not parse is printed raw", "[client]") {
  v1::Trial t = MakeTrial(106, v1::TRIAL_STATE_PENDING);
  t.set_spec_json(R"({"layers": "oops"})");
  std::ostringstream out;
  PrintTrialText(t, out);
  CHECK(out.str().find("does not parse") != std::string::npos);
  CHECK(out.str().find(R"({"layers": "oops"})") != std::string::npos);
}

v1::CampaignEvent Event(v1::EventType type, int64_t trial, v1::TrialState state, int attempt = 1) {
  v1::CampaignEvent e;
  e.set_campaign_id(3);
  e.set_type(type);
  e.set_trial_id(trial);
  e.set_trial_state(state);
  e.set_attempt(attempt);
  return e;
}

TEST_CASE("watch view: counts and running trials follow the events", "[client]") {
  v1::Campaign c;
  c.set_id(3);
  c.set_name("demo");
  c.set_state(v1::CAMPAIGN_STATE_RUNNING);
  c.set_campaign_json(R"({"search": {"max_trials": 4}})");
  WatchView view(c);
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_CREATED, 1, v1::TRIAL_STATE_PENDING));
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_CREATED, 2, v1::TRIAL_STATE_PENDING));
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_CREATED, 3, v1::TRIAL_STATE_PENDING));
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_LEASED, 1, v1::TRIAL_STATE_LEASED));
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_LEASED, 2, v1::TRIAL_STATE_LEASED));
  auto progress = Event(v1::EVENT_TYPE_TRIAL_PROGRESS, 1, v1::TRIAL_STATE_RUNNING);
  progress.set_epoch(2);
  (*progress.mutable_metrics())["val_top1"] = 0.4567;
  view.Apply(progress);
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_FAILED, 2, v1::TRIAL_STATE_FAILED));
  CHECK(view.Summary() ==
        "campaign 3 demo: running | 0/4 done, 1 running, 1 failed, 0 pruned, 1 pending");
  const auto lines = view.Render();
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "  TRIAL  STATE    ATTEMPT  EPOCH  VAL_TOP1");
  CHECK(lines[2] == "      1  running        1      2    45.67%");
  CHECK(view.Line(progress).find("trial 1 epoch 2 val_top1 45.67%") != std::string::npos);

  // A requeued trial leaves the running table; its next attempt starts over.
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_REQUEUED, 1, v1::TRIAL_STATE_PENDING, 1));
  CHECK(view.Render().size() == 1);
  view.Apply(Event(v1::EVENT_TYPE_TRIAL_LEASED, 1, v1::TRIAL_STATE_LEASED, 2));
  CHECK(view.Render()[2] == "      1  leased        2      -         -");

  v1::CampaignEvent end;
  end.set_type(v1::EVENT_TYPE_CAMPAIGN_STATE);
  end.set_campaign_state(v1::CAMPAIGN_STATE_COMPLETED);
  CHECK_FALSE(view.ended());
  view.Apply(end);
  CHECK(view.state() == v1::CAMPAIGN_STATE_COMPLETED);
  CHECK(view.ended());
}

}  // namespace
}  // namespace convrnn::client
