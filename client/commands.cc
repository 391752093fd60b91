#include "client/commands.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/format.h"
#include "client/neural_render.h"
#include "client/proto_json.h"
#include "client/render.h"
#include "client/spec_render.h"
#include "client/watch_view.h"
#include "spec/arch_spec.h"
#include "util/file.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

using nlohmann::json;

void PrintJson(const CommandEnv& env, const json& value) { *env.out << value.dump(2) << '\n'; }

template <typename T>
json JsonArray(const std::vector<T>& items) {
  json out = json::array();
  for (const auto& item : items) out.push_back(ToJson(item));
  return out;
}

absl::Status PrintCampaignChange(const CommandEnv& env, const absl::StatusOr<v1::Campaign>& c,
                                 const char* verb) {
  RETURN_IF_ERROR(c.status());
  if (env.json) {
    PrintJson(env, ToJson(*c, /*with_document=*/false));
  } else {
    *env.out << "campaign " << c->id() << " (" << TerminalSafe(c->name()) << ") " << verb
             << ", now " << CampaignStateName(c->state()) << '\n';
  }
  return absl::OkStatus();
}

}  // namespace

std::string NewRequestId() {
  std::random_device entropy;  // The OS's generator (getrandom), not a seeded PRNG.
  std::string id;
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&id, absl::Hex(static_cast<uint32_t>(entropy()), absl::kZeroPad8));
  }
  return id;
}

absl::Status LaunchCommand(const CommandEnv& env, const std::string& file,
                           const std::string& request_id) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(file));
  // Refused here, before the server sees it: the reason is the parser's position.
  json parsed;
  RETURN_IF_ERROR(ParseJsonText(text, file, &parsed));
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": a campaign must be a JSON object"));
  }
  // One id for every attempt of this launch: the server makes one campaign.
  const std::string id = request_id.empty() ? NewRequestId() : request_id;
  absl::StatusOr<v1::Campaign> campaign = env.client->Launch(text, id);
  absl::Duration backoff = kLaunchFirstBackoff;
  for (int attempt = 2; attempt <= kLaunchAttempts && absl::IsUnavailable(campaign.status());
       ++attempt) {
    *env.err << "convrnn launch: " << TerminalSafe(campaign.status().message()) << "; retrying in "
             << absl::FormatDuration(backoff) << " with request id " << TerminalSafe(id)
             << " (attempt " << attempt << " of " << kLaunchAttempts << ")" << std::endl;
    env.clock->SleepUntil(env.clock->NowMicros() + absl::ToInt64Microseconds(backoff), nullptr);
    backoff *= 2;
    campaign = env.client->Launch(text, id);
  }
  if (absl::IsUnavailable(campaign.status())) {
    // The campaign may exist: say how to ask again without making a second.
    return absl::UnavailableError(
        absl::StrCat(campaign.status().message(), " (", kLaunchAttempts,
                     " attempts; the campaign may have been created: `convrnn launch --request-id ",
                     id, " ", file, "` retries without a duplicate)"));
  }
  RETURN_IF_ERROR(campaign.status());
  if (env.json) {
    PrintJson(env, ToJson(*campaign, /*with_document=*/true));
  } else {
    *env.out << "launched campaign " << campaign->id() << " (" << TerminalSafe(campaign->name())
             << "), " << CampaignStateName(campaign->state()) << '\n';
  }
  return absl::OkStatus();
}

absl::Status CampaignsCommand(const CommandEnv& env) {
  ASSIGN_OR_RETURN(auto campaigns, env.client->ListCampaigns());
  if (env.json) {
    json list = json::array();
    for (const auto& c : campaigns) list.push_back(ToJson(c, /*with_document=*/false));
    PrintJson(env, {{"campaigns", list}});
  } else {
    PrintCampaignTable(campaigns, *env.out);
  }
  return absl::OkStatus();
}

absl::Status StatusCommand(const CommandEnv& env, int64_t campaign_id) {
  ASSIGN_OR_RETURN(auto campaign, env.client->GetCampaign(campaign_id));
  if (env.json) {
    PrintJson(env, ToJson(campaign, /*with_document=*/true));
  } else {
    PrintCampaignStatus(campaign, *env.out);
  }
  return absl::OkStatus();
}

