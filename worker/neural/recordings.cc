#include "worker/neural/recordings.h"

#include <hdf5.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace convrnn {
namespace {

// Closes an HDF5 handle with the matching H5?close when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints an error stack on stderr by default; errors are values here.
void SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string DimsText(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return "a scalar";
  return absl::StrCat("shape (", absl::StrJoin(dims, " x "), ")");
}

// A dataset's shape and element type.
struct DatasetInfo {
  std::vector<hsize_t> dims;
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t type_size = 0;
  bool is_signed = false;
};

class Reader {
 public:
  Reader(std::string file, hid_t fid) : file_(std::move(file)), fid_(fid) {}

  absl::Status Error(const std::string& dataset, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", dataset, ": ", what));
  }

  bool Exists(const std::string& path) const {
    // H5Lexists needs every intermediate group to exist.
    size_t pos = 0;
    while ((pos = path.find('/', pos + 1)) != std::string::npos) {
      if (H5Lexists(fid_, path.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return H5Lexists(fid_, path.c_str(), H5P_DEFAULT) > 0;
  }

  // Opens a dataset and reads its dims and type.
  absl::StatusOr<DatasetInfo> Open(const std::string& path) const {
    if (!Exists(path)) return Error(path, "missing (see docs/neural-data.md for the layout)");
    Handle ds(H5Dopen2(fid_, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) return Error(path, "not a dataset");
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) return Error(path, "unreadable dataspace");
    DatasetInfo info;
    info.dims.assign(rank, 0);
    H5Sget_simple_extent_dims(space.get(), info.dims.data(), nullptr);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    info.type_class = H5Tget_class(type.get());
    info.type_size = H5Tget_size(type.get());
    info.is_signed = info.type_class == H5T_INTEGER && H5Tget_sign(type.get()) == H5T_SGN_2;
    return info;
  }

  // Reads a whole numeric dataset converted to `mem_type`.
  absl::Status ReadNumeric(const std::string& path, hid_t mem_type, void* out) const {
    Handle ds(H5Dopen2(fid_, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok() || H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
      return Error(path, "cannot read (truncated or corrupt file?)");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ReadStrings(const std::string& path, hsize_t n) const {
    Handle ds(H5Dopen2(fid_, path.c_str(), H5P_DEFAULT), H5Dclose);
    Handle file_type(H5Dget_type(ds.get()), H5Tclose);
    std::vector<std::string> out(n);
    if (H5Tis_variable_str(file_type.get()) > 0) {
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      H5Tset_cset(mem.get(), H5Tget_cset(file_type.get()));
      std::vector<char*> ptrs(n, nullptr);
      if (H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
        return Error(path, "cannot read strings");
      }
      for (hsize_t i = 0; i < n; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
      Handle space(H5Dget_space(ds.get()), H5Sclose);
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    } else {
      size_t size = H5Tget_size(file_type.get());
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), size);
      std::vector<char> buf(n * size);
      if (H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
        return Error(path, "cannot read strings");
      }
      for (hsize_t i = 0; i < n; ++i) {
        std::string s(buf.data() + i * size, size);
        s = s.substr(0, s.find('\0'));
        while (!s.empty() && s.back() == ' ') s.pop_back();
        out[i] = s;
      }
    }
    return out;
  }

  // A numeric scalar attribute of the root group, or `fallback`.
  double RootAttribute(const char* name, double fallback) const {
    if (H5Aexists(fid_, name) <= 0) return fallback;
    Handle attr(H5Aopen(fid_, name, H5P_DEFAULT), H5Aclose);
    double value = fallback;
    if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0) return fallback;
    return value;
  }

 private:
  std::string file_;
  hid_t fid_;
};

// /stimuli: N x C x H x W (or N x H x W), uint8 scaled to [0, 1] or float.
absl::Status ReadStimuli(const Reader& r, NeuralData* d) {
  ASSIGN_OR_RETURN(const DatasetInfo info, r.Open("/stimuli"));
  const std::vector<hsize_t>& dims = info.dims;
  if (dims.size() != 3 && dims.size() != 4) {
    return r.Error("/stimuli",
                   absl::StrCat("expected N x C x H x W or N x H x W, got ", DimsText(dims)));
  }
  bool u8 = info.type_class == H5T_INTEGER && info.type_size == 1 && !info.is_signed;
  if (!u8 && info.type_class != H5T_FLOAT) {
    return r.Error("/stimuli", "expected uint8 or float values");
  }
  std::vector<int64_t> shape(dims.begin(), dims.end());
  if (dims.size() == 3) shape.insert(shape.begin() + 1, 1);
  for (int64_t v : shape) {
    if (v <= 0) return r.Error("/stimuli", absl::StrCat("empty dimension in ", DimsText(dims)));
  }
  if (u8) {
    torch::Tensor raw = torch::empty(shape, torch::kUInt8);
    RETURN_IF_ERROR(r.ReadNumeric("/stimuli", H5T_NATIVE_UINT8, raw.data_ptr()));
    d->stimuli = raw.to(torch::kFloat32).div_(255.0);
    return absl::OkStatus();
  }
  d->stimuli = torch::empty(shape, torch::kFloat32);
  RETURN_IF_ERROR(r.ReadNumeric("/stimuli", H5T_NATIVE_FLOAT, d->stimuli.data_ptr()));
  if (!torch::isfinite(d->stimuli).all().item<bool>()) {
    return r.Error("/stimuli", "contains NaN or Inf");
  }
  return absl::OkStatus();
}

// /responses: R x N x S x B floats, N matching /stimuli; returns its dims.
absl::StatusOr<std::vector<hsize_t>> ReadResponses(const Reader& r, NeuralData* d) {
  ASSIGN_OR_RETURN(const DatasetInfo info, r.Open("/responses"));
  const std::vector<hsize_t>& dims = info.dims;
  const int64_t n = d->stimuli.size(0);
  if (dims.size() != 4) {
    return r.Error(
        "/responses",
        absl::StrCat("expected R x N x S x B (repetitions x images x sites x bins), got ",
                     DimsText(dims)));
  }
  if (info.type_class != H5T_FLOAT) {
    return r.Error("/responses", "expected float values (NaN = missing repetition)");
  }
  if (static_cast<int64_t>(dims[1]) != n) {
    return r.Error("/responses", absl::StrCat("has ", dims[1], " images (dimension 2 of ",
                                              DimsText(dims), ") but /stimuli has ", n));
  }
  for (hsize_t v : dims) {
    if (v == 0) return r.Error("/responses", absl::StrCat("empty dimension in ", DimsText(dims)));
  }
  d->responses = torch::empty({static_cast<int64_t>(dims[0]), n, static_cast<int64_t>(dims[2]),
                               static_cast<int64_t>(dims[3])},
                              torch::kFloat32);
  RETURN_IF_ERROR(r.ReadNumeric("/responses", H5T_NATIVE_FLOAT, d->responses.data_ptr()));
  if (torch::isinf(d->responses).any().item<bool>()) return r.Error("/responses", "contains Inf");
  if (torch::isnan(d->responses).all().item<bool>()) {
    return r.Error("/responses", "every value is NaN");
  }
  return dims;
}

// The 1-D dataset `path` of `n` `what`s, one per `axis` of /responses.
absl::StatusOr<DatasetInfo> OpenPerAxis(const Reader& r, const char* path, hsize_t n,
                                        const char* what, const char* axis) {
  ASSIGN_OR_RETURN(DatasetInfo info, r.Open(path));
  if (info.dims.size() != 1 || info.dims[0] != n) {
    return r.Error(path, absl::StrCat("expected ", n, " ", what, " (one per ", axis,
                                      " of /responses), got ", DimsText(info.dims)));
  }
  return info;
}

// /sites/region: one non-empty string per site.
absl::Status ReadRegions(const Reader& r, hsize_t sites, NeuralData* d) {
  ASSIGN_OR_RETURN(const DatasetInfo info,
                   OpenPerAxis(r, "/sites/region", sites, "strings", /*axis=*/"site"));
  if (info.type_class != H5T_STRING) return r.Error("/sites/region", "expected strings");
  ASSIGN_OR_RETURN(std::vector<std::string> regions, r.ReadStrings("/sites/region", sites));
  for (size_t i = 0; i < regions.size(); ++i) {
    if (regions[i].empty()) {
      return r.Error("/sites/region", absl::StrCat("site ", i, " has an empty region"));
    }
  }
  d->regions = std::move(regions);
  return absl::OkStatus();
}

// /bins/start_ms: one increasing number per bin; bin_width_ms from the root.
absl::Status ReadBins(const Reader& r, hsize_t bins, NeuralData* d) {
  ASSIGN_OR_RETURN(const DatasetInfo info,
                   OpenPerAxis(r, "/bins/start_ms", bins, "values", /*axis=*/"bin"));
  if (info.type_class != H5T_FLOAT && info.type_class != H5T_INTEGER) {
    return r.Error("/bins/start_ms", "expected numbers");
  }
  d->bin_start_ms.resize(bins);
  RETURN_IF_ERROR(r.ReadNumeric("/bins/start_ms", H5T_NATIVE_DOUBLE, d->bin_start_ms.data()));
  for (size_t i = 1; i < d->bin_start_ms.size(); ++i) {
    if (!(d->bin_start_ms[i] > d->bin_start_ms[i - 1])) {
      return r.Error("/bins/start_ms", absl::StrCat("not increasing at bin ", i));
    }
  }
  d->bin_width_ms = r.RootAttribute("bin_width_ms", 10.0);
  return absl::OkStatus();
}

// /truth/reliability (optional, synthetic files): float S x B.
absl::Status ReadTruth(const Reader& r, hsize_t sites, hsize_t bins, NeuralData* d) {
  if (!r.Exists("/truth/reliability")) return absl::OkStatus();
  ASSIGN_OR_RETURN(const DatasetInfo info, r.Open("/truth/reliability"));
  const std::vector<hsize_t>& dims = info.dims;
  if (dims.size() != 2 || dims[0] != sites || dims[1] != bins || info.type_class != H5T_FLOAT) {
    return r.Error("/truth/reliability",
                   absl::StrCat("expected float S x B, got ", DimsText(dims)));
  }
  d->true_reliability =
      torch::empty({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])});
  return r.ReadNumeric("/truth/reliability", H5T_NATIVE_FLOAT, d->true_reliability.data_ptr());
}

absl::Status ReadAll(const Reader& r, NeuralData* d) {
  // Every dataset must exist before any is read (the error names the first missing).
  for (const char* path : {"/stimuli", "/responses", "/sites/region", "/bins/start_ms"}) {
    RETURN_IF_ERROR(r.Open(path).status());
  }
  RETURN_IF_ERROR(ReadStimuli(r, d));
  ASSIGN_OR_RETURN(const std::vector<hsize_t> responses, ReadResponses(r, d));
  RETURN_IF_ERROR(ReadRegions(r, responses[2], d));
  RETURN_IF_ERROR(ReadBins(r, responses[3], d));
  return ReadTruth(r, responses[2], responses[3], d);
}

absl::Status WriteDataset(hid_t loc, const char* name, hid_t file_type, hid_t mem_type,
                          const std::vector<hsize_t>& dims, const void* data) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle ds(H5Dcreate2(loc, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
  if (!ds.ok() || H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    return absl::InternalError(absl::StrCat("cannot write ", name));
  }
  return absl::OkStatus();
}

}  // namespace

std::string NeuralData::Describe() const {
  std::map<std::string, int> counts;
  std::vector<std::string> order;
  for (const std::string& r : regions) {
    if (counts[r]++ == 0) order.push_back(r);
  }
  std::vector<std::string> parts;
  for (const std::string& r : order) parts.push_back(absl::StrCat(r, " ", counts[r]));
  return absl::StrCat(images(), " images ", stimuli.size(1), "x", stimuli.size(2), "x",
                      stimuli.size(3), ", ", sites(), " sites (", absl::StrJoin(parts, ", "), "), ",
                      bins(), " bins, ", responses.size(0), " reps");
}

absl::StatusOr<NeuralData> ReadNeuralData(const std::string& file) {
  SilenceHdf5();
  if (!std::filesystem::exists(file))
    return absl::NotFoundError(absl::StrCat(file, ": no such file"));
  if (H5Fis_hdf5(file.c_str()) <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": not an HDF5 file (see docs/neural-data.md)"));
  }
  Handle fid(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!fid.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": cannot open as HDF5"));
  NeuralData data;
  RETURN_IF_ERROR(ReadAll(Reader(file, fid.get()), &data));
  return data;
}

