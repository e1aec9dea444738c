// Effects shared by the core state machines: what the shell must do on their behalf.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mxrtc/common/time.hpp"

namespace mxrtc::core {

// Call onWakeup(at) at or after `at` (one timer per state machine; a new one replaces the old).
struct ScheduleWakeup {
    TimePoint at;
    friend bool operator==(const ScheduleWakeup&, const ScheduleWakeup&) = default;
};

// Send a (non-state) room event.
struct SendRoomEvent {
    std::string type;
    nlohmann::json content;
};

}  // namespace mxrtc::core