absl::Status WatchCommand(const CommandEnv& env, int64_t campaign_id) {
  // Asking first turns an unknown id into NOT_FOUND before any drawing, and
  // gives the name and budget the view shows.
  ASSIGN_OR_RETURN(auto campaign, env.client->GetCampaign(campaign_id));
  WatchView view(campaign);
  std::ostream& out = *env.out;

  // On a terminal a painter thread redraws the frame in place at most every
  // 100 ms when something changed: a replayed history arrives in a burst
  // that would only flicker, and the last change of a burst must still show.
  const bool paint = env.tty && !env.json;
  absl::Mutex mu;
  bool dirty = true;     // guarded by mu
  bool stopped = false;  // guarded by mu
  size_t drawn = 0;      // lines of the last frame; painter only
  auto draw = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (drawn > 0) out << "\x1b[" << drawn << "F\x1b[J";  // up to the frame's top, clear below
    std::vector<std::string> lines = view.Render();
    for (const auto& line : lines) out << TerminalSafe(line) << '\n';
    drawn = lines.size();
    out.flush();
    dirty = false;
  };
  std::thread painter;
  if (paint) {
    painter = std::thread([&] {
      absl::MutexLock lock(&mu);
      while (!stopped) {
        if (dirty) draw();
        env.clock->AwaitWithTimeout(mu, absl::Condition(&stopped), absl::Milliseconds(100));
      }
      draw();  // the final frame
    });
  }

  int64_t last_event_id = 0;
  auto on_event = [&](const v1::CampaignEvent& event) {
    absl::MutexLock lock(&mu);
    last_event_id = event.id();
    view.Apply(event);
    if (env.json) {
      out << ToJson(event).dump() << '\n' << std::flush;
    } else if (paint) {
      dirty = true;
    } else {
      out << TerminalSafe(view.Line(event)) << '\n' << std::flush;
    }
    // COMPLETED and FAILED are final: nothing can follow.
    return !view.ended();
  };
  absl::Status status;
  int64_t give_up_us = std::numeric_limits<int64_t>::max();
  while (true) {
    const int64_t before = last_event_id;
    status = env.client->Watch(campaign_id, last_event_id, on_event);
    // Only a server lost after it answered is waited for; one never reached
    // is reported at once.
    if (status.code() != absl::StatusCode::kUnavailable || last_event_id == 0) break;
    const int64_t now_us = env.clock->NowMicros();
    if (last_event_id != before) give_up_us = now_us + kWatchReconnectSeconds * 1'000'000;
    if (now_us >= give_up_us) break;
    if (env.err != nullptr) {
      *env.err << "convrnn watch: stream lost (" << TerminalSafe(status.message())
               << "); reconnecting\n";
    }
    env.clock->SleepUntil(now_us + 1'000'000, nullptr);
  }
  if (paint) {
    {
      absl::MutexLock lock(&mu);
      stopped = true;
    }
    painter.join();
  }
  RETURN_IF_ERROR(status);
  if (!paint && !env.json) out << TerminalSafe(view.Summary()) << '\n';
  return absl::OkStatus();
}

absl::Status TrialsCommand(const CommandEnv& env, int64_t campaign_id, const std::string& state) {
  ASSIGN_OR_RETURN(auto filter, ParseTrialState(state));
  ASSIGN_OR_RETURN(auto trials, env.client->ListTrials(campaign_id, filter));
  if (env.json) {
    PrintJson(env, {{"trials", JsonArray(trials)}});
  } else {
    PrintTrialTable(trials, *env.out);
  }
  return absl::OkStatus();
}

absl::Status BestCommand(const CommandEnv& env, int64_t campaign_id, int top,
                         const std::string& metric) {
  if (top < 0) return absl::InvalidArgumentError("--top: must be positive");
  v1::BestRequest request;
  request.set_campaign_id(campaign_id);
  request.set_top_k(top);
  request.set_metric(metric);
  ASSIGN_OR_RETURN(auto best, env.client->Best(request));
  std::vector<v1::Trial> trials(best.trials().begin(), best.trials().end());
  if (env.json) {
    PrintJson(env,
              {{"metric", best.metric()}, {"goal", best.goal()}, {"trials", JsonArray(trials)}});
  } else {
    *env.out << "Best " << trials.size() << " trials of campaign " << campaign_id << " by "
             << best.metric() << " (" << best.goal() << "):\n";
    PrintRankedTable(trials, best.metric(), *env.out);
  }
  return absl::OkStatus();
}

