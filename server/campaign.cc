#include "server/campaign.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "search/grid_sampler.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::server {
bool IsMetricName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

namespace {

using nlohmann::json;

void ParseObjectives(const json& list, CampaignConfig* config, JsonObject* root) {
  const std::string path = root->PathOf("objectives");
  if (!list.is_array() || list.empty()) {
    root->Fail(PathError(path, "must be a non-empty array of {\"metric\", \"goal\"}"));
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    JsonObject o(list[i], IndexPath(path, i));
    Objective objective;
    std::string goal;
    o.String("metric", &objective.metric);
    o.Enum("goal", &goal, {"max", "min"});
    if (o.ok() && !IsMetricName(objective.metric)) {
      o.Fail("metric", "must be a metric name of letters, digits, '_' and '.' (e.g. val_top1)");
    }
    if (o.ok() && goal.empty()) o.Fail("goal", "is required (max or min)");
    if (o.ok() && !seen.insert(objective.metric).second) o.Fail("metric", "is listed twice");
    if (absl::Status s = o.Finish(); !s.ok()) {
      root->Fail(std::move(s));
      return;
    }
    objective.goal = goal == "min" ? search::Goal::kMinimize : search::Goal::kMaximize;
    config->objectives.push_back(std::move(objective));
  }
}

// The knob object `key` of search (e.g. "tpe"), read only when the campaign's
// algorithm is the one it configures; nullopt when absent or wrong (the
// error is recorded in *search).
std::optional<JsonObject> AlgorithmKnobs(const char* key, const std::string& algorithm,
                                         JsonObject* search) {
  const json* knobs = search->Get(key);
  if (!search->ok() || knobs == nullptr) return std::nullopt;
  if (algorithm != key) {
    search->Fail(key, absl::StrCat("applies to the ", key, " algorithm only"));
  } else if (!knobs->is_object()) {
    search->Fail(key, "must be an object");
  } else {
    return JsonObject(*knobs, search->PathOf(key));
  }
  return std::nullopt;
}

void ParseSearch(const json& j, CampaignConfig* config, JsonObject* root,
                 const json** early_stopping) {
  JsonObject o(j, root->PathOf("search"));
  o.Enum("algorithm", &config->algorithm, {"random", "tpe", "gp", "evolution", "grid"});
  if (o.ok() && config->algorithm == "gp" && config->objectives.size() > 1) {
    o.Fail("algorithm",
           "gp optimises one objective; with several objectives use tpe, evolution or random");
  }
  const bool grid = config->algorithm == "grid";
  int64_t seed = 0;
  o.Int64("seed", &seed, 0, int64_t{1} << 53);
  config->seed = static_cast<uint64_t>(seed);
  if (o.ok() && !o.Has("max_trials") && !grid) o.Fail("max_trials", "is required");
  o.Int("max_trials", &config->max_trials, 1, kMaxTrialsLimit);
  config->max_parallel = config->max_trials;
  o.Int("max_parallel", &config->max_parallel, 1, kMaxTrialsLimit);
  if (o.ok() && o.Has("repeats") && !grid) o.Fail("repeats", "applies to the grid algorithm only");
  o.Int("repeats", &config->repeats, 1, 10000);
  if (const json* ws = o.Get("warm_start"); o.ok() && ws != nullptr) {
    const std::string path = o.PathOf("warm_start");
    if (!ws->is_array()) o.Fail(PathError(path, "must be a list of campaign ids"));
    for (size_t i = 0; o.ok() && ws->is_array() && i < ws->size(); ++i) {
      const json& id = (*ws)[i];
      if (!id.is_number_integer() || id.get<int64_t>() < 1) {
        o.Fail(PathError(IndexPath(path, i), "must be a campaign id (a positive integer)"));
      } else {
        config->warm_start.push_back(id.get<int64_t>());
      }
    }
    if (o.ok() && grid && !config->warm_start.empty()) {
      o.Fail(PathError(path, "does not apply to grid search, which runs every combination"));
    }
  }
  if (std::optional<JsonObject> t = AlgorithmKnobs("tpe", config->algorithm, &o)) {
    t->Int("n_startup_trials", &config->tpe.n_startup_trials, 0, 100000);
    t->Bool("constant_liar", &config->tpe.constant_liar);
    t->Bool("equal_kernel_heights", &config->tpe.equal_kernel_heights);
    t->Double("gamma", &config->tpe.gamma, 1e-6, 1.0);
    t->Int("max_good", &config->tpe.max_good, 1, 100000);
    t->Int("n_ei_candidates", &config->tpe.n_ei_candidates, 1, 10000);
    t->Double("prior_weight", &config->tpe.prior_weight, 1e-6, 1e6);
    t->Bool("multivariate", &config->tpe.multivariate);
    o.Fail(t->Finish());
  }
  if (std::optional<JsonObject> g = AlgorithmKnobs("gp", config->algorithm, &o)) {
    g->Int("n_startup_trials", &config->tpe.n_startup_trials, 0, 100000);
    g->Int("candidates", &config->tpe.gp_candidates, 1, 100000);
    g->Int("max_points", &config->tpe.gp_max_points, 2, 2000);
    o.Fail(g->Finish());
  }
  *early_stopping = o.Get("early_stopping");
  root->Fail(o.Finish());
}

void ParseTrial(const json& j, CampaignConfig* config, JsonObject* root) {
  JsonObject o(j, root->PathOf("trial"));
  o.Int("max_attempts", &config->max_attempts, 1, kMaxAttemptsLimit);
  o.Int("lease_seconds", &config->lease_seconds, 1, kMaxLeaseSeconds);
  root->Fail(o.Finish());
}

// Grid: its size against max_trials, and every combination runnable.
absl::Status CheckGrid(CampaignConfig* config) {
  ASSIGN_OR_RETURN(std::vector<search::Assignment> grid,
                   search::GridCombinations(*config->space, search::kMaxGridSize));
  const int64_t trials = static_cast<int64_t>(grid.size()) * config->repeats;
  if (config->max_trials == 0) {
    if (trials > kMaxTrialsLimit) {
      return PathError("search.repeats", absl::StrCat("the grid needs ", trials,
                                                      " trials, more than ", kMaxTrialsLimit));
    }
    config->max_trials = static_cast<int>(trials);
    config->max_parallel = config->max_parallel == 0 ? config->max_trials : config->max_parallel;
  } else if (trials > config->max_trials) {
    return PathError(
        "search.max_trials",
        absl::StrCat("the grid has ", grid.size(), " combinations x ", config->repeats,
                     " repeats = ", trials, " trials, more than max_trials ", config->max_trials));
  }
  config->max_parallel = std::min(config->max_parallel, config->max_trials);
  search::SamplerOptions options;
  options.adjust = BudgetAdjuster(config->budget);
  search::GridSampler sampler(config->space, std::move(grid), options);
  for (size_t i = 0; i < sampler.size(); ++i) {
    absl::StatusOr<search::Suggestion> made = sampler.Make(i, 0);
    if (!made.ok())
      return absl::InvalidArgumentError(absl::StrCat("space: ", made.status().message()));
  }
  return absl::OkStatus();
}

// A budget that no sample of the space reaches is refused at launch.
absl::Status CheckBudgetReachable(const CampaignConfig& config) {
  search::Rng rng(0xb0d6e7ULL);
  absl::Status last;
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<ArchSpec> spec = config.space->ToSpec(config.space->Sample(rng));
    if (!spec.ok()) continue;
    absl::StatusOr<BudgetMatch> match = MatchParams(*spec, *config.budget);
    if (match.ok()) return absl::OkStatus();
    last = match.status();
  }
  return PathError("budget.params",
                   absl::StrCat("no sample of the space reaches the budget: ", last.message()));
}

