// Fuzz target: the architecture-spec and data-spec validators, as
// `convrnn-worker --spec F [--data D]` and the server run them.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "spec/arch_spec.h"
#include "spec/data_spec.h"
#include "util/json_object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<convrnn::ArchSpec> spec = convrnn::ParseArchSpecText(text);
  if (spec.ok()) (void)convrnn::ToJson(*spec).dump();  // what the worker echoes back
  nlohmann::json j;
  if (convrnn::ParseJsonText(text, "data", &j).ok()) {
    absl::StatusOr<convrnn::DataSpec> d = convrnn::ParseDataSpec(j, "data");
    if (d.ok()) (void)convrnn::ToJson(*d).dump();
  }
  return 0;
}
