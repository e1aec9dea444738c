// Structured JSON log lines for mxrtc-auth (spdlog). A line is built field by field with proper
// JSON escaping; secrets have no field to go into (tokens and JWTs are never passed here).
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mxrtc::auth {

// Builds the body of one JSON object after the logger's {"ts":…,"level":…, prefix.
class LogLine {
  public:
    explicit LogLine(std::string_view msg);
    // Builds into `storage` (cleared; its capacity is reused: see release()).
    LogLine(std::string_view msg, std::string&& storage);
    LogLine& str(std::string_view key, std::string_view value);  // skipped when empty
    LogLine& num(std::string_view key, double value);
    LogLine& integer(std::string_view key, std::int64_t value);
    LogLine& boolean(std::string_view key, bool value);
    // Milliseconds with three decimals (same text as num(key, micros / 1000.0)).
    LogLine& millis(std::string_view key, std::chrono::microseconds value);
    std::string done();
    // Closes the object in place; the view stays valid until the LogLine changes or is released.
    std::string_view finish();
    std::string release() { return std::move(m_out); }

  private:
    std::string m_out;
};

// stderr logger: JSON lines {"ts":"…Z","level":"info","msg":…} or, with json=false, plain text.
// `buffered`: info/debug lines are written in blocks (call flush() periodically; warnings and
// errors are written at once).
std::shared_ptr<spdlog::logger> makeLogger(std::string_view level, bool json, bool buffered = true);

}  // namespace mxrtc::auth
