#include "server/dashboard/dashboard.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/dashboard/assets.h"
#include "server/dashboard/gzip.h"
#include "server/dashboard/trial_table.h"
#include "server/metrics.h"

namespace convrnn::server::dashboard {
namespace {

using nlohmann::json;

int HttpCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// With a charset, cpp-httplib leaves JSON uncompressed (its Brotli at the
// highest quality takes seconds on megabytes); the large ones are gzipped
// once per snapshot instead (gzip.h).
constexpr char kJson[] = "application/json; charset=utf-8";

void SendJson(httplib::Response& res, const std::string& body) {
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, kJson);
}

void SendError(httplib::Response& res, const absl::Status& status) {
  res.status = HttpCode(status.code());
  SendJson(res, json{{"error", std::string(status.message())}}.dump());
}

int64_t Id(const httplib::Request& req) {
  int64_t id = 0;
  if (req.matches.size() < 2 || !absl::SimpleAtoi(req.matches[1].str(), &id)) return 0;
  return id;
}

int64_t IntParam(const httplib::Request& req, const char* name, int64_t fallback) {
  int64_t v = fallback;
  if (req.has_param(name) && !absl::SimpleAtoi(req.get_param_value(name), &v)) return fallback;
  return v;
}

json Counts(const db::TrialCounts& c) {
  return {{"pending", c.pending},     {"leased", c.leased}, {"running", c.running},
          {"completed", c.completed}, {"failed", c.failed}, {"pruned", c.pruned},
          {"total", c.total()}};
}

json CampaignJson(const CampaignView& v, const CampaignConfig* config) {
  json out = {{"id", v.campaign.id},
              {"name", v.campaign.name},
              {"state", std::string(db::CampaignStateName(v.campaign.state))},
              {"counts", Counts(v.counts)},
              {"created_unix_us", v.campaign.created_us},
              {"updated_unix_us", v.campaign.updated_us},
              {"workers", v.counts.leased + v.counts.running}};
  if (config != nullptr) {
    out["max_trials"] = config->max_trials;
    out["algorithm"] = config->algorithm;
    json objectives = json::array();
    for (const Objective& o : config->objectives) objectives.push_back(ObjectiveName(o));
    out["objectives"] = objectives;
  }
  return out;
}

json TrialJson(const TrialDetail& d) {
  json epochs = json::array();
  for (const db::EpochReport& e : d.epochs) {
    epochs.push_back(
        {{"epoch", e.epoch},
         {"attempt", e.attempt},
         {"reported_unix_us", e.reported_us},
         {"metrics", json::parse(e.metrics_json.empty() ? "{}" : e.metrics_json, nullptr, false)}});
  }
  json scores = json::array();
  for (const db::Score& s : d.scores) {
    scores.push_back(
        {{"id", s.id},
         {"state", s.result_json.empty() ? (s.error.empty() ? "pending" : "failed") : "completed"},
         {"result", json::parse(s.result_json.empty() ? "null" : s.result_json, nullptr, false)},
         {"error", s.error}});
  }
  const db::Trial& t = d.trial;
  json metrics = json::object();
  for (const auto& [k, v] : WithCost(ParseMetricsJson(t.metrics_json), t.spec_json)) {
    if (std::isfinite(v)) metrics[k] = v;
  }
  return {{"id", t.id},
          {"campaign_id", t.campaign_id},
          {"number", t.number},
          {"state", std::string(db::TrialStateName(t.state))},
          {"attempt", t.attempt},
          {"worker_id", t.worker_id},
          {"spec", json::parse(t.spec_json, nullptr, false)},
          {"params", json::parse(t.params_json.empty() ? "{}" : t.params_json, nullptr, false)},
          {"metrics", metrics},
          {"failure_reason", t.failure_reason},
          {"created_unix_us", t.created_us},
          {"updated_unix_us", t.updated_us},
          {"epochs", epochs},
          {"scores", scores}};
}

}  // namespace

