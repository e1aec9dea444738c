// Time as values. The core never reads a clock: `now` is always an input.
// All protocol timestamps are Unix milliseconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace mxrtc {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

inline constexpr TimePoint fromUnixMs(std::int64_t ms) noexcept {
    return TimePoint{Duration{ms}};
}
inline constexpr std::int64_t toUnixMs(TimePoint t) noexcept {
    return t.time_since_epoch().count();
}

}  // namespace mxrtc