absl::Status WriteNeuralData(const std::string& file, const NeuralData& data, bool uint8_stimuli) {
  SilenceHdf5();
  Handle fid(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!fid.ok()) return absl::InternalError(absl::StrCat(file, ": cannot create"));
  auto fail = [&](const absl::Status& s) {
    return absl::InternalError(absl::StrCat(file, ": ", s.message()));
  };
  torch::Tensor stim = data.stimuli.contiguous();
  std::vector<hsize_t> sdims(stim.sizes().begin(), stim.sizes().end());
  absl::Status s;
  if (uint8_stimuli) {
    torch::Tensor u8 = stim.mul(255.0).round().clamp(0, 255).to(torch::kUInt8).contiguous();
    s = WriteDataset(fid.get(), "stimuli", H5T_STD_U8LE, H5T_NATIVE_UINT8, sdims, u8.data_ptr());
  } else {
    s = WriteDataset(fid.get(), "stimuli", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sdims,
                     stim.data_ptr());
  }
  if (!s.ok()) return fail(s);
  torch::Tensor resp = data.responses.to(torch::kFloat32).contiguous();
  std::vector<hsize_t> rdims(resp.sizes().begin(), resp.sizes().end());
  if (s = WriteDataset(fid.get(), "responses", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rdims,
                       resp.data_ptr());
      !s.ok()) {
    return fail(s);
  }
  {
    Handle sites(H5Gcreate2(fid.get(), "sites", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    Handle str(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(str.get(), H5T_VARIABLE);
    H5Tset_cset(str.get(), H5T_CSET_UTF8);
    std::vector<const char*> ptrs;
    for (const std::string& r : data.regions) ptrs.push_back(r.c_str());
    if (s = WriteDataset(sites.get(), "region", str.get(), str.get(), {ptrs.size()}, ptrs.data());
        !s.ok()) {
      return fail(s);
    }
  }
  {
    Handle bins(H5Gcreate2(fid.get(), "bins", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (s = WriteDataset(bins.get(), "start_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                         {data.bin_start_ms.size()}, data.bin_start_ms.data());
        !s.ok()) {
      return fail(s);
    }
  }
  if (data.true_reliability.defined()) {
    Handle truth(H5Gcreate2(fid.get(), "truth", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    torch::Tensor t = data.true_reliability.to(torch::kFloat32).contiguous();
    std::vector<hsize_t> tdims(t.sizes().begin(), t.sizes().end());
    if (s = WriteDataset(truth.get(), "reliability", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, tdims,
                         t.data_ptr());
        !s.ok()) {
      return fail(s);
    }
  }
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(
      H5Acreate2(fid.get(), "bin_width_ms", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &data.bin_width_ms) < 0) {
    return absl::InternalError(absl::StrCat(file, ": cannot write attribute bin_width_ms"));
  }
  return absl::OkStatus();
}

}  // namespace convrnn
