#include "worker/train/checkpoint.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "spec/checkpoint_path.h"

namespace convrnn {

absl::Status SaveCheckpoint(const std::string& file, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const nlohmann::json& meta) {
  const std::string tmp = file + ".tmp";
  try {
    torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
    model.save(model_archive);
    optimizer.save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("meta", c10::IValue(meta.dump()));
    archive.save_to(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat(file, ": cannot write checkpoint: ", e.what()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec)
    return absl::InternalError(absl::StrCat(file, ": cannot rename checkpoint: ", ec.message()));
  return absl::OkStatus();
}

absl::Status LoadCheckpoint(const std::string& file, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, nlohmann::json* meta) {
  if (!std::filesystem::exists(file))
    return absl::NotFoundError(absl::StrCat(file, ": no checkpoint"));
  try {
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    archive.load_from(file);
    c10::IValue meta_value;
    archive.read("meta", meta_value);
    *meta = nlohmann::json::parse(meta_value.toStringRef());
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    model.load(model_archive);
    optimizer.load(optimizer_archive);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return absl::DataLossError(absl::StrCat(file, ": unreadable checkpoint: ", what));
  }
  return absl::OkStatus();
}

absl::Status LoadCheckpointWeights(const std::string& path, torch::nn::Module& model,
                                   nlohmann::json* meta) {
  std::string file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    file = CheckpointFile(file);
  }
  if (!std::filesystem::exists(file, ec)) {
    return absl::NotFoundError(absl::StrCat(file, ": no checkpoint"));
  }
  try {
    torch::serialize::InputArchive archive, model_archive;
    archive.load_from(file);
    if (meta != nullptr) {
      c10::IValue meta_value;
      *meta = archive.try_read("meta", meta_value) ? nlohmann::json::parse(meta_value.toStringRef())
                                                   : nlohmann::json::object();
    }
    archive.read("model", model_archive);
    model.load(model_archive);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::DataLossError(
        absl::StrCat(file, ": unreadable checkpoint: ", what.substr(0, what.find('\n'))));
  }
  return absl::OkStatus();
}

}  // namespace convrnn
