#include "mxrtc/core/call_session.hpp"

#include <algorithm>

namespace mxrtc::core {

CallSession::CallSession(RoomId room, SessionMembershipData own, CallSessionConfig config)
    : m_own(own),
      m_config(std::move(config)),
      m_calls(std::move(room)),
      m_manager(std::move(own), m_config.membership),
      m_slot(slotIdFor(m_own.application, m_own.callId)) {}

void CallSession::take(std::vector<MembershipEffect> effects, Output& out) {
    for (auto& e : effects) {
        if (std::holds_alternative<GaveUp>(e)) m_leaving = true;
        out.membership.push_back(std::move(e));
    }
}

void CallSession::handle(std::vector<SessionChange> changes, TimePoint now, Output& out) {
    bool slotChanged = false;
    for (auto& c : changes) {
        const SlotId* slot = nullptr;
        if (const auto* j = std::get_if<MemberJoined>(&c)) {
            slot = &j->slot;
            if (j->slot == m_slot && isSelf(*j->member)) {
                m_ownSeen = true;
                take(m_manager.onOwnMembershipSeen(j->member->createdTs, now), out);
            }
        } else if (const auto* u = std::get_if<MemberUpdated>(&c)) {
            slot = &u->slot;
            if (u->slot == m_slot && isSelf(*u->member))
                take(m_manager.onOwnMembershipSeen(u->member->createdTs, now), out);
        } else if (const auto* l = std::get_if<MemberLeft>(&c)) {
            slot = &l->slot;
            if (l->slot == m_slot && isSelf(*l->member) && m_ownSeen && !m_leaving)
                take(m_manager.onOwnMembershipMissing(now), out);
        } else if (const auto* s = std::get_if<SessionStarted>(&c)) {
            slot = &s->slot;
        } else if (const auto* e = std::get_if<SessionEnded>(&c)) {
            slot = &e->slot;
        }
        if (slot == nullptr || *slot != m_slot) continue;
        slotChanged = slotChanged || (!std::holds_alternative<SessionStarted>(c) &&
                                      !std::holds_alternative<SessionEnded>(c));
        out.changes.push_back(std::move(c));
    }
    if (!m_config.e2ee || !slotChanged) return;
    // The key-start rule: nothing goes out before our own membership is in the room (members
    // would drop a key from a device they do not see in the call yet).
    if (!m_keysStarted && !m_ownSeen) return;
    KeyRoster roster;
    roster.start = !m_keysStarted || (out.keys && out.keys->start);  // a batch that started it
    m_keysStarted = true;
    for (const auto* m : m_calls.members(m_slot))
        roster.members.push_back(*m);
    out.keys = std::move(roster);
}

CallSession::Output CallSession::apply(const RoomEvent& event, TimePoint now) {
    Output out;
    auto result = m_calls.apply(event, now);
    if (result.error) out.invalid.push_back({event.sender, *result.error});
    handle(std::move(result.changes), now, out);
    return out;
}

CallSession::Output CallSession::apply(const std::vector<RoomEvent>& events, TimePoint now) {
    Output out;
    for (const auto& ev : events) {
        auto result = m_calls.apply(ev, now);
        if (result.error) out.invalid.push_back({ev.sender, *result.error});
        handle(std::move(result.changes), now, out);
    }
    // One roster for the batch (the last: the key manager needs only the final member list).
    return out;
}

CallSession::Output CallSession::join(TimePoint now) {
    Output out;
    m_leaving = false;
    take(m_manager.join(now), out);
    return out;
}

CallSession::Output CallSession::leave(TimePoint now) {
    Output out;
    m_leaving = true;
    take(m_manager.leave(now), out);
    return out;
}

CallSession::Output CallSession::onResponse(RequestId id, const RequestOutcome& outcome, TimePoint now) {
    Output out;
    take(m_manager.onResponse(id, outcome, now), out);
    return out;
}

CallSession::Output CallSession::onWakeup(TimePoint now) {
    Output out;
    handle(m_calls.expire(now), now, out);
    take(m_manager.onWakeup(now), out);
    return out;
}

std::optional<TimePoint> CallSession::nextWakeup() const {
    std::optional<TimePoint> at = m_manager.nextWakeup();
    if (auto e = m_calls.nextExpiry(); e && (!at || *e < *at)) at = e;
    return at;
}

std::vector<RoomKeyBacklog::Entry> RoomKeyBacklog::take(std::vector<nlohmann::json> fresh, TimePoint now) {
    std::vector<Entry> out;
    out.swap(m_waiting);
    out.reserve(out.size() + fresh.size());
    for (auto& ev : fresh)
        out.push_back(Entry{std::move(ev), now});
    return out;
}

RoomKeyBacklog::Verdict RoomKeyBacklog::noRoomKey(Entry entry, TimePoint now) {
    if (now - entry.firstSeen >= m_config.maxWait || m_waiting.size() >= m_config.maxEvents)
        return Verdict::Dropped;
    const bool first = entry.firstSeen == now;
    m_waiting.push_back(std::move(entry));
    return first ? Verdict::WaitingFirst : Verdict::Waiting;
}

}  // namespace mxrtc::core