absl::Status CheckSpaceFits(CampaignConfig* config) {
  if (config->algorithm == "grid") return CheckGrid(config);
  if (config->budget.has_value()) return CheckBudgetReachable(*config);
  return absl::OkStatus();
}

void ParseDataSection(JsonObject* root, CampaignConfig* config) {
  // data: defaults to fashion-mnist at its Debian location.
  const json* data = root->Get("data");
  if (root->ok()) {
    absl::StatusOr<DataSpec> spec = ParseDataSpec(data != nullptr ? *data : json::object(), "data");
    if (spec.ok()) {
      config->data = *std::move(spec);
      config->data_json = ToJson(config->data).dump();
    } else {
      root->Fail(spec.status());
    }
  }
}

void ParseNeuralSection(JsonObject* root, CampaignConfig* config) {
  // neural: needed by (and only by) a neural_predictivity objective.
  const json* neural = root->Get("neural");
  if (root->ok() && neural != nullptr && !neural->is_null()) {
    absl::StatusOr<NeuralSpec> spec = ParseNeuralSpec(*neural, "neural");
    if (spec.ok()) {
      config->neural = *std::move(spec);
    } else {
      root->Fail(spec.status());
    }
  }
  for (size_t i = 0; i < config->objectives.size() && root->ok(); ++i) {
    const std::string& metric = config->objectives[i].metric;
    std::optional<std::string> region = NeuralMetricRegion(metric);
    if (!region.has_value()) {
      if (absl::StartsWith(metric, kNeuralMetric)) {
        root->Fail(PathError(absl::StrCat("objectives[", i, "].metric"),
                             "must be neural_predictivity or neural_predictivity.<REGION>, the "
                             "region of letters, digits and '_' (e.g. neural_predictivity.IT)"));
      }
      continue;
    }
    if (!config->neural.has_value()) {
      root->Fail(PathError(absl::StrCat("objectives[", i, "].metric"),
                           absl::StrCat(metric,
                                        " needs a campaign \"neural\" section naming the "
                                        "recordings, e.g. \"neural\": {\"file\": "
                                        "\"/data/recordings.h5\"} (docs/neural-data.md)")));
      break;
    }
    std::vector<std::string>& regions = config->neural->regions;
    if (!region->empty() && std::find(regions.begin(), regions.end(), *region) == regions.end()) {
      regions.push_back(*region);
    }
  }
  if (root->ok() && config->neural.has_value()) {
    config->neural_json = ToJson(*config->neural).dump();
  }
}