absl::Status ParetoCommand(const CommandEnv& env, int64_t campaign_id,
                           const std::vector<std::string>& objectives) {
  v1::ParetoRequest request;
  request.set_campaign_id(campaign_id);
  for (const auto& o : objectives) {
    if (o.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--objective: '", o, "' must be metric:max or metric:min"));
    }
    request.add_objectives(o);
  }
  ASSIGN_OR_RETURN(auto pareto, env.client->Pareto(request));
  std::vector<v1::Trial> trials(pareto.trials().begin(), pareto.trials().end());
  std::vector<std::string> used(pareto.objectives().begin(), pareto.objectives().end());
  if (used.empty()) used = {"val_top1:max", "params:min"};
  if (env.json) {
    PrintJson(env, {{"objectives", used}, {"trials", JsonArray(trials)}});
  } else {
    PrintParetoTable(trials, used, *env.out);
  }
  return absl::OkStatus();
}

absl::Status ShowCommand(const CommandEnv& env, int64_t trial_id, const std::string& format) {
  const std::string f = env.json ? "json" : (format.empty() ? "text" : format);
  if (f != "text" && f != "json" && f != "dot") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format: '", format, "' is not one of text, json, dot"));
  }
  ASSIGN_OR_RETURN(auto trial, env.client->GetTrial(trial_id));
  if (f == "json") {
    nlohmann::json j = ToJson(trial);
    if (trial.neural_scores_size() > 0) {
      nlohmann::json scores = nlohmann::json::array();
      for (const v1::NeuralScore& s : trial.neural_scores()) scores.push_back(ToJson(s));
      j["neural_scores"] = std::move(scores);
    }
    PrintJson(env, j);
    return absl::OkStatus();
  }
  if (f == "text") {
    PrintTrialText(trial, *env.out);
    PrintNeuralScores(trial.neural_scores(), *env.out);
    return absl::OkStatus();
  }
  auto spec = ParseArchSpecText(trial.spec_json());
  if (!spec.ok()) {
    return absl::InternalError(
        absl::StrCat("trial ", trial_id, ": its spec does not parse: ", spec.status().message()));
  }
  *env.out << SpecToDot(*spec, absl::StrCat("trial_", trial_id));
  return absl::OkStatus();
}

namespace {

// Where the document goes: env.out, or a file opened for writing.
class ExportSink {
 public:
  ExportSink(const CommandEnv& env, const std::string& output) : env_(env), output_(output) {}
  absl::Status Open() {
    if (output_.empty()) return absl::OkStatus();
    file_.open(output_, std::ios::binary | std::ios::trunc);
    if (!file_)
      return absl::InvalidArgumentError(absl::StrCat(output_, ": cannot open for writing"));
    return absl::OkStatus();
  }
  absl::Status Write(const std::string& bytes) {
    (output_.empty() ? *env_.out : file_) << bytes;
    bytes_ += bytes.size();
    if (!output_.empty() && !file_)
      return absl::InternalError(absl::StrCat(output_, ": write failed"));
    return absl::OkStatus();
  }
  absl::Status Close() {
    if (output_.empty()) return absl::OkStatus();
    file_.close();
    if (!file_) return absl::InternalError(absl::StrCat(output_, ": write failed"));
    return absl::OkStatus();
  }
  size_t bytes() const { return bytes_; }

 private:
  const CommandEnv& env_;
  const std::string output_;
  std::ofstream file_;
  size_t bytes_ = 0;
};

// A server without ExportTrials: the unary Export, or else the same
// document built from the trial list (without epochs).
absl::Status ExportUnary(const CommandEnv& env, int64_t campaign_id, const std::string& format,
                         ExportSink& sink) {
  auto exported = env.client->Export(campaign_id, format);
  if (exported.ok()) return sink.Write(exported->content());
  if (exported.status().code() != absl::StatusCode::kUnimplemented) return exported.status();
  ASSIGN_OR_RETURN(auto trials, env.client->ListTrials(campaign_id, v1::TRIAL_STATE_UNSPECIFIED));
  return sink.Write(format == "csv" ? TrialsToCsv(trials) : JsonArray(trials).dump(2) + "\n");
}

}  // namespace