Dashboard::Dashboard(Coordinator& coordinator, Clock& clock, Options options)
    : coordinator_(coordinator),
      clock_(clock),
      options_(options),
      cache_(coordinator, clock, options.cache) {}

void Dashboard::Register(HttpServer& http) {
  for (const Asset& asset : Assets()) {
    // Large assets (Chart.js) are gzipped once here, not per request.
    auto plain = std::make_shared<const std::string>(asset.content);
    auto gzipped = std::make_shared<const std::string>(
        asset.content.size() > 4096 ? Gzip(asset.content, 9) : std::string());
    http.Get(
        asset.path,
        [&asset, plain, gzipped](const httplib::Request& req, httplib::Response& res) {
          res.set_header("Cache-Control", "max-age=300");
          SendMaybeGzipped(req, res, *plain, *gzipped, asset.content_type);
        },
        /*public_route=*/true);
  }
  auto bind = [this](void (Dashboard::*f)(const httplib::Request&, httplib::Response&)) {
    return [this, f](const httplib::Request& req, httplib::Response& res) { (this->*f)(req, res); };
  };
  http.Get("/api/version", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, json{{"sequence", coordinator_.event_sequence()}}.dump());
  });
  http.Get("/api/campaigns", bind(&Dashboard::Campaigns));
  http.Get(R"(/api/campaigns/(\d+))", bind(&Dashboard::Campaign));
  http.Get(R"(/api/campaigns/(\d+)/trials)", bind(&Dashboard::Trials));
  http.Get(R"(/api/campaigns/(\d+)/points)", bind(&Dashboard::Points));
  http.Get(R"(/api/campaigns/(\d+)/pareto)", bind(&Dashboard::Pareto));
  http.Get(R"(/api/campaigns/(\d+)/importance)", bind(&Dashboard::Importance));
  http.Get(R"(/api/trials/(\d+))", bind(&Dashboard::Trial));
}

void Dashboard::Campaigns(const httplib::Request&, httplib::Response& res) {
  json out = json::array();
  int64_t before = 0;
  do {
    absl::StatusOr<CampaignPage> page = coordinator_.ListCampaigns(before, 1000);
    if (!page.ok()) return SendError(res, page.status());
    for (const CampaignView& v : page->campaigns) {
      absl::StatusOr<std::shared_ptr<const CampaignConfig>> config =
          coordinator_.Config(v.campaign.id);
      json c = CampaignJson(v, config.ok() ? config->get() : nullptr);
      absl::StatusOr<RankedTrials> best = coordinator_.Best(v.campaign.id, 1, "", "");
      if (best.ok() && !best->trials.empty()) {
        const Metrics m = ParseMetricsJson(best->trials[0].metrics_json);
        if (auto it = m.find(best->metric); it != m.end() && std::isfinite(it->second)) {
          c["best"] = {
              {"metric", best->metric}, {"value", it->second}, {"trial_id", best->trials[0].id}};
        }
      }
      out.push_back(std::move(c));
    }
    before = page->next_before_id;
  } while (before != 0);
  SendJson(res, json{{"campaigns", out}}.dump());
}

void Dashboard::Campaign(const httplib::Request& req, httplib::Response& res) {
  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> s = cache_.Get(Id(req));
  if (!s.ok()) return SendError(res, s.status());
  json c = CampaignJson((*s)->view, (*s)->config.get());
  json params = json::array();
  for (const search::Param& p : (*s)->config->space->params()) params.push_back(p.name);
  c["params"] = params;
  c["sequence"] = (*s)->sequence;
  SendJson(res, c.dump());
}

