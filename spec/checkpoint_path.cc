#include "spec/checkpoint_path.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace convrnn {

std::string CheckpointFile(const std::string& dir) {
  return (std::filesystem::path(dir) / "checkpoint.pt").string();
}

std::string TrialCheckpointDir(const std::string& root, int64_t trial_id) {
  return (std::filesystem::path(root) / absl::StrCat("trial-", trial_id)).string();
}

}  // namespace convrnn
