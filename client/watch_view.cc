#include "client/watch_view.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/format.h"
#include "client/proto_json.h"

namespace convrnn::client {
namespace {

bool Active(v1::TrialState s) {
  return s == v1::TRIAL_STATE_LEASED || s == v1::TRIAL_STATE_RUNNING;
}

}  // namespace

WatchView::WatchView(const v1::Campaign& campaign)
    : id_(campaign.id()), name_(campaign.name()), state_(campaign.state()) {
  nlohmann::json doc = EmbeddedJson(campaign.campaign_json());
  if (doc.is_object() && doc.contains("search") && doc["search"].is_object()) {
    const auto& max = doc["search"].value("max_trials", nlohmann::json());
    if (max.is_number_integer()) max_trials_ = max.get<int64_t>();
  }
}

void WatchView::Apply(const v1::CampaignEvent& e) {
  if (e.type() == v1::EVENT_TYPE_CAMPAIGN_STATE) {
    if (e.campaign_state() != v1::CAMPAIGN_STATE_UNSPECIFIED) state_ = e.campaign_state();
    ended_ = state_ == v1::CAMPAIGN_STATE_COMPLETED || state_ == v1::CAMPAIGN_STATE_FAILED;
    return;
  }
  if (e.trial_id() == 0) return;
  v1::TrialState s = e.trial_state();
  if (s == v1::TRIAL_STATE_UNSPECIFIED) {
    // Older servers may leave it out; infer it from the event type.
    switch (e.type()) {
      case v1::EVENT_TYPE_TRIAL_CREATED:
      case v1::EVENT_TYPE_TRIAL_REQUEUED:
        s = v1::TRIAL_STATE_PENDING;
        break;
      case v1::EVENT_TYPE_TRIAL_LEASED:
        s = v1::TRIAL_STATE_LEASED;
        break;
      case v1::EVENT_TYPE_TRIAL_PROGRESS:
        s = v1::TRIAL_STATE_RUNNING;
        break;
      case v1::EVENT_TYPE_TRIAL_COMPLETED:
        s = v1::TRIAL_STATE_COMPLETED;
        break;
      case v1::EVENT_TYPE_TRIAL_FAILED:
        s = v1::TRIAL_STATE_FAILED;
        break;
      case v1::EVENT_TYPE_TRIAL_PRUNED:
        s = v1::TRIAL_STATE_PRUNED;
        break;
      default:
        return;
    }
  }
  trials_[e.trial_id()] = s;
  if (!Active(s)) {
    running_.erase(e.trial_id());
    return;
  }
  Running& r = running_[e.trial_id()];
  if (r.attempt != e.attempt()) {  // a new attempt starts its curve again
    r = Running{};
    r.attempt = e.attempt();
  }
  if (e.type() == v1::EVENT_TYPE_TRIAL_PROGRESS) {
    r.epoch = e.epoch();
    auto it = e.metrics().find("val_top1");
    if (it != e.metrics().end()) r.val_top1 = it->second;
  }
}

bool WatchView::ended() const { return ended_; }

int64_t WatchView::Count(v1::TrialState state) const {
  int64_t n = 0;
  for (const auto& [id, s] : trials_) n += s == state;
  return n;
}

std::string WatchView::Summary() const {
  return absl::StrCat("campaign ", id_, " ", name_, ": ", CampaignStateName(state_), " | ",
                      Counts());
}

std::string WatchView::Counts() const {
  std::string s = absl::StrCat(Count(v1::TRIAL_STATE_COMPLETED));
  if (max_trials_ > 0) absl::StrAppend(&s, "/", max_trials_);
  absl::StrAppend(&s, " done, ", Count(v1::TRIAL_STATE_RUNNING) + Count(v1::TRIAL_STATE_LEASED),
                  " running, ", Count(v1::TRIAL_STATE_FAILED), " failed, ",
                  Count(v1::TRIAL_STATE_PRUNED), " pruned, ", Count(v1::TRIAL_STATE_PENDING),
                  " pending");
  return s;
}

std::vector<std::string> WatchView::Render() const {
  std::vector<std::string> lines = {Summary()};
  if (running_.empty()) return lines;
  Table table({"TRIAL", "STATE", "ATTEMPT", "EPOCH", "VAL_TOP1"});
  for (const auto& [id, r] : running_) {
    auto it = trials_.find(id);
    table.AddRow({std::to_string(id), TrialStateName(it->second), std::to_string(r.attempt),
                  r.epoch > 0 ? std::to_string(r.epoch) : "-",
                  r.val_top1 ? FormatPercent(*r.val_top1) : "-"});
  }
  std::ostringstream text;
  table.Print(text);
  std::string line;
  std::istringstream in(text.str());
  while (std::getline(in, line)) lines.push_back("  " + line);
  return lines;
}

std::string WatchView::Line(const v1::CampaignEvent& e) const {
  std::string what;
  switch (e.type()) {
    case v1::EVENT_TYPE_CAMPAIGN_STATE:
      what = absl::StrCat("campaign ", CampaignStateName(e.campaign_state()));
      break;
    case v1::EVENT_TYPE_TRIAL_PROGRESS: {
      what = absl::StrCat("trial ", e.trial_id(), " epoch ", e.epoch());
      auto it = e.metrics().find("val_top1");
      if (it != e.metrics().end()) absl::StrAppend(&what, " val_top1 ", FormatPercent(it->second));
      break;
    }
    case v1::EVENT_TYPE_TRIAL_COMPLETED: {
      what = absl::StrCat("trial ", e.trial_id(), " completed");
      auto it = e.metrics().find("val_top1");
      if (it != e.metrics().end()) absl::StrAppend(&what, " val_top1 ", FormatPercent(it->second));
      break;
    }
    case v1::EVENT_TYPE_NOTE:
      what = "note:";
      break;
    default:
      std::string type = EventTypeName(e.type());
      if (absl::StartsWith(type, "trial_")) type = type.substr(6);
      what = absl::StrCat("trial ", e.trial_id(), " ", type);
      if (e.attempt() > 1) absl::StrAppend(&what, " (attempt ", e.attempt(), ")");
  }
  // A campaign-state message that only repeats the state adds nothing.
  if (!e.message().empty() &&
      !(e.type() == v1::EVENT_TYPE_CAMPAIGN_STATE &&
        absl::EqualsIgnoreCase(e.message(), CampaignStateName(e.campaign_state())))) {
    absl::StrAppend(&what, ": ", e.message());
  }
  return absl::StrCat(FormatTime(e.time_unix_us()), "  ", what, "  [", Counts(), "]");
}

}  // namespace convrnn::client