void Dashboard::Trials(const httplib::Request& req, httplib::Response& res) {
  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> s = cache_.Get(Id(req));
  if (!s.ok()) return SendError(res, s.status());
  TableQuery q;
  q.offset = std::max<int64_t>(0, IntParam(req, "offset", 0));
  q.limit = std::clamp<int64_t>(IntParam(req, "limit", 50), 1, options_.max_page_size);
  if (req.has_param("sort")) q.sort = req.get_param_value("sort");
  q.descending = req.get_param_value("desc") == "1";
  q.state = req.get_param_value("state");
  q.filter = req.get_param_value("filter");
  absl::StatusOr<json> page = QueryTrials(**s, q);
  if (!page.ok()) return SendError(res, page.status());
  (*page)["sequence"] = (*s)->sequence;
  SendJson(res, page->dump());
}

void Dashboard::Points(const httplib::Request& req, httplib::Response& res) {
  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> s = cache_.Get(Id(req));
  if (!s.ok()) return SendError(res, s.status());
  res.set_header("Cache-Control", "no-store");
  SendMaybeGzipped(req, res, (*s)->points_json, (*s)->points_gzip, kJson);
}

void Dashboard::Pareto(const httplib::Request& req, httplib::Response& res) {
  const int64_t id = Id(req);
  std::vector<std::string> objectives;
  std::string key = std::to_string(id);
  for (size_t i = 0; i < req.get_param_value_count("objective"); ++i) {
    objectives.push_back(req.get_param_value("objective", i));
    key += " " + objectives.back();
  }
  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> s = cache_.Get(id);
  if (!s.ok()) return SendError(res, s.status());
  const int64_t now = clock_.NowMicros();
  if (std::optional<std::string> body =
          pareto_.Fresh(key, (*s)->sequence, now, options_.pareto_refresh)) {
    return SendJson(res, *body);
  }
  absl::StatusOr<ParetoFrontResult> front = coordinator_.Pareto(id, objectives);
  if (!front.ok()) return SendError(res, front.status());
  json used = json::array(), ids = json::array();
  for (const Objective& o : front->objectives) used.push_back(ObjectiveName(o));
  for (const db::Trial& t : front->trials) ids.push_back(t.id);
  const std::string body = json{{"objectives", used}, {"trial_ids", ids}}.dump();
  pareto_.Put(key, (*s)->sequence, now, body);
  SendJson(res, body);
}

void Dashboard::Importance(const httplib::Request& req, httplib::Response& res) {
  const int64_t id = Id(req);
  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> s = cache_.Get(id);
  if (!s.ok()) return SendError(res, s.status());
  const int64_t now = clock_.NowMicros();
  const std::string key = std::to_string(id);
  if (std::optional<std::string> body =
          importance_.Fresh(key, (*s)->sequence, now, options_.importance_refresh)) {
    return SendJson(res, *body);
  }
  absl::StatusOr<ImportanceResult> r = coordinator_.Importance(id, "");
  if (!r.ok()) return SendError(res, r.status());
  json params = json::array();
  for (const search::ParamImportance& p : r->params) {
    params.push_back({{"name", p.name}, {"importance", p.importance}});
  }
  const std::string body =
      json{{"metric", r->metric}, {"trials", r->trials}, {"params", params}}.dump();
  importance_.Put(key, (*s)->sequence, now, body);
  SendJson(res, body);
}

std::optional<std::string> Dashboard::ReplyCache::Fresh(const std::string& key, int64_t sequence,
                                                        int64_t now_us, absl::Duration refresh) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.sequence != sequence &&
      now_us - it->second.computed_us >= absl::ToInt64Microseconds(refresh)) {
    return std::nullopt;
  }
  return it->second.body;
}

void Dashboard::ReplyCache::Put(const std::string& key, int64_t sequence, int64_t now_us,
                                std::string body) {
  absl::MutexLock lock(&mu_);
  entries_[key] = {sequence, now_us, std::move(body)};
}

void Dashboard::Trial(const httplib::Request& req, httplib::Response& res) {
  absl::StatusOr<TrialDetail> d = coordinator_.GetTrial(Id(req));
  if (!d.ok()) return SendError(res, d.status());
  SendJson(res, TrialJson(*d).dump());
}

}  // namespace convrnn::server::dashboard
