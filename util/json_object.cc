#include "util/json_object.h"

#include <sys/stat.h>

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace convrnn {

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  if (parent.empty()) return std::string(key);
  return absl::StrCat(parent, ".", key);
}

std::string IndexPath(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::Status PathError(absl::string_view path, absl::string_view message) {
  if (path.empty()) return absl::InvalidArgumentError(message);
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

JsonObject::JsonObject(const nlohmann::json& json, std::string path)
    : json_(json), path_(std::move(path)) {
  if (!json_.is_object()) {
    status_ = PathError(path_.empty() ? "(top level)" : path_, "must be a JSON object");
  }
}

bool JsonObject::Has(absl::string_view key) const {
  return json_.is_object() && json_.find(std::string(key)) != json_.end();
}

void JsonObject::Allow(absl::string_view key) { seen_.emplace(key); }

const nlohmann::json* JsonObject::Lookup(absl::string_view key) {
  seen_.emplace(key);
  if (!status_.ok() || !json_.is_object()) return nullptr;
  auto it = json_.find(std::string(key));
  return it == json_.end() ? nullptr : &*it;
}

const nlohmann::json* JsonObject::Get(absl::string_view key) { return Lookup(key); }

void JsonObject::Fail(absl::string_view key, absl::string_view message) {
  if (status_.ok()) status_ = PathError(PathOf(key), message);
}

void JsonObject::Fail(absl::Status status) {
  if (status_.ok() && !status.ok()) status_ = std::move(status);
}

void JsonObject::Int64(absl::string_view key, int64_t* out, int64_t lo, int64_t hi) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return;
  // Compared as doubles first: a float or unsigned beyond int64 must not wrap.
  const double d = v->is_number() ? v->get<double>() : std::nan("");
  const bool integral = v->is_number_integer() || (v->is_number_float() && std::floor(d) == d);
  const bool in_range = integral && d >= static_cast<double>(lo) && d <= static_cast<double>(hi);
  const int64_t value = in_range ? v->get<int64_t>() : 0;
  if (!in_range || value < lo || value > hi) {
    Fail(key, absl::StrCat("must be an integer in [", lo, ", ", hi, "]"));
    return;
  }
  *out = value;
}

void JsonObject::Int(absl::string_view key, int* out, int64_t lo, int64_t hi) {
  int64_t value = *out;
  Int64(key, &value, lo, hi);
  *out = static_cast<int>(value);
}

void JsonObject::OddInt(absl::string_view key, int* out, int lo, int hi) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return;
  if (!v->is_number_integer() || v->get<double>() < lo || v->get<double>() > hi ||
      v->get<int64_t>() % 2 == 0) {
    Fail(key, absl::StrCat("must be an odd integer in [", lo, ", ", hi, "]"));
    return;
  }
  *out = v->get<int>();
}

void JsonObject::Double(absl::string_view key, double* out, double lo, double hi) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return;
  if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < lo ||
      v->get<double>() > hi) {
    Fail(key, absl::StrCat("must be a number in [", lo, ", ", hi, "]"));
    return;
  }
  *out = v->get<double>();
}

void JsonObject::Bool(absl::string_view key, bool* out) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return;
  if (!v->is_boolean()) {
    Fail(key, "must be true or false");
    return;
  }
  *out = v->get<bool>();
}

void JsonObject::String(absl::string_view key, std::string* out) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return;
  if (!v->is_string()) {
    Fail(key, "must be a string");
    return;
  }
  *out = v->get<std::string>();
}

void JsonObject::Enum(absl::string_view key, std::string* out,
                      std::initializer_list<const char*> allowed) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return;
  if (v->is_string()) {
    for (const char* a : allowed) {
      if (v->get<std::string>() == a) {
        *out = a;
        return;
      }
    }
  }
  Fail(key, absl::StrCat("must be one of ", absl::StrJoin(allowed, ", ")));
}

absl::Status JsonObject::Finish() {
  RETURN_IF_ERROR(status_);
  for (auto it = json_.begin(); it != json_.end(); ++it) {
    if (seen_.count(it.key()) == 0) {
      return PathError(PathOf(it.key()),
                       absl::StrCat("unknown key (known here: ", absl::StrJoin(seen_, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

namespace {

// Walks the parsed document without recursion: the first value nested deeper
// than `max_depth` or an unsigned integer beyond int64 is an error at its path.
absl::Status CheckParsed(const nlohmann::json& root, absl::string_view what, int max_depth) {
  struct Item {
    const nlohmann::json* value;
    std::string path;
    int depth;
  };
  std::vector<Item> stack = {{&root, "", 0}};
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    const nlohmann::json& v = *item.value;
    const std::string shown = item.path.empty() ? std::string(what) : item.path;
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return PathError(shown, "integer out of range (beyond 64-bit signed)");
    }
    if (!v.is_structured()) continue;
    if (item.depth >= max_depth) {
      return PathError(shown, absl::StrCat("nested deeper than ", max_depth, " levels"));
    }
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        stack.push_back({&*it, JoinPath(item.path, it.key()), item.depth + 1});
      }
    } else {
      for (size_t i = v.size(); i-- > 0;) {
        stack.push_back({&v[i], IndexPath(item.path, i), item.depth + 1});
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseJsonText(absl::string_view text, absl::string_view what, nlohmann::json* out,
                           const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", text.size(), " bytes; at most ",
                                                   limits.max_bytes, " are accepted"));
  }
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::out_of_range& e) {
    // 406: a number literal beyond double's range (1e400).
    return absl::InvalidArgumentError(absl::StrCat(what, ": number out of range: ", e.what()));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON: ", e.what()));
  }
  if (absl::Status s = CheckParsed(parsed, what, limits.max_depth); !s.ok()) return s;
  *out = std::move(parsed);
  return absl::OkStatus();
}

absl::Status ReadJsonFile(const std::string& file, nlohmann::json* out, const JsonLimits& limits) {
  // Refuse a huge file before reading it whole.
  struct stat st {};
  if (stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", st.st_size, " bytes; at most ",
                                                   limits.max_bytes, " are accepted"));
  }
  ASSIGN_OR_RETURN(const std::string text, ReadFile(file));
  return ParseJsonText(text, file, out, limits);
}

}  // namespace convrnn
