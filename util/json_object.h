// Reads one JSON object field by field, naming the key path in every error.
//
// Specs, data specs and campaigns are user-written JSON; a mistake must be
// reported as `layers[2].cell.tau_kernel: must be an odd integer in [1, 11]`.
// JsonObject keeps the first error it meets, ignores later calls once it has
// one, and Finish() also refuses keys nobody asked for (unknown keys are errors).
//
// Thread-safety: none; one reader per object being parsed.
#ifndef CONVRNN_UTIL_JSON_OBJECT_H_
#define CONVRNN_UTIL_JSON_OBJECT_H_

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace convrnn {

// "layers" + 2 -> "layers[2]"; "" + "time" -> "time"; "a" + "b" -> "a.b".
std::string JoinPath(absl::string_view parent, absl::string_view key);
std::string IndexPath(absl::string_view parent, size_t index);

// A status naming the key path: InvalidArgument("path: message").
absl::Status PathError(absl::string_view path, absl::string_view message);

class JsonObject {
 public:
  // REQUIRES: `json` outlives this reader.
  JsonObject(const nlohmann::json& json, std::string path);

  // Each getter leaves *out untouched when the key is absent (so callers
  // pre-fill defaults) and records an error when present but invalid.
  void Int(absl::string_view key, int* out, int64_t lo, int64_t hi);
  void Int64(absl::string_view key, int64_t* out, int64_t lo, int64_t hi);
  // Odd integers in [lo, hi] (kernel sizes).
  void OddInt(absl::string_view key, int* out, int lo, int hi);
  void Double(absl::string_view key, double* out, double lo, double hi);
  void Bool(absl::string_view key, bool* out);
  void String(absl::string_view key, std::string* out);
  // A string that must be one of `allowed`.
  void Enum(absl::string_view key, std::string* out, std::initializer_list<const char*> allowed);

  // Raw access for nested objects and arrays; marks the key as known.
  // Returns nullptr when absent.
  const nlohmann::json* Get(absl::string_view key);
  bool Has(absl::string_view key) const;
  // Marks a key as known without reading it (a key handled elsewhere).
  void Allow(absl::string_view key);

  // Records an error at `key` (for rules spanning several fields).
  void Fail(absl::string_view key, absl::string_view message);
  void Fail(absl::Status status);

  std::string PathOf(absl::string_view key) const { return JoinPath(path_, key); }
  const std::string& path() const { return path_; }
  bool ok() const { return status_.ok(); }

  // The first error, or an error for the first unknown key, or OK.
  absl::Status Finish();

 private:
  const nlohmann::json* Lookup(absl::string_view key);

  const nlohmann::json& json_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
  absl::Status status_;
};

// Limits on any JSON a user hands us (campaigns, specs, data and neural
// sections): client, server and worker all read user JSON through
// ParseJsonText / ReadJsonFile, so a deep or huge document is refused in one
// place, before any recursive code (the space builder, the validators) sees it.
struct JsonLimits {
  // Bytes of text. Default 1 MiB: the largest example campaign is ~3 KB.
  size_t max_bytes = size_t{1} << 20;
  // Nesting of arrays and objects. Default 64: a campaign's space nests a
  // choice of cells inside a layer inside the layer list, about 10 deep.
  int max_depth = 64;
};

// Parses text as JSON; the error names `what` (a file name, say) and the
// position, or the key path for a value beyond the limits: nesting deeper
// than `limits.max_depth`, a number out of double's range (1e400), an integer
// beyond int64. NaN and Infinity are not JSON and are refused as such.
// Every error is INVALID_ARGUMENT.
absl::Status ParseJsonText(absl::string_view text, absl::string_view what, nlohmann::json* out,
                           const JsonLimits& limits = {});
// Reads and parses a JSON file (NOT_FOUND when it cannot be opened).
absl::Status ReadJsonFile(const std::string& file, nlohmann::json* out,
                          const JsonLimits& limits = {});

}  // namespace convrnn

#endif  // CONVRNN_UTIL_JSON_OBJECT_H_
