// Call memberships in every wire format (spec §1): parse from room events, serialise the formats
// we write (gen-2 per-device state and gen-3 sticky rtc.member), byte-compatible with matrix-js-sdk.
//
//   gen 0  MSC3401 `m.calls`/`m.devices` (state key = user id)           parse only
//   gen 1  `memberships` array with foci_active/expires/expires_ts       parse only
//   gen 2  per-device `org.matrix.msc3401.call.member` state event       parse + serialise
//   gen 3  sticky `org.matrix.msc4143.rtc.member` (MSC4143 + MSC4354)     parse + serialise
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/event.hpp"

namespace mxrtc::core {

enum class MembershipKind {
    Msc3401Devices,   // gen 0
    MembershipArray,  // gen 1
    SessionState,     // gen 2
    StickyRtc,        // gen 3
};
std::string_view toString(MembershipKind kind);

// A transport ("focus") object, e.g. {"type":"livekit","livekit_service_url":"https://…"}.
struct Transport {
    std::string type;
    nlohmann::json raw = nlohmann::json::object();  // the whole object, unknown keys preserved

    std::optional<std::string> liveKitServiceUrl() const;
    friend bool operator==(const Transport& a, const Transport& b) { return a.raw == b.raw; }
};

enum class FocusSelection { OldestMembership, MultiSfu, Unknown };

// gen-2 `focus_active`: {"type":"livekit","focus_selection":"oldest_membership"|"multi_sfu"}.
struct FocusActive {
    std::string type;
    FocusSelection selection = FocusSelection::Unknown;
    nlohmann::json raw = nlohmann::json::object();
};

// Default validity of a gen-2 membership without `expires` (4 h) and the sticky cap (1 h).
inline constexpr Duration kDefaultMembershipExpiry{14'400'000};
inline constexpr Duration kMaxStickyDuration{3'600'000};

// One device's membership of one call slot, whatever format it came in.
struct CallMembership {
    MembershipKind kind = MembershipKind::SessionState;
    UserId user;  // gen 0-2: the event sender; gen 3: member.user_id (== sender)
    DeviceId device;
    SlotId slot;  // "<application>#<id>", "m.call#ROOM" for the room call
    std::string application;
    std::string callId;                      // legacy call_id ("" for the room call)
    std::optional<std::string> scope;        // deprecated, informational
    TimePoint createdTs{};                   // ordering key: created_ts ?? origin_server_ts
    TimePoint expiresAt{};                   // absolute expiry
    std::optional<FocusActive> focusActive;  // gen 2 only
    std::vector<Transport> transports;       // foci_preferred / rtc_transports / foci_active / m.foci
    std::optional<MemberId> memberId;        // membershipID (gen 1/2), member.id (gen 3)
    std::optional<std::string> callIntent;   // m.call.intent
    std::optional<std::string> stickyKey;    // gen 3
    std::optional<std::string> sessionId;    // gen 0
    std::string stateKey;                    // gen 0-2
    EventId eventId;
    TimePoint originServerTs{};

    bool isExpired(TimePoint now) const noexcept { return expiresAt <= now; }
    // The LiveKit participant identity (spec §5.7): "<user>:<device>" for state memberships,
    // the hashed form for sticky ones.
    std::string liveKitIdentity() const;
};

// The result of reading one member event: the memberships it declares (gen 0/1 may declare
// several devices; gen 2/3 one), or none if it says "left".
struct MemberEventContent {
    MembershipKind kind = MembershipKind::SessionState;
    bool left = false;  // empty content / no `application` / sticky leave marker
    std::vector<CallMembership> memberships;
    std::optional<std::string> stickyKey;  // gen 3 (also for the leave marker)
};

// Is this an event type that carries call memberships (state or sticky, stable or unstable)?
bool isCallMemberEventType(std::string_view type);
bool isStickyMemberEventType(std::string_view type);

// Parse a member event of any generation. `receivedAt` is the local receive time (used only for
// the sticky expiry of gen 3). Validation errors name the field (spec §12.1/§12.2 R*/S* cases).
// Expiry is NOT checked here: callers compare `expiresAt` with their `now`.
Result<MemberEventContent> parseMemberEvent(const RoomEvent& event, TimePoint receivedAt);

// Slot id helpers: ("m.call", "") <-> "m.call#ROOM"; other applications map call_id verbatim.
SlotId slotIdFor(std::string_view application, std::string_view callId);
// Inverse for writers: the legacy call_id of a slot ("" for m.call#ROOM). Error if malformed.
Result<std::string> legacyCallIdOf(const SlotId& slot);

// ---- serialisation (what we send) ----------------------------------------------------------

// Everything needed to write our own gen-2 membership.
struct SessionMembershipData {
    UserId user;
    DeviceId device;
    std::string application{"m.call"};
    std::string callId;  // "" = room call
    FocusSelection focusSelection = FocusSelection::OldestMembership;
    std::string focusType{"livekit"};
    std::vector<Transport> fociPreferred;
    std::optional<TimePoint> createdTs;  // absent on the first (join) write
    Duration expires = kDefaultMembershipExpiry;
    std::optional<std::string> callIntent;
};

// Gen-2 join content, field-for-field what js-sdk writes (application, call_id, scope, device_id,
// focus_active, foci_preferred, expires, membershipID "<user>:<device>", created_ts on refresh,
// m.call.intent when set).
nlohmann::json serializeSessionMembership(const SessionMembershipData& data);
// Gen-2 leave content: {}.
nlohmann::json sessionLeaveContent();
// Gen-2 state key: "_<user>_<device>_<application><suffix>" (no leading "_" in owned-state room
// versions org.matrix.msc3757.* / msc3779.*); suffix = "" for m.call#ROOM, else the call id.
std::string sessionStateKey(const UserId& user, const DeviceId& device, std::string_view application,
                            std::string_view callId, std::string_view roomVersion = "");

// Everything needed to write our own gen-3 sticky membership.
struct StickyMembershipData {
    UserId user;
    DeviceId device;
    MemberId memberId;  // js-sdk/EC: a fresh UUIDv4 per join (the caller supplies it: no randomness here)
    SlotId slot{"m.call#ROOM"};
    std::string applicationType{"m.call"};
    std::optional<std::string> callIntent;
    std::vector<Transport> rtcTransports;
};
nlohmann::json serializeStickyMembership(const StickyMembershipData& data);
// Gen-3 leave marker: {"msc4354_sticky_key": <member id>}.
nlohmann::json stickyLeaveContent(const MemberId& memberId);

}  // namespace mxrtc::core