void ParseEarlyStoppingSection(const json* early_stopping, JsonObject* root,
                               CampaignConfig* config) {
  if (root->ok() && early_stopping != nullptr && !early_stopping->is_null()) {
    absl::StatusOr<search::EarlyStoppingOptions> options = search::ParseEarlyStopping(
        *early_stopping, "search.early_stopping", config->objectives.front().goal);
    if (options.ok()) {
      config->early_stopping = *options;
    } else {
      root->Fail(options.status());
    }
    // Neural metrics arrive with the final metrics only: a rule on them
    // would never see a report, so it would silently never prune.
    if (root->ok() && NeuralMetricRegion(config->objectives.front().metric).has_value()) {
      root->Fail(PathError("search.early_stopping",
                           absl::StrCat("cannot rank trials by ", config->objectives.front().metric,
                                        ", which is known only after training; put an epoch "
                                        "metric such as val_top1 first in objectives")));
    }
  }
}

void ParseSpaceSection(JsonObject* root, CampaignConfig* config) {
  // The space last: its probe samples are the costly part of the check.
  const json* space = root->Get("space");
  if (root->ok()) {
    if (space == nullptr) {
      root->Fail("space", "is required");
    } else {
      absl::StatusOr<search::Space> parsed = search::Space::Parse(*space, "space");
      if (parsed.ok()) {
        config->space = std::make_shared<const search::Space>(*std::move(parsed));
      } else {
        root->Fail(parsed.status());
      }
    }
  }
}

}  // namespace

