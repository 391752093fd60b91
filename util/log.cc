#include "util/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace convrnn {
namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v";
constexpr char kJsonPattern[] =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n","pid":%P,"msg":"%*"})";

// %*: the message, escaped for a JSON string by nlohmann's serializer
// (control characters as \uXXXX, invalid UTF-8 replaced, so a line always
// parses).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string quoted =
        nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
            .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
    dest.append(quoted.data() + 1, quoted.data() + quoted.size() - 1);  // without the quotes
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

std::mutex& Mu() {
  static auto* const mu = new std::mutex;
  return *mu;
}

LogFormat& CurrentFormat() {
  static LogFormat format = LogFormat::kText;
  return format;
}

std::unique_ptr<spdlog::formatter> MakeFormatter(LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == LogFormat::kJson) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(kJsonPattern);
  } else {
    formatter->set_pattern(kTextPattern);
  }
  return formatter;
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(const std::string& name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--log-format: must be text or json, got \"", name, "\""));
}

void InitLogging(LogFormat format) {
  std::lock_guard<std::mutex> lock(Mu());
  CurrentFormat() = format;
  spdlog::apply_all([format](const std::shared_ptr<spdlog::logger>& logger) {
    logger->set_formatter(MakeFormatter(format));
  });
}

std::shared_ptr<spdlog::logger> Log(const std::string& component) {
  std::lock_guard<std::mutex> lock(Mu());
  if (std::shared_ptr<spdlog::logger> existing = spdlog::get(component)) return existing;
  static auto* const sink = new std::shared_ptr<spdlog::sinks::stderr_sink_mt>(
      std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>(component, *sink);
  logger->set_formatter(MakeFormatter(CurrentFormat()));
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace convrnn
