#include "mxrtc/core/notification.hpp"

#include <algorithm>

#include "json_fields.hpp"

namespace mxrtc::core {

namespace w = notification_wire;

using detail::asInt;
using detail::fieldError;
using detail::find;

namespace {

using Json = nlohmann::json;

std::string k(std::string_view s) {
    return std::string(s);
}

Result<std::optional<Mentions>> parseMentions(const Json& content) {
    const Json* m = find(content, w::kMentions);
    if (!m || m->is_null()) return std::optional<Mentions>{};
    if (!m->is_object()) return fieldError("m.mentions", "must be an object");
    Mentions out;
    if (const Json* ids = find(*m, w::kUserIds); ids && !ids->is_null()) {
        if (!ids->is_array()) return fieldError("m.mentions.user_ids", "must be an array");
        for (const auto& id : *ids) {
            if (!id.is_string()) return fieldError("m.mentions.user_ids", "must contain only strings");
            out.userIds.emplace_back(id.get<std::string>());
        }
    }
    if (const Json* room = find(*m, w::kRoom); room && !room->is_null()) {
        if (!room->is_boolean()) return fieldError("m.mentions.room", "must be a boolean");
        out.room = room->get<bool>();
    }
    return std::optional<Mentions>{std::move(out)};
}

Json serializeMentions(const Mentions& m) {
    Json ids = Json::array();
    for (const auto& u : m.userIds)
        ids.push_back(u.str());
    return Json{{k(w::kUserIds), std::move(ids)}, {k(w::kRoom), m.room}};
}

Result<std::optional<EventId>> parseReference(const Json& content, bool required) {
    const Json* rel = find(content, w::kRelatesTo);
    if (!rel || rel->is_null()) {
        if (required) return fieldError("m.relates_to", "is required");
        return std::optional<EventId>{};
    }
    if (!rel->is_object()) return fieldError("m.relates_to", "must be an object");
    const Json* type = find(*rel, w::kRelType);
    if (!type || !type->is_string() || type->get<std::string>() != w::kReference)
        return fieldError("m.relates_to.rel_type", "must be 'm.reference'");
    const Json* id = find(*rel, w::kEventId);
    if (!id || !id->is_string() || id->get<std::string>().empty())
        return fieldError("m.relates_to.event_id", "must be a non-empty string");
    return std::optional<EventId>{EventId(id->get<std::string>())};
}

Json reference(const EventId& id) {
    return Json{{k(w::kRelType), k(w::kReference)}, {k(w::kEventId), id.str()}};
}

}  // namespace

bool Mentions::mentions(const UserId& user) const {
    return room || std::find(userIds.begin(), userIds.end(), user) != userIds.end();
}

Result<RtcNotification> parseRtcNotification(const Json& content) {
    if (!content.is_object()) return makeError(errcode::kBadJson, "content must be an object");
    RtcNotification n;
    const Json* type = find(content, w::kNotificationTypeField);
    if (!type || !type->is_string()) return fieldError("notification_type", "must be a string");
    const auto t = type->get<std::string>();
    if (t == w::kRing) {
        n.type = NotificationType::Ring;
    } else if (t == w::kNotification || t == w::kNotify) {
        n.type = NotificationType::Notification;
    } else {
        return fieldError("notification_type", "must be 'ring' or 'notification'");
    }
    const Json* senderTs = find(content, w::kSenderTs);
    if (!senderTs) return fieldError("sender_ts", "is required");
    auto ts = asInt(*senderTs);
    if (!ts) return fieldError("sender_ts", "must be an integer");
    n.senderTs = fromUnixMs(*ts);
    const Json* lifetime = find(content, w::kLifetime);
    if (!lifetime) return fieldError("lifetime", "is required");
    auto life = asInt(*lifetime);
    if (!life || *life < 0) return fieldError("lifetime", "must be a non-negative integer");
    n.lifetime = Duration{*life};
    auto mentions = parseMentions(content);
    if (!mentions) return mentions.error();
    n.mentions = std::move(mentions).value();
    auto rel = parseReference(content, /*required=*/false);
    if (!rel) return rel.error();
    n.relatesTo = std::move(rel).value();
    if (const Json* intent = find(content, w::kCallIntent); intent && !intent->is_null()) {
        if (!intent->is_string()) return fieldError("m.call.intent", "must be a string");
        n.callIntent = intent->get<std::string>();
    }
    return n;
}

Json serializeRtcNotification(const RtcNotification& n) {
    Json c = Json::object();
    c[k(w::kMentions)] = serializeMentions(n.mentions.value_or(Mentions{}));
    c[k(w::kNotificationTypeField)] = n.type == NotificationType::Ring ? k(w::kRing) : k(w::kNotification);
    c[k(w::kSenderTs)] = toUnixMs(n.senderTs);
    c[k(w::kLifetime)] = n.lifetime.count();
    if (n.relatesTo) c[k(w::kRelatesTo)] = reference(*n.relatesTo);
    if (n.callIntent) c[k(w::kCallIntent)] = *n.callIntent;
    return c;
}

Result<LegacyNotify> parseLegacyNotify(const Json& content) {
    if (!content.is_object()) return makeError(errcode::kBadJson, "content must be an object");
    LegacyNotify n;
    const Json* app = find(content, w::kApplication);
    if (!app || !app->is_string()) return fieldError("application", "must be a string");
    n.application = app->get<std::string>();
    const Json* callId = find(content, w::kCallId);
    if (!callId || !callId->is_string()) return fieldError("call_id", "must be a string");
    n.callId = callId->get<std::string>();
    const Json* type = find(content, w::kNotifyTypeField);
    if (!type || !type->is_string()) return fieldError("notify_type", "must be a string");
    const auto t = type->get<std::string>();
    if (t == w::kRing) {
        n.type = NotificationType::Ring;
    } else if (t == w::kNotify || t == w::kNotification) {
        n.type = NotificationType::Notification;
    } else {
        return fieldError("notify_type", "must be 'ring' or 'notify'");
    }
    auto mentions = parseMentions(content);
    if (!mentions) return mentions.error();
    if (!mentions.value()) return fieldError("m.mentions", "is required");
    n.mentions = *mentions.value();
    return n;
}

Json serializeLegacyNotify(const LegacyNotify& n) {
    return Json{{k(w::kApplication), n.application},
                {k(w::kMentions), serializeMentions(n.mentions)},
                {k(w::kNotifyTypeField), n.type == NotificationType::Ring ? k(w::kRing) : k(w::kNotify)},
                {k(w::kCallId), n.callId}};
}

Result<Decline> parseDecline(const Json& content) {
    if (!content.is_object()) return makeError(errcode::kBadJson, "content must be an object");
    auto rel = parseReference(content, /*required=*/true);
    if (!rel) return rel.error();
    return Decline{*rel.value()};
}

Json serializeDecline(const Decline& d) {
    return Json{{k(w::kRelatesTo), reference(d.notification)}};
}

bool isNotificationEventType(std::string_view type) {
    return type == w::kNotificationType || type == w::kNotificationStableType;
}
bool isLegacyNotifyEventType(std::string_view type) {
    return type == w::kLegacyNotifyType || type == w::kLegacyNotifyStableType;
}
bool isDeclineEventType(std::string_view type) {
    return type == w::kDeclineType || type == w::kDeclineStableType;
}

bool isAudioOnlyIntent(std::string_view intent) {
    return intent == "audio" || intent == "voice";
}

RingWindow ringWindow(const RtcNotification& n, TimePoint originServerTs, const RingPolicy& policy) {
    const Duration skew =
        n.senderTs > originServerTs ? n.senderTs - originServerTs : originServerTs - n.senderTs;
    const TimePoint start = skew > policy.maxSenderSkew ? originServerTs : n.senderTs;
    return RingWindow{start, start + std::min(n.lifetime, policy.lifetimeCap)};
}

std::string_view toString(RingDecision d) {
    switch (d) {
        case RingDecision::Ring:
            return "ring";
        case RingDecision::NotARing:
            return "not_a_ring";
        case RingDecision::Stale:
            return "stale";
        case RingDecision::NotMentioned:
            return "not_mentioned";
        case RingDecision::AlreadyInCall:
            return "already_in_call";
        case RingDecision::OwnEvent:
            return "own_event";
    }
    return "unknown";
}

RingDecision decideRing(const RoomEvent& event, const RtcNotification& n, const UserId& me, bool meInCall,
                        TimePoint now, const RingPolicy& policy) {
    if (event.sender == me) return RingDecision::OwnEvent;
    if (!n.mentions || !n.mentions->mentions(me)) return RingDecision::NotMentioned;
    if (meInCall) return RingDecision::AlreadyInCall;
    const RingWindow window = ringWindow(n, event.originServerTs, policy);
    if (now >= window.end) return RingDecision::Stale;
    if (n.type != NotificationType::Ring) return RingDecision::NotARing;
    return RingDecision::Ring;
}

RingDecision decideLegacyRing(const RoomEvent& event, const LegacyNotify& n, const UserId& me, bool meInCall,
                              TimePoint now, const RingPolicy& policy) {
    if (event.sender == me) return RingDecision::OwnEvent;
    if (!n.mentions.mentions(me)) return RingDecision::NotMentioned;
    if (meInCall) return RingDecision::AlreadyInCall;
    if (now - event.originServerTs > policy.legacyMaxAge) return RingDecision::Stale;
    if (n.type != NotificationType::Ring) return RingDecision::NotARing;
    return RingDecision::Ring;
}

}  // namespace mxrtc::core
