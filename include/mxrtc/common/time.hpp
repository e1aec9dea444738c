// Time as values. The core never reads a clock: `now` is always an input.
// All protocol timestamps are Unix milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mxrtc {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

inline constexpr TimePoint fromUnixMs(std::int64_t ms) noexcept {
    return TimePoint{Duration{ms}};
}
inline constexpr std::int64_t toUnixMs(TimePoint t) noexcept {
    return t.time_since_epoch().count();
}

// For people: "250 ms", "2 s", "1.5 s".
inline std::string formatSeconds(Duration d) {
    const std::int64_t ms = d.count();
    if (ms < 1000 && ms > -1000) return std::to_string(ms) + " ms";
    const std::int64_t tenths = (ms + (ms >= 0 ? 50 : -50)) / 100;
    std::string out = std::to_string(tenths / 10);
    if (tenths % 10 != 0) out += "." + std::to_string((tenths < 0 ? -tenths : tenths) % 10);
    return out + " s";
}

}  // namespace mxrtc