std::function<absl::StatusOr<json>(const ArchSpec&)> BudgetAdjuster(
    const std::optional<ParamBudget>& budget) {
  if (!budget.has_value()) return nullptr;
  return [budget = *budget](const ArchSpec& spec) -> absl::StatusOr<json> {
    ASSIGN_OR_RETURN(BudgetMatch match, MatchParams(spec, budget));
    return ToJson(match.spec);
  };
}

search::SamplerOptions SamplerOptionsFor(const CampaignConfig& config) {
  search::SamplerOptions options = config.tpe;
  options.seed = config.seed;
  options.repeats = config.repeats;
  options.adjust = BudgetAdjuster(config.budget);
  options.goals.clear();
  for (const Objective& o : config.objectives) options.goals.push_back(o.goal);
  return options;
}

absl::StatusOr<CampaignSearch> NewCampaignSearch(const CampaignConfig& config) {
  CampaignSearch made;
  ASSIGN_OR_RETURN(made.sampler, search::CreateSampler(config.algorithm, config.space,
                                                       SamplerOptionsFor(config)));
  if (config.early_stopping.has_value()) {
    ASSIGN_OR_RETURN(made.stopper, search::CreateEarlyStopper(*config.early_stopping));
  }
  return made;
}

std::string ObjectiveName(const Objective& objective) {
  return absl::StrCat(objective.metric, ":",
                      objective.goal == search::Goal::kMaximize ? "max" : "min");
}

absl::StatusOr<CampaignConfig> ParseCampaign(const json& j) {
  CampaignConfig config;
  JsonObject root(j, "");
  if (!root.ok()) return root.Finish();

  if (!root.Has("name")) root.Fail("name", "is required");
  root.String("name", &config.name);
  if (root.ok() && config.name.empty()) root.Fail("name", "must not be empty");
  if (root.ok() && config.name.size() > kMaxNameLength) {
    root.Fail("name",
              absl::StrCat("at most ", kMaxNameLength, " bytes (", config.name.size(), " given)"));
  }
  ParseDataSection(&root, &config);
  const json* objectives = root.Get("objectives");
  if (root.ok()) {
    if (objectives != nullptr) {
      ParseObjectives(*objectives, &config, &root);
    } else {
      config.objectives.push_back({"val_top1", search::Goal::kMaximize});
    }
  }

  ParseNeuralSection(&root, &config);
  const json* search = root.Get("search");
  const json* early_stopping = nullptr;
  if (root.ok()) {
    if (search == nullptr) {
      root.Fail("search", "is required (at least {\"max_trials\": N})");
    } else {
      ParseSearch(*search, &config, &root, &early_stopping);
    }
  }
  if (const json* budget = root.Get("budget");
      root.ok() && budget != nullptr && !budget->is_null()) {
    absl::StatusOr<ParamBudget> parsed = ParseParamBudget(*budget, "budget");
    if (parsed.ok()) {
      config.budget = *parsed;
    } else {
      root.Fail(parsed.status());
    }
  }
  if (root.ok() && config.max_parallel > config.max_trials && config.max_trials > 0) {
    // More workers than trials is harmless; clamp rather than refuse.
    config.max_parallel = config.max_trials;
  }
  ParseEarlyStoppingSection(early_stopping, &root, &config);
  const json* trial = root.Get("trial");
  if (root.ok() && trial != nullptr) ParseTrial(*trial, &config, &root);

  ParseSpaceSection(&root, &config);
  if (root.ok()) root.Fail(CheckSpaceFits(&config));
  RETURN_IF_ERROR(root.Finish());
  return config;
}

absl::StatusOr<CampaignConfig> ParseCampaignText(absl::string_view text) {
  json j;
  RETURN_IF_ERROR(ParseJsonText(text, "campaign", &j));
  return ParseCampaign(j);
}

}  // namespace convrnn::server
