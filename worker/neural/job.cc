#include "worker/neural/job.h"

#include <torch/torch.h>

#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/checkpoint_path.h"
#include "util/status_macros.h"
#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/neural/recordings.h"
#include "worker/neural/score.h"
#include "worker/train/checkpoint.h"

namespace convrnn {
namespace {

using nlohmann::json;

NeuralScoreOptions OptionsFor(const NeuralSpec& neural, const Normalization& normalization,
                              uint64_t seed) {
  NeuralScoreOptions options;
  options.fit.method = neural.method == "ridge" ? NeuralMethod::kRidge : NeuralMethod::kPls;
  options.fit.pls_components = neural.components;
  options.features.layers = neural.layers;
  options.features.mean = normalization.mean;
  options.features.stddev = normalization.stddev;
  options.folds = neural.folds;
  options.step_offset = neural.offset;
  options.seed = seed;
  return options;
}

// Copies parameters and buffers by name (the models differ only in steps).
void CopyWeights(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto source = from.named_parameters();
  for (auto& item : to.named_parameters()) {
    if (const torch::Tensor* t = source.find(item.key()); t != nullptr) item.value().copy_(*t);
  }
  auto buffers = from.named_buffers();
  for (auto& item : to.named_buffers()) {
    if (const torch::Tensor* t = buffers.find(item.key()); t != nullptr) item.value().copy_(*t);
  }
}

absl::Status CheckRegions(const std::string& file, const NeuralData& data,
                          const NeuralSpec& neural) {
  std::vector<std::string> present;
  std::set<std::string> seen;
  for (const std::string& r : data.regions) {
    if (seen.insert(r).second) present.push_back(r);
  }
  for (const std::string& wanted : neural.regions) {
    if (seen.count(wanted) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": no sites of region ", wanted, " (wanted by ", kNeuralMetric, ".",
                       wanted, "); the file has ", absl::StrJoin(present, ", ")));
    }
  }
  return absl::OkStatus();
}

}  // namespace

NeuralJobRunner::NeuralJobRunner(std::function<void(const std::string&)> warn)
    : warn_(std::move(warn)) {}

NeuralJobRunner::~NeuralJobRunner() = default;

absl::StatusOr<std::shared_ptr<const NeuralData>> NeuralJobRunner::Data(const std::string& file) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(file, ec);
  const std::string key =
      ec ? std::string() : absl::StrCat(file, "@", mtime.time_since_epoch().count());
  if (cached_ != nullptr && !key.empty() && key == cached_key_) return cached_;
  cached_.reset();
  ASSIGN_OR_RETURN(NeuralData data, ReadNeuralData(file));
  cached_ = std::make_shared<const NeuralData>(std::move(data));
  cached_key_ = key;
  return cached_;
}

absl::StatusOr<json> NeuralJobRunner::ScoreWeights(const ArchSpec& spec, torch::nn::Module& weights,
                                                   const NeuralSpec& neural,
                                                   const Normalization& normalization) {
  ASSIGN_OR_RETURN(std::shared_ptr<const NeuralData> data, Data(neural.file));
  RETURN_IF_ERROR(CheckRegions(neural.file, *data, neural));
  const NeuralScoreOptions options =
      OptionsFor(neural, normalization, static_cast<uint64_t>(spec.train.seed));
  try {
    // A CPU model unrolled for every bin, with the trained weights.
    ConvRnn model(SpecForBins(spec, static_cast<int>(data->bins()), neural.offset));
    CopyWeights(weights, *model);
    absl::StatusOr<NeuralScore> score = ScoreModel(*model, *data, options);
    if (!score.ok()) {
      return absl::Status(score.status().code(),
                          absl::StrCat(neural.file, ": ", score.status().message()));
    }
    json report = ToJson(*score);
    report["method"] = neural.method;
    report["data"] = data->Describe();
    return report;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::InternalError(
        absl::StrCat("neural scoring failed: ", what.substr(0, what.find('\n'))));
  }
}

absl::StatusOr<json> NeuralJobRunner::ScoreCheckpoint(const ArchSpec& spec,
                                                      const std::string& checkpoint_dir,
                                                      const DataSpec& data,
                                                      const NeuralSpec& neural) {
  const std::string file = CheckpointFile(checkpoint_dir);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return absl::NotFoundError(
        absl::StrCat("no checkpoint at ", file,
                     " on this worker (workers keep a completed trial's checkpoint only with "
                     "--keep-checkpoints, under the --checkpoint-root it was trained with)"));
  }
  json meta;
  Normalization normalization;
  try {
    torch::manual_seed(spec.train.seed);
    ConvRnn model(spec);
    RETURN_IF_ERROR(LoadCheckpointWeights(file, *model, &meta));
    if (meta.contains("spec") && meta["spec"] != ToJson(spec)) {
      return absl::FailedPreconditionError(
          absl::StrCat(file, ": checkpoint belongs to a different spec than the trial's"));
    }
    const json* norm = meta.contains(kNormalizationKey) ? &meta[kNormalizationKey] : nullptr;
    if (norm != nullptr && norm->is_object() && norm->contains("mean") &&
        norm->contains("stddev")) {
      normalization.mean = (*norm)["mean"].get<std::vector<float>>();
      normalization.stddev = (*norm)["stddev"].get<std::vector<float>>();
    } else {
      if (warn_) {
        warn_(absl::StrCat(file,
                           ": checkpoint predates recorded input statistics; recomputing them "
                           "from the data spec (loads the training set)"));
      }
      ASSIGN_OR_RETURN(Datasets train, LoadDatasets(data));
      normalization.mean = train.mean;
      normalization.stddev = train.stddev;
    }
    return ScoreWeights(spec, *model, neural, normalization);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::DataLossError(
        absl::StrCat(file, ": cannot use checkpoint: ", what.substr(0, what.find('\n'))));
  }
}

}  // namespace convrnn
