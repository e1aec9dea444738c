#include "mxrtc/core/ring.hpp"

#include <algorithm>

namespace mxrtc::core {

std::string_view toString(RingStopReason r) {
    switch (r) {
        case RingStopReason::Answered:
            return "answered";
        case RingStopReason::Declined:
            return "declined";
        case RingStopReason::TimedOut:
            return "timed_out";
        case RingStopReason::AnsweredElsewhere:
            return "answered_elsewhere";
        case RingStopReason::DeclinedElsewhere:
            return "declined_elsewhere";
        case RingStopReason::Cancelled:
            return "cancelled";
    }
    return "unknown";
}

std::string_view toString(OutgoingRing::Outcome o) {
    switch (o) {
        case OutgoingRing::Outcome::Pending:
            return "pending";
        case OutgoingRing::Outcome::Accepted:
            return "accepted";
        case OutgoingRing::Outcome::Declined:
            return "declined";
        case OutgoingRing::Outcome::TimedOut:
            return "timed_out";
    }
    return "unknown";
}

// ---- IncomingRing ----------------------------------------------------------------------------

IncomingRing::IncomingRing(UserId me, DeviceId myDevice, RingPolicy policy)
    : m_me(std::move(me)), m_myDevice(std::move(myDevice)), m_policy(policy) {}

std::vector<RingEffect> IncomingRing::stop(RingStopReason reason) {
    if (m_state != State::Ringing) return {};
    m_state = State::Stopped;
    m_stopReason = reason;
    return {RingStopped{reason}};
}

std::vector<RingEffect> IncomingRing::onNotification(const RoomEvent& event, bool meInCall, TimePoint now) {
    if (m_state != State::Idle) return {};
    std::optional<std::string> intent;
    TimePoint until{};
    if (isNotificationEventType(event.type)) {
        auto n = parseRtcNotification(event.content);
        if (!n) return {};
        m_decision = decideRing(event, *n, m_me, meInCall, now, m_policy);
        until = ringWindow(*n, event.originServerTs, m_policy).end;
        intent = n->callIntent;
    } else if (isLegacyNotifyEventType(event.type)) {
        auto n = parseLegacyNotify(event.content);
        if (!n) return {};
        m_decision = decideLegacyRing(event, *n, m_me, meInCall, now, m_policy);
        until = event.originServerTs + m_policy.legacyRingDuration;
    } else {
        return {};
    }
    if (*m_decision != RingDecision::Ring) return {};
    m_state = State::Ringing;
    m_notification = event.eventId;
    m_until = until;
    return {RingStarted{event.eventId, event.sender, intent, until}, ScheduleWakeup{until}};
}

std::vector<RingEffect> IncomingRing::onMemberJoined(const UserId& user, const DeviceId& device, TimePoint) {
    if (user != m_me) return {};
    return stop(device == m_myDevice ? RingStopReason::Answered : RingStopReason::AnsweredElsewhere);
}

std::vector<RingEffect> IncomingRing::onDecline(const RoomEvent& event, TimePoint) {
    if (m_state != State::Ringing || event.sender != m_me || !isDeclineEventType(event.type)) return {};
    auto d = parseDecline(event.content);
    if (!d || d->notification != *m_notification) return {};  // D2: unknown notification
    return stop(RingStopReason::DeclinedElsewhere);
}

std::vector<RingEffect> IncomingRing::onSessionEnded(TimePoint) {
    return stop(RingStopReason::Cancelled);
}

std::vector<RingEffect> IncomingRing::onWakeup(TimePoint now) {
    if (m_state != State::Ringing || now < m_until) return {};
    return stop(RingStopReason::TimedOut);
}

std::vector<RingEffect> IncomingRing::decline(TimePoint) {
    if (m_state != State::Ringing) return {};
    std::vector<RingEffect> out{SendRoomEvent{std::string(notification_wire::kDeclineType),
                                              serializeDecline(Decline{*m_notification})}};
    auto stopped = stop(RingStopReason::Declined);
    out.insert(out.end(), stopped.begin(), stopped.end());
    return out;
}

std::vector<RingEffect> IncomingRing::answer(TimePoint) {
    return stop(RingStopReason::Answered);
}

// ---- OutgoingRing ----------------------------------------------------------------------------

OutgoingRing::OutgoingRing(UserId me, RingPolicy policy) : m_me(std::move(me)), m_policy(policy) {}

std::vector<RingEffect> OutgoingRing::start(const std::optional<EventId>& ownMembershipEvent,
                                            std::vector<UserId> recipients,
                                            std::optional<std::string> callIntent, Duration lifetime,
                                            TimePoint now) {
    if (m_state != State::Idle) return {};
    RtcNotification n;
    n.type = NotificationType::Ring;
    n.senderTs = now;
    n.lifetime = std::min(lifetime, m_policy.lifetimeCap);
    n.relatesTo = ownMembershipEvent;
    n.callIntent = std::move(callIntent);
    Mentions mentions;
    m_roomRing = recipients.empty();
    mentions.room = m_roomRing;
    for (auto& r : recipients) {
        if (r == m_me) continue;
        m_outcomes.emplace(r, Outcome::Pending);
        mentions.userIds.push_back(std::move(r));
    }
    n.mentions = std::move(mentions);
    m_state = State::Sending;
    m_until = now + n.lifetime;
    return {SendRoomEvent{std::string(notification_wire::kNotificationType), serializeRtcNotification(n)},
            ScheduleWakeup{m_until}};
}

std::vector<RingEffect> OutgoingRing::onNotificationSent(const EventId& notification, TimePoint) {
    if (m_state != State::Sending) return {};
    m_notification = notification;
    m_state = State::Ringing;
    return {};
}

void OutgoingRing::finishIfDecided() {
    if (m_roomRing) return;  // a room ring runs until its lifetime ends
    const bool pending = std::any_of(m_outcomes.begin(), m_outcomes.end(),
                                     [](const auto& kv) { return kv.second == Outcome::Pending; });
    if (!pending) m_state = State::Finished;
}

std::vector<RingEffect> OutgoingRing::onMemberJoined(const UserId& user, TimePoint) {
    if (m_state != State::Ringing && m_state != State::Sending) return {};
    if (user == m_me) return {};
    auto it = m_outcomes.find(user);
    if (it == m_outcomes.end()) {
        if (!m_roomRing) return {};
        it = m_outcomes.emplace(user, Outcome::Pending).first;
    }
    if (it->second != Outcome::Pending) return {};
    it->second = Outcome::Accepted;
    finishIfDecided();
    return {};
}

std::vector<RingEffect> OutgoingRing::onDecline(const RoomEvent& event, TimePoint) {
    if (m_state != State::Ringing || !m_notification || !isDeclineEventType(event.type)) return {};
    auto d = parseDecline(event.content);
    if (!d || d->notification != *m_notification) return {};
    auto it = m_outcomes.find(event.sender);
    if (it == m_outcomes.end()) {
        if (!m_roomRing) return {};
        it = m_outcomes.emplace(event.sender, Outcome::Pending).first;
    }
    if (it->second != Outcome::Pending) return {};  // joined first: a later decline does not count
    it->second = Outcome::Declined;
    finishIfDecided();
    return {};
}

std::vector<RingEffect> OutgoingRing::onWakeup(TimePoint now) {
    if ((m_state != State::Ringing && m_state != State::Sending) || now < m_until) return {};
    for (auto& [user, outcome] : m_outcomes)
        if (outcome == Outcome::Pending) outcome = Outcome::TimedOut;
    m_state = State::Finished;
    return {};
}

}  // namespace mxrtc::core
