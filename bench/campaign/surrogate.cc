// The campaign benchmark on a surrogate of the trainer: hundreds of seeds in
// seconds, to rank search settings before spending real training on them.
//
//   build-srv/bench/campaign/convrnn_campaign_surrogate --campaign CAMPAIGN.json
//       --table DIR[,DIR...] --out OUT [--seeds 0-199] [--trials 64]
//
// The surrogate is the trainer's own recorded results: every trial in the
// table folders (run.py's OUT/<tool>-<seed>.json files, any tool) that
// trained its full budget, with its validation curve and training seconds.
// The trainer is deterministic (a spec always gives the same curve), so a
// recorded spec is looked up exactly; any other spec gets the curve of its
// nearest recorded neighbour: the top cell first, then the middle cell, then
// width, feedback edges, the cell's knobs and the learning rate (Distance).
//
// Each seed runs the campaign's own search exactly as the coordinator does
// (NewCampaignSearch: its sampler, TPE knobs and early stopper)
// with search.max_parallel simulated workers on an event clock: a trial is
// proposed when a worker frees (the others' trials pending), reports each
// epoch to the stopper, and is recorded pruned (its last value) or completed.
// OUT/ours-<seed>.json has run.py's format, so report.py reads it unchanged.
// docs/performance.md says how well it reproduces the real runs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "server/campaign.h"

namespace convrnn::bench {
namespace {

using nlohmann::json;

// What the space searches in a spec, for the nearest-neighbour distance.
struct Features {
  std::vector<std::string> cells;  // cell type per layer
  std::vector<int> widths;         // channels per layer
  std::vector<std::string> knobs;  // per layer: the searched cell knobs, as text
  std::vector<double> decays;      // per layer: decay_init, or 0
  std::vector<std::pair<int, int>> edges;
  double log_lr = 0;
};

Features Featurize(const json& layers, const json& feedback, double lr) {
  Features f;
  for (const json& layer : layers) {
    const json& cell = layer.at("cell");
    f.cells.push_back(cell.at("type").get<std::string>());
    f.widths.push_back(layer.at("channels").get<int>());
    f.decays.push_back(cell.value("decay_init", 0.0));
    // The knobs the bench space searches; specs from the anchors omit the
    // defaults that the service's canonical specs spell out.
    std::string knobs = cell.value("feedback_entry", std::string("output"));
    for (const char* key : {"cell_channels", "tau_kernel", "gate_kernel"}) {
      knobs += "," + (cell.contains(key) ? cell[key].dump() : std::string("-"));
    }
    f.knobs.push_back(knobs);
  }
  for (const json& e : feedback)
    f.edges.emplace_back(e.at("from").get<int>(), e.at("to").get<int>());
  std::sort(f.edges.begin(), f.edges.end());
  f.log_lr = std::log10(lr);
  return f;
}

// Lexicographic in effect: a different top cell outweighs everything below
// it, and so on down; within the same structure the learning rate decides
// (a tenth of a decade costs as much as one knob).
double Distance(const Features& a, const Features& b) {
  double d = 0;
  const size_t n = std::min(a.cells.size(), b.cells.size());
  for (size_t i = 0; i < n; ++i) {
    const double scale = std::pow(10.0, static_cast<double>(i));  // deeper layers first
    if (a.cells[i] != b.cells[i]) d += 1000 * scale;
    if (a.widths[i] != b.widths[i]) d += 10;
    if (a.knobs[i] != b.knobs[i]) d += 5;
    d += 5 * std::abs(a.decays[i] - b.decays[i]);
  }
  std::vector<std::pair<int, int>> diff;
  std::set_symmetric_difference(a.edges.begin(), a.edges.end(), b.edges.begin(), b.edges.end(),
                                std::back_inserter(diff));
  d += 10 * static_cast<double>(diff.size());
  d += 50 * std::abs(a.log_lr - b.log_lr);
  return d;
}

struct Record {
  Features features;
  std::vector<double> curve;
  double epoch_seconds = 0;
};

std::vector<Record> LoadTable(const std::string& dirs, int epochs) {
  std::vector<Record> table;
  for (absl::string_view dir : absl::StrSplit(dirs, ',', absl::SkipEmpty())) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(dir))) {
      if (entry.path().extension() != ".json") continue;
      std::ifstream in(entry.path());
      json run = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!run.is_object() || !run.contains("trials_run")) continue;
      for (const json& t : run["trials_run"]) {
        if (!t.contains("spec") || t["curve"].size() != static_cast<size_t>(epochs)) continue;
        const json& spec = t["spec"];
        Record r;
        r.features = Featurize(spec.at("layers"), spec.at("feedback"), spec.at("lr").get<double>());
        r.curve = t["curve"].get<std::vector<double>>();
        r.epoch_seconds = t["train_seconds"].get<double>() / epochs;
        table.push_back(std::move(r));
      }
    }
  }
  return table;
}

const Record& Nearest(const std::vector<Record>& table, const Features& f) {
  size_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < table.size(); ++i) {
    const double d = Distance(f, table[i].features);
    if (d < best_d) best_d = d, best = i;
  }
  return table[best];
}

struct Running {
  int64_t id = 0;
  const Record* record = nullptr;
  int epoch = 0;       // epochs done
  double next_at = 0;  // clock when the next epoch ends
  json spec;
};

// The parts of a spec the space searches, as run.py records them.
json Searched(const json& spec) {
  json layers = json::array();
  for (const json& l : spec.at("layers")) {
    layers.push_back({{"channels", l.at("channels")}, {"cell", l.at("cell")}});
  }
  return {{"layers", layers},
          {"feedback", spec.value("feedback", json::array())},
          {"lr", spec.at("train").at("lr")}};
}

