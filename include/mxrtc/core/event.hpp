// A Matrix room event as the core sees it: the envelope fields every parser needs, with the
// content kept as JSON. Parsed from client-server API JSON (sync timeline/state, /state, /messages).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::core {

namespace wire {
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kStateKey = "state_key";
inline constexpr std::string_view kSender = "sender";
inline constexpr std::string_view kEventId = "event_id";
inline constexpr std::string_view kRoomId = "room_id";
inline constexpr std::string_view kOriginServerTs = "origin_server_ts";
inline constexpr std::string_view kContent = "content";
inline constexpr std::string_view kUnsigned = "unsigned";
inline constexpr std::string_view kPrevContent = "prev_content";
}  // namespace wire

struct RoomEvent {
    std::string type;
    std::optional<std::string> stateKey;  // present iff a state event
    UserId sender;
    EventId eventId;               // may be empty for locally constructed events
    std::optional<RoomId> roomId;  // absent in sync timelines (room is the sync key)
    TimePoint originServerTs{};
    nlohmann::json content = nlohmann::json::object();
    nlohmann::json unsignedData = nlohmann::json::object();  // "unsigned"
    nlohmann::json raw;  // the whole event, for format-specific top-level keys

    bool isState() const noexcept { return stateKey.has_value(); }
    // unsigned.prev_content, falling back to a top-level prev_content; nullopt if neither.
    std::optional<nlohmann::json> prevContent() const;
};

// Validates the envelope: `type` and `sender` strings, `origin_server_ts` integer, `content`
// object (absent content is treated as {}), optional string `state_key`/`event_id`/`room_id`.
// Errors name the offending field.
Result<RoomEvent> parseRoomEvent(const nlohmann::json& event);

// Same, from text; a JSON syntax error yields M_NOT_JSON.
Result<RoomEvent> parseRoomEvent(std::string_view text);

}  // namespace mxrtc::core
