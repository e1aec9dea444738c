// Ring notifications (spec §4): `rtc.notification` (MSC4075, what js-sdk sends today), the legacy
// `call.notify`, and decline (MSC4310). Parse + serialise side by side, byte-compatible field
// names with matrix-js-sdk, plus the pure "is this still ringing at `now`?" decision.
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

namespace notification_wire {
inline constexpr std::string_view kNotificationType = "org.matrix.msc4075.rtc.notification";
inline constexpr std::string_view kNotificationStableType = "m.rtc.notification";
inline constexpr std::string_view kLegacyNotifyType = "org.matrix.msc4075.call.notify";
inline constexpr std::string_view kLegacyNotifyStableType = "m.call.notify";
inline constexpr std::string_view kDeclineType = "org.matrix.msc4310.rtc.decline";
inline constexpr std::string_view kDeclineStableType = "m.rtc.decline";

inline constexpr std::string_view kNotificationTypeField = "notification_type";
inline constexpr std::string_view kNotifyTypeField = "notify_type";  // legacy
inline constexpr std::string_view kSenderTs = "sender_ts";
inline constexpr std::string_view kLifetime = "lifetime";
inline constexpr std::string_view kMentions = "m.mentions";
inline constexpr std::string_view kUserIds = "user_ids";
inline constexpr std::string_view kRoom = "room";
inline constexpr std::string_view kRelatesTo = "m.relates_to";
inline constexpr std::string_view kRelType = "rel_type";
inline constexpr std::string_view kReference = "m.reference";
inline constexpr std::string_view kEventId = "event_id";
inline constexpr std::string_view kCallIntent = "m.call.intent";
inline constexpr std::string_view kApplication = "application";
inline constexpr std::string_view kCallId = "call_id";
inline constexpr std::string_view kRing = "ring";
inline constexpr std::string_view kNotification = "notification";
inline constexpr std::string_view kNotify = "notify";  // legacy spelling of "notification"
}  // namespace notification_wire

enum class NotificationType { Ring, Notification };

struct Mentions {
    std::vector<UserId> userIds;
    bool room = false;
    bool mentions(const UserId& user) const;
    friend bool operator==(const Mentions&, const Mentions&) = default;
};

struct RtcNotification {
    NotificationType type = NotificationType::Ring;
    TimePoint senderTs{};
    Duration lifetime{30'000};  // MSC recommends 30 s
    std::optional<Mentions> mentions;
    std::optional<EventId> relatesTo;  // our membership event (m.reference)
    std::optional<std::string> callIntent;
};
Result<RtcNotification> parseRtcNotification(const nlohmann::json& content);
nlohmann::json serializeRtcNotification(const RtcNotification& n);

struct LegacyNotify {
    std::string application{"m.call"};
    std::string callId;
    NotificationType type = NotificationType::Ring;
    Mentions mentions;
};
Result<LegacyNotify> parseLegacyNotify(const nlohmann::json& content);
nlohmann::json serializeLegacyNotify(const LegacyNotify& n);

struct Decline {
    EventId notification;  // the notification event it declines
};
Result<Decline> parseDecline(const nlohmann::json& content);
nlohmann::json serializeDecline(const Decline& d);

bool isNotificationEventType(std::string_view type);
bool isLegacyNotifyEventType(std::string_view type);
bool isDeclineEventType(std::string_view type);

// Audio-only intent? EC writes "audio", MSC4196 "voice": both mean audio (spec §4.6).
bool isAudioOnlyIntent(std::string_view intent);

struct RingPolicy {
    Duration lifetimeCap{90'000};         // js-sdk caps at 90 s; the MSC says 120 s
    Duration maxSenderSkew{20'000};       // |sender_ts - origin_server_ts| beyond this: use origin_server_ts
    Duration legacyMaxAge{10'000};        // legacy notify: ignore when older than this
    Duration legacyRingDuration{30'000};  // legacy notify has no lifetime: ring this long
};

// When a notification rings: [start, end). start = sender_ts unless it is off from the server
// timestamp by more than maxSenderSkew (spec N4); end = start + min(lifetime, cap) (N2).
struct RingWindow {
    TimePoint start;
    TimePoint end;
};
RingWindow ringWindow(const RtcNotification& n, TimePoint originServerTs, const RingPolicy& policy);

enum class RingDecision {
    Ring,           // ring now, until the window ends
    NotARing,       // notification_type "notification": show, don't ring
    Stale,          // the window has passed (N3)
    NotMentioned,   // neither the user nor the room is mentioned (N6)
    AlreadyInCall,  // the user already has a membership in the session
    OwnEvent,       // sent by the user themself
};
std::string_view toString(RingDecision d);

// Should `me` ring for this notification event at `now`?
RingDecision decideRing(const RoomEvent& event, const RtcNotification& n, const UserId& me, bool meInCall,
                        TimePoint now, const RingPolicy& policy = {});
// The same for a legacy notify (no lifetime; age measured from origin_server_ts).
RingDecision decideLegacyRing(const RoomEvent& event, const LegacyNotify& n, const UserId& me, bool meInCall,
                              TimePoint now, const RingPolicy& policy = {});

}  // namespace mxrtc::core