const Record& Lookup(const std::vector<Record>& table, const json& spec) {
  return Nearest(table, Featurize(spec.at("layers"), spec.value("feedback", json::array()),
                                  spec.at("train").at("lr").get<double>()));
}

// --lookup: one spec per line on stdin (run.py's full specs, as the anchors
// build them), one {"curve": [...], "epoch_seconds": s} per line on stdout,
// for bench/campaign/surrogate_anchors.py.
int ServeLookups(const std::vector<Record>& table) {
  std::string line;
  while (std::getline(std::cin, line)) {
    const Record& r = Lookup(table, json::parse(line));
    std::cout << json{{"curve", r.curve}, {"epoch_seconds", r.epoch_seconds}}.dump() << std::endl;
  }
  return 0;
}

int Run(int argc, char** argv) {
  std::string campaign_path, table_dirs, out_dir;
  int seed_lo = 0, seed_hi = 199, trials = 0;
  bool lookup = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--lookup") {
      lookup = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    if (flag == "--campaign") {
      campaign_path = value;
    } else if (flag == "--table") {
      table_dirs = value;
    } else if (flag == "--out") {
      out_dir = value;
    } else if (flag == "--trials") {
      trials = std::atoi(value.c_str());
    } else if (flag == "--seeds") {
      std::vector<std::string> range = absl::StrSplit(value, '-');
      seed_lo = std::atoi(range[0].c_str());
      seed_hi = range.size() > 1 ? std::atoi(range[1].c_str()) : seed_lo;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (campaign_path.empty() || table_dirs.empty() || (!lookup && out_dir.empty())) {
    std::fprintf(stderr,
                 "usage: %s --campaign FILE --table DIR[,DIR...] --out DIR "
                 "[--seeds LO-HI] [--trials N]\n"
                 "       %s --lookup --campaign FILE --table DIR[,DIR...]\n",
                 argv[0], argv[0]);
    return 2;
  }
  std::ifstream in(campaign_path);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<server::CampaignConfig> parsed = server::ParseCampaignText(text.str());
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s: %s\n", campaign_path.c_str(), parsed.status().ToString().c_str());
    return 2;
  }
  const json campaign = json::parse(text.str());
  const int epochs = campaign["space"]["train"]["epochs"].get<int>();
  if (trials <= 0) trials = parsed->max_trials;
  const std::vector<Record> table = LoadTable(table_dirs, epochs);
  if (table.empty()) {
    std::fprintf(stderr, "no fully trained trials with specs in %s\n", table_dirs.c_str());
    return 2;
  }
  if (lookup) return ServeLookups(table);
  std::filesystem::create_directories(out_dir);
  std::fprintf(stderr, "surrogate: %zu recorded curves\n", table.size());

  for (int seed = seed_lo; seed <= seed_hi; ++seed) {
    server::CampaignConfig config = *parsed;
    config.seed = static_cast<uint64_t>(seed);
    absl::StatusOr<server::CampaignSearch> made = server::NewCampaignSearch(config);
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      return 2;
    }
    search::History history;
    std::vector<Running> workers(static_cast<size_t>(std::max(1, config.max_parallel)));
    json trials_run = json::array();
    int64_t started = 0;
    double clock = 0;
    auto start = [&](Running& w) -> bool {
      if (started >= trials) return false;
      absl::StatusOr<search::Suggestion> s = made->sampler->Suggest(history);
      if (!s.ok()) {
        std::fprintf(stderr, "seed %d: %s\n", seed, s.status().ToString().c_str());
        std::exit(1);
      }
      w = Running{};
      w.id = started++;
      w.spec = s->spec;
      w.record = &Lookup(table, s->spec);
      w.next_at = clock + w.record->epoch_seconds;
      history.AddPending(w.id, std::move(s->assignment));
      return true;
    };
    std::vector<bool> busy(workers.size(), false);
    for (size_t i = 0; i < workers.size(); ++i) busy[i] = start(workers[i]);
    while (std::find(busy.begin(), busy.end(), true) != busy.end()) {
      size_t next = 0;
      double soonest = std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < workers.size(); ++i) {
        if (busy[i] && workers[i].next_at < soonest) soonest = workers[i].next_at, next = i;
      }
      Running& w = workers[next];
      clock = w.next_at;
      const double value = w.record->curve[static_cast<size_t>(w.epoch)];
      ++w.epoch;
      bool stop = false;
      if (w.epoch < epochs && made->stopper != nullptr) {
        stop = made->stopper->Decide(w.id, w.epoch, value) == search::Decision::kStop;
      }
      if (!stop && w.epoch < epochs) {
        w.next_at = clock + w.record->epoch_seconds;
        continue;
      }
      history.Finish(w.id, stop ? search::TrialState::kPruned : search::TrialState::kCompleted,
                     {value});
      json curve(std::vector<double>(w.record->curve.begin(), w.record->curve.begin() + w.epoch));
      trials_run.push_back({{"number", w.id},
                            {"epochs", w.epoch},
                            {"train_seconds", w.epoch * w.record->epoch_seconds},
                            {"curve", curve},
                            {"final", stop ? json(nullptr) : json(value)},
                            {"pruned", stop},
                            {"end_s", clock},
                            {"spec", Searched(w.spec)}});
      busy[next] = start(w);
    }
    json run = {{"tool", "ours"},         {"seed", seed},          {"trials", trials},
                {"max_epochs", epochs},   {"wall_seconds", clock}, {"trials_run", trials_run},
                {"surrogate", table_dirs}};
    std::ofstream(out_dir + "/ours-" + std::to_string(seed) + ".json") << run.dump() << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace convrnn::bench

int main(int argc, char** argv) { return convrnn::bench::Run(argc, argv); }
