#include "spec/data_spec.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn {

using nlohmann::json;

namespace {
constexpr int64_t kMaxImageSide = 4096;
}  // namespace

absl::StatusOr<DataSpec> ParseDataSpec(const json& j, absl::string_view path) {
  DataSpec spec;
  JsonObject o(j, std::string(path));
  o.Enum("dataset", &spec.dataset,
         {"fashion-mnist", "mnist-idx", "cifar10", "cifar100", "image-folder"});
  if (const json* p = o.Get("path"); p != nullptr && !p->is_null()) o.String("path", &spec.path);
  o.Double("val_fraction", &spec.val_fraction, 0.0, 0.9);
  o.Int64("split_seed", &spec.split_seed, 0, int64_t{1} << 53);
  if (const json* limit = o.Get("train_limit"); limit != nullptr && !limit->is_null()) {
    o.Int64("train_limit", &spec.train_limit, 1, int64_t{1} << 40);
  }
  if (const json* limit = o.Get("val_limit"); limit != nullptr && !limit->is_null()) {
    o.Int64("val_limit", &spec.val_limit, 1, int64_t{1} << 40);
  }
  if (const json* size = o.Get("image_size"); size != nullptr && !size->is_null()) {
    const bool ok = size->is_array() && size->size() == 2 && (*size)[0].is_number_integer() &&
                    (*size)[1].is_number_integer() && (*size)[0].get<int64_t>() >= 1 &&
                    (*size)[0].get<int64_t>() <= kMaxImageSide && (*size)[1].get<int64_t>() >= 1 &&
                    (*size)[1].get<int64_t>() <= kMaxImageSide;
    if (ok) {
      spec.image_height = (*size)[0].get<int>();
      spec.image_width = (*size)[1].get<int>();
    } else {
      o.Fail("image_size",
             absl::StrCat("must be [height, width], integers in [1, ", kMaxImageSide, "]"));
    }
  }
  if (const json* n = o.Get("num_classes"); n != nullptr && !n->is_null()) {
    o.Int("num_classes", &spec.num_classes, 2, 100000);
    if (o.ok() && spec.dataset != "mnist-idx") {
      o.Fail("num_classes",
             absl::StrCat("is fixed by dataset ", spec.dataset, "; only mnist-idx takes it"));
    }
  }
  if (const json* occ = o.Get("occlusion"); occ != nullptr && !occ->is_null()) {
    OcclusionSpec oc;
    JsonObject oo(*occ, o.PathOf("occlusion"));
    oo.Enum("kind", &oc.kind, {"debris", "blobs"});
    oo.Int("count", &oc.count, 1, 64);
    oo.Double("min_size", &oc.min_size, 0.01, 1.0);
    oo.Double("max_size", &oc.max_size, 0.01, 1.0);
    oo.Int64("seed", &oc.seed, 0, int64_t{1} << 53);
    if (oo.ok() && oc.min_size > oc.max_size) oo.Fail("min_size", "must not exceed max_size");
    o.Fail(oo.Finish());
    spec.occlusion = oc;
  }
  if (const json* aug = o.Get("augment"); aug != nullptr && !aug->is_null()) {
    JsonObject ao(*aug, o.PathOf("augment"));
    ao.Int("crop_padding", &spec.augment.crop_padding, 0, 64);
    ao.Bool("flip", &spec.augment.flip);
    o.Fail(ao.Finish());
  }
  if (o.ok() && spec.dataset != "fashion-mnist" && spec.path.empty()) {
    o.Fail("path", absl::StrCat("is required for dataset ", spec.dataset));
  }
  RETURN_IF_ERROR(o.Finish());
  return spec;
}

absl::StatusOr<DataSpec> ReadDataSpecFile(const std::string& file) {
  json j;
  RETURN_IF_ERROR(ReadJsonFile(file, &j));
  absl::StatusOr<DataSpec> spec = ParseDataSpec(j);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat(file, ": ", spec.status().message()));
  }
  return spec;
}

json ToJson(const DataSpec& spec) {
  json j = {
      {"dataset", spec.dataset},
      {"path", spec.path.empty() ? json(nullptr) : json(spec.path)},
      {"val_fraction", spec.val_fraction},
      {"split_seed", spec.split_seed},
      {"train_limit", spec.train_limit > 0 ? json(spec.train_limit) : json(nullptr)},
      {"val_limit", spec.val_limit > 0 ? json(spec.val_limit) : json(nullptr)},
      {"image_size",
       spec.image_height > 0 ? json::array({spec.image_height, spec.image_width}) : json(nullptr)},
      {"num_classes", spec.num_classes > 0 ? json(spec.num_classes) : json(nullptr)},
      {"augment", {{"crop_padding", spec.augment.crop_padding}, {"flip", spec.augment.flip}}}};
  if (spec.occlusion) {
    const OcclusionSpec& oc = *spec.occlusion;
    j["occlusion"] = {{"kind", oc.kind},
                      {"count", oc.count},
                      {"min_size", oc.min_size},
                      {"max_size", oc.max_size},
                      {"seed", oc.seed}};
  } else {
    j["occlusion"] = nullptr;
  }
  return j;
}

std::string ResolvedDataPath(const DataSpec& spec) {
  if (!spec.path.empty()) return spec.path;
  return kFashionMnistDefaultPath;
}

}  // namespace convrnn
