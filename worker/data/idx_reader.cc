// IDX files (the MNIST format), gzip-compressed or raw.
//
// Layout: magic 00 00 <dtype> <ndims>, then ndims big-endian uint32 sizes,
// then the data. Only unsigned bytes (dtype 0x08) are accepted. zlib's
// gzread reads raw files transparently, so one path serves both.
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"
#include "worker/data/data.h"

namespace convrnn {
namespace {

constexpr int kIdxUnsignedByte = 0x08;

const char* IdxTypeName(int dtype) {
  switch (dtype) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return "unknown";
  }
}

absl::Status FileError(absl::StatusCode code, const std::string& file, const std::string& what) {
  return absl::Status(code, absl::StrCat(file, ": ", what));
}

// Closes the gzFile on every path out.
class GzReader {
 public:
  explicit GzReader(const std::string& file) : file_(file), gz_(gzopen(file.c_str(), "rb")) {
    if (gz_ != nullptr) gzbuffer(gz_, 1 << 17);
  }
  ~GzReader() {
    if (gz_ != nullptr) gzclose(gz_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  bool is_open() const { return gz_ != nullptr; }

  // Reads up to `n` bytes; sets *got to what arrived. Fails only on a read
  // or decompression error (a short read is the caller's to judge).
  absl::Status Read(void* buf, size_t n, size_t* got) {
    *got = 0;
    auto* p = static_cast<unsigned char*>(buf);
    while (*got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - *got, 1u << 30));
      const int r = gzread(gz_, p + *got, chunk);
      if (r < 0 && StreamCut()) break;
      if (r < 0) return Error();
      if (r == 0) break;
      *got += static_cast<size_t>(r);
    }
    // A gzip stream cut short still hands out what it decoded, then reports
    // "unexpected end of file"; that is truncation, judged by the caller.
    return absl::OkStatus();
  }

  // True when the (decompressed) stream has no more bytes.
  bool AtEnd() {
    unsigned char c;
    return gzread(gz_, &c, 1) <= 0;
  }

  // Whether the gzip stream itself ended early (a cut compressed file).
  bool StreamCut() {
    int err = Z_OK;
    gzerror(gz_, &err);
    return err == Z_BUF_ERROR;
  }

 private:
  absl::Status Error() {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (err == Z_ERRNO) return FileError(absl::StatusCode::kDataLoss, file_, std::strerror(errno));
    return FileError(absl::StatusCode::kDataLoss, file_, absl::StrCat("corrupt gzip data: ", msg));
  }

  std::string file_;
  gzFile gz_;
};

}  // namespace

absl::StatusOr<torch::Tensor> ReadIdxFile(const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return FileError(absl::StatusCode::kNotFound, file, "no such file");
  }
  GzReader in(file);
  if (!in.is_open()) {
    return FileError(absl::StatusCode::kNotFound, file,
                     absl::StrCat("cannot open: ", std::strerror(errno)));
  }
  unsigned char magic[4];
  size_t got = 0;
  RETURN_IF_ERROR(in.Read(magic, 4, &got));
  if (got < 4) {
    return FileError(
        absl::StatusCode::kDataLoss, file,
        absl::StrCat("truncated: ", got, " bytes, shorter than the 4-byte IDX magic number"));
  }
  const int dtype = magic[2], ndims = magic[3];
  if (magic[0] != 0 || magic[1] != 0 || ndims < 1 || ndims > 4) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%02X%02X%02X%02X", magic[0], magic[1], magic[2], magic[3]);
    return FileError(
        absl::StatusCode::kInvalidArgument, file,
        absl::StrCat("bad magic number ", hex,
                     ": not an IDX file (expected 0x000008NN with 1 to 4 dimensions)"));
  }
  if (dtype != kIdxUnsignedByte) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02X", dtype);
    return FileError(absl::StatusCode::kInvalidArgument, file,
                     absl::StrCat("wrong data type ", hex, " (", IdxTypeName(dtype),
                                  "): only unsigned byte (0x08) is supported"));
  }
  std::vector<unsigned char> raw_dims(4 * ndims);
  RETURN_IF_ERROR(in.Read(raw_dims.data(), raw_dims.size(), &got));
  if (got < raw_dims.size()) {
    return FileError(
        absl::StatusCode::kDataLoss, file,
        absl::StrCat("truncated: header declares ", ndims, " dimensions but ends after ", got,
                     " of their ", raw_dims.size(), " bytes"));
  }
  std::vector<int64_t> dims(ndims);
  int64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    const unsigned char* b = &raw_dims[4 * d];
    dims[d] = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    total *= dims[d];
    if (total > (int64_t{1} << 40)) {
      return FileError(absl::StatusCode::kInvalidArgument, file,
                       absl::StrCat("implausible dimensions ", absl::StrJoin(dims, "x")));
    }
  }
  torch::Tensor data = torch::empty(dims, torch::kUInt8);
  RETURN_IF_ERROR(in.Read(data.data_ptr<uint8_t>(), static_cast<size_t>(total), &got));
  if (static_cast<int64_t>(got) < total) {
    return FileError(
        absl::StatusCode::kDataLoss, file,
        absl::StrCat("truncated: header says ", absl::StrJoin(dims, "x"), " = ", total,
                     " bytes, file has ", got, in.StreamCut() ? " (gzip stream cut short)" : ""));
  }
  if (!in.AtEnd()) {
    return FileError(absl::StatusCode::kDataLoss, file,
                     absl::StrCat("trailing data after the ", absl::StrJoin(dims, "x"), " = ",
                                  total, " bytes the header declares"));
  }
  return data;
}

absl::StatusOr<ImageSet> ReadIdxPair(const std::string& images_file, const std::string& labels_file,
                                     int num_classes) {
  ASSIGN_OR_RETURN(torch::Tensor images, ReadIdxFile(images_file));
  if (images.dim() != 3) {
    return FileError(absl::StatusCode::kInvalidArgument, images_file,
                     absl::StrCat("expected images (magic 0x00000803, N x H x W), found ",
                                  images.dim(), " dimensions"));
  }
  ASSIGN_OR_RETURN(torch::Tensor labels, ReadIdxFile(labels_file));
  if (labels.dim() != 1) {
    return FileError(
        absl::StatusCode::kInvalidArgument, labels_file,
        absl::StrCat("expected labels (magic 0x00000801, N), found ", labels.dim(), " dimensions"));
  }
  if (labels.size(0) != images.size(0)) {
    return FileError(absl::StatusCode::kInvalidArgument, labels_file,
                     absl::StrCat(labels.size(0), " labels but ", images_file, " has ",
                                  images.size(0), " images"));
  }
  if (num_classes > 0) {
    const uint8_t* l = labels.data_ptr<uint8_t>();
    for (int64_t i = 0; i < labels.size(0); ++i) {
      if (l[i] >= num_classes) {
        return FileError(absl::StatusCode::kInvalidArgument, labels_file,
                         absl::StrCat("label ", int{l[i]}, " at index ", i, " is out of range for ",
                                      num_classes, " classes"));
      }
    }
  }
  ImageSet set;
  set.images = images.unsqueeze(1).contiguous();
  set.labels = labels.to(torch::kInt64);
  return set;
}

}  // namespace convrnn
