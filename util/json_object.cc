#include "util/json_object.h"

#include <cmath>
#include <fstream>
#include <sstream>

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
  bool integral = v->is_number_integer() ||
                  (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>());
  int64_t value = integral ? v->get<int64_t>() : 0;
  if (!integral || value < lo || value > hi) {
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
  if (!v->is_number_integer() || v->get<int64_t>() < lo || v->get<int64_t>() > hi ||
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
  if (!status_.ok()) return status_;
  for (auto it = json_.begin(); it != json_.end(); ++it) {
    if (seen_.count(it.key()) == 0) {
      return PathError(PathOf(it.key()),
                       absl::StrCat("unknown key (known here: ", absl::StrJoin(seen_, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseJsonText(absl::string_view text, absl::string_view what, nlohmann::json* out) {
  try {
    *out = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status ReadJsonFile(const std::string& file, nlohmann::json* out) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(file));
  return ParseJsonText(text, file, out);
}

}  // namespace convrnn