absl::Status ExportCommand(const CommandEnv& env, int64_t campaign_id, const std::string& format,
                           const std::string& output, const std::string& storage) {
  if (format == "optuna") return OptunaExportCommand(env, campaign_id, storage);
  if (format != "csv" && format != "json" && format != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format: '", format, "' is not csv, json, jsonl or optuna"));
  }
  ExportSink sink(env, output);
  if (absl::Status s = sink.Open(); !s.ok()) return s;
  bool streamed = false;
  absl::Status s = env.client->ExportTrials(campaign_id, format, [&](const v1::ExportChunk& c) {
    streamed = true;
    return sink.Write(c.content());
  });
  if (s.code() == absl::StatusCode::kUnimplemented && !streamed && format != "jsonl") {
    s = ExportUnary(env, campaign_id, format, sink);
  }
  RETURN_IF_ERROR(s);
  if (absl::Status closed = sink.Close(); !closed.ok() || output.empty()) return closed;
  if (env.json) {
    PrintJson(env, {{"output", output}, {"format", format}, {"bytes", sink.bytes()}});
  } else {
    *env.out << "wrote campaign " << campaign_id << " as " << format << " to " << output << " ("
             << sink.bytes() << " bytes)\n";
  }
  return absl::OkStatus();
}

absl::Status StopCommand(const CommandEnv& env, int64_t campaign_id) {
  return PrintCampaignChange(env, env.client->StopCampaign(campaign_id), "stopped");
}

absl::Status ResumeCommand(const CommandEnv& env, int64_t campaign_id) {
  return PrintCampaignChange(env, env.client->ResumeCampaign(campaign_id), "resumed");
}

absl::Status WorkersCommand(const CommandEnv& env, bool include_dead) {
  ASSIGN_OR_RETURN(auto workers, env.client->ListWorkers(include_dead));
  if (env.json) {
    PrintJson(env, {{"workers", JsonArray(workers)}});
  } else {
    PrintWorkerTable(workers, env.clock->NowMicros(), *env.out);
  }
  return absl::OkStatus();
}

absl::Status ScoreCommand(const CommandEnv& env, int64_t trial_id, const ScoreArgs& args) {
  if (args.file.empty()) return absl::InvalidArgumentError("--neural: FILE.h5 is required");
  nlohmann::json neural = {{"file", args.file}, {"method", args.method}, {"offset", args.offset}};
  if (!args.layers.empty()) neural["layers"] = args.layers;
  auto queued = env.client->ScoreTrial(trial_id, neural.dump());
  if (queued.status().code() == absl::StatusCode::kFailedPrecondition) {
    // A trial that is not COMPLETED: the user named the wrong trial.
    return absl::InvalidArgumentError(queued.status().message());
  }
  RETURN_IF_ERROR(queued.status());
  if (env.tty) {  // a note while waiting; scripts get only the result or one error line
    *env.err << "convrnn score: trial " << trial_id << ": queued as score " << queued->id()
             << "; waiting for a worker (" << args.file << " is read on the worker)" << std::endl;
  }
  const int64_t give_up_us = env.clock->NowMicros() + static_cast<int64_t>(args.wait_s * 1e6);
  v1::NeuralScore score = *std::move(queued);
  while (score.state() != v1::SCORE_STATE_COMPLETED && score.state() != v1::SCORE_STATE_FAILED) {
    if (env.clock->NowMicros() >= give_up_us) {
      return absl::DeadlineExceededError(absl::StrCat(
          "score ", score.id(), " of trial ", trial_id, " is still ", ScoreStateName(score.state()),
          " after ", args.wait_s, " s (is a worker that can score running?)"));
    }
    env.clock->SleepUntil(env.clock->NowMicros() + static_cast<int64_t>(args.poll_s * 1e6),
                          nullptr);
    ASSIGN_OR_RETURN(auto polled, env.client->GetScore(score.id()));
    score = std::move(polled);
  }
  if (score.state() == v1::SCORE_STATE_FAILED) {
    const auto code = static_cast<absl::StatusCode>(score.error_code());
    return absl::Status(code == absl::StatusCode::kOk ? absl::StatusCode::kUnknown : code,
                        absl::StrCat("trial ", trial_id, ": ", score.error()));
  }
  if (env.json) {
    PrintJson(env, ToJson(score));
    return absl::OkStatus();
  }
  *env.out << "Trial " << trial_id << ", score " << score.id() << " (worker " << score.worker_id()
           << ")\n";
  PrintNeuralReport(EmbeddedJson(score.result_json()), *env.out);
  return absl::OkStatus();
}

}  // namespace convrnn::client
