// Wire names of every call-membership format (spec §0, §1). Defined once, used by parser and
// serialiser alike.
#pragma once

#include <string_view>

namespace mxrtc::core::membership_wire {

// Event types.
inline constexpr std::string_view kCallMemberType = "org.matrix.msc3401.call.member";  // gen 0/1/2 (state)
inline constexpr std::string_view kCallMemberStableType = "m.call.member";
inline constexpr std::string_view kRtcMemberType = "org.matrix.msc4143.rtc.member";  // gen 3 (sticky)
inline constexpr std::string_view kRtcMemberStableType = "m.rtc.member";
inline constexpr std::string_view kRoomMemberType = "m.room.member";

// Gen 0 (MSC3401 m.calls / m.devices).
inline constexpr std::string_view kCalls = "m.calls";
inline constexpr std::string_view kCallIdGen0 = "m.call_id";
inline constexpr std::string_view kFociGen0 = "m.foci";
inline constexpr std::string_view kDevices = "m.devices";
inline constexpr std::string_view kSessionId = "session_id";
inline constexpr std::string_view kFeeds = "feeds";

// Gen 1 (memberships array) and gen 2 (per-device state).
inline constexpr std::string_view kMemberships = "memberships";
inline constexpr std::string_view kApplication = "application";
inline constexpr std::string_view kCallId = "call_id";
inline constexpr std::string_view kScope = "scope";
inline constexpr std::string_view kDeviceId = "device_id";
inline constexpr std::string_view kCreatedTs = "created_ts";
inline constexpr std::string_view kExpires = "expires";
inline constexpr std::string_view kExpiresTs = "expires_ts";
inline constexpr std::string_view kFociActive = "foci_active";
inline constexpr std::string_view kFocusActive = "focus_active";
inline constexpr std::string_view kFociPreferred = "foci_preferred";
inline constexpr std::string_view kMembershipId = "membershipID";
inline constexpr std::string_view kCallIntent = "m.call.intent";
inline constexpr std::string_view kFocusSelection = "focus_selection";
inline constexpr std::string_view kOldestMembership = "oldest_membership";
inline constexpr std::string_view kMultiSfu = "multi_sfu";
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kLiveKitServiceUrl = "livekit_service_url";
inline constexpr std::string_view kLiveKitAlias = "livekit_alias";
inline constexpr std::string_view kScopeRoom = "m.room";
inline constexpr std::string_view kApplicationCall = "m.call";

// Gen 3 (sticky rtc.member, MSC4143 + MSC4354).
inline constexpr std::string_view kSlotId = "slot_id";
inline constexpr std::string_view kMember = "member";
inline constexpr std::string_view kUserId = "user_id";
inline constexpr std::string_view kId = "id";
inline constexpr std::string_view kRtcTransports = "rtc_transports";
inline constexpr std::string_view kVersions = "versions";
inline constexpr std::string_view kStickyKey = "sticky_key";
inline constexpr std::string_view kStickyKeyUnstable = "msc4354_sticky_key";
inline constexpr std::string_view kRelatesTo = "m.relates_to";
inline constexpr std::string_view kRelType = "rel_type";
inline constexpr std::string_view kReference = "m.reference";
inline constexpr std::string_view kEventId = "event_id";
inline constexpr std::string_view kSticky = "sticky";                  // PDU top level (stable)
inline constexpr std::string_view kStickyUnstable = "msc4354_sticky";  // PDU top level (unstable)
inline constexpr std::string_view kDurationMs = "duration_ms";
inline constexpr std::string_view kStickyTtl = "msc4354_sticky_duration_ttl_ms";  // unsigned
inline constexpr std::string_view kStickyTtlStable = "sticky_duration_ttl_ms";
inline constexpr std::string_view kStickyDurationParam = "org.matrix.msc4354.sticky_duration_ms";

// Slot ids: "<application>#<id>"; the room-wide call of m.call is "m.call#ROOM" (call_id "").
inline constexpr std::string_view kRoomSlotSuffix = "ROOM";
inline constexpr char kSlotSeparator = '#';

// Delayed events (MSC4140) marker in unsigned (sender's view only).
inline constexpr std::string_view kDelayIdUnsigned = "org.matrix.msc4140.delay_id";

}  // namespace mxrtc::core::membership_wire
