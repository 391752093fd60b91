// Fuzz target: a campaign's "neural" section (spec/neural_spec.h).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "spec/neural_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<convrnn::NeuralSpec> spec = convrnn::ParseNeuralSpecText(text, "neural");
  if (spec.ok()) (void)convrnn::ToJson(*spec).dump();
  return 0;
}
