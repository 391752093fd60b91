// CIFAR-10 / CIFAR-100 binary batches.
//
// Each record is the label byte(s) then 3072 pixel bytes: the red, green and
// blue planes of a 32x32 image, row-major, which is [3, 32, 32] as stored.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/data/data.h"

namespace convrnn {
namespace {

constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarPixels = 3 * kCifarSide * kCifarSide;

absl::Status FileError(absl::StatusCode code, const std::string& file, const std::string& what) {
  return absl::Status(code, absl::StrCat(file, ": ", what));
}

}  // namespace

absl::StatusOr<ImageSet> ReadCifarFiles(const std::vector<std::string>& files, int num_classes) {
  if (num_classes != 10 && num_classes != 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("CIFAR has 10 or 100 classes, not ", num_classes));
  }
  const int64_t label_bytes = num_classes == 10 ? 1 : 2;
  const int64_t label_at = label_bytes - 1;  // CIFAR-100: coarse, then fine
  const int64_t record = label_bytes + kCifarPixels;
  const char* format = num_classes == 10 ? "CIFAR-10" : "CIFAR-100";

  // Sizes first, so one allocation holds every file.
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string& file : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return FileError(absl::StatusCode::kNotFound, file, "no such file");
    }
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(file, ec));
    if (ec) return FileError(absl::StatusCode::kNotFound, file, ec.message());
    if (bytes == 0 || bytes % record != 0) {
      return FileError(
          absl::StatusCode::kDataLoss, file,
          absl::StrCat("size ", bytes, " bytes is not a whole number of ", record, "-byte ", format,
                       " records (truncated or not a ", format, " binary batch)"));
    }
    counts.push_back(bytes / record);
    total += bytes / record;
  }

  ImageSet set;
  set.images = torch::empty({total, 3, kCifarSide, kCifarSide}, torch::kUInt8);
  set.labels = torch::empty({total}, torch::kInt64);
  uint8_t* images = set.images.data_ptr<uint8_t>();
  int64_t* labels = set.labels.data_ptr<int64_t>();
  std::vector<char> buf;
  int64_t at = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string& file = files[f];
    std::ifstream in(file, std::ios::binary);
    buf.resize(static_cast<size_t>(counts[f] * record));
    if (!in.read(buf.data(), static_cast<std::streamsize>(buf.size()))) {
      return FileError(absl::StatusCode::kDataLoss, file,
                       absl::StrCat("read failed: ", std::strerror(errno)));
    }
    for (int64_t r = 0; r < counts[f]; ++r, ++at) {
      const auto* rec = reinterpret_cast<const uint8_t*>(buf.data()) + r * record;
      const int label = rec[label_at];
      if (label >= num_classes) {
        return FileError(absl::StatusCode::kInvalidArgument, file,
                         absl::StrCat("label ", label, " in record ", r, " is out of range for ",
                                      num_classes, " classes"));
      }
      labels[at] = label;
      std::memcpy(images + at * kCifarPixels, rec + label_bytes, kCifarPixels);
    }
  }
  return set;
}

}  // namespace convrnn
