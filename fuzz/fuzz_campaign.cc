// Fuzz target: the campaign parser and the search-space builder, as the
// server runs them on LaunchCampaign (text -> JSON limits -> validation ->
// Space::Parse with its probe samples). Any input must end in a Status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/campaign.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)convrnn::server::ParseCampaignText(text);
  return 0;
}
