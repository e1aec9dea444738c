#include "mxrtc/core/membership_manager.hpp"

#include <algorithm>
#include <utility>

#include "mxrtc/core/membership_wire.hpp"

namespace mxrtc::core {

std::string_view toString(FailureKind k) {
    switch (k) {
        case FailureKind::RateLimited:
            return "rate_limited";
        case FailureKind::Forbidden:
            return "forbidden";
        case FailureKind::NotFound:
            return "not_found";
        case FailureKind::Unrecognized:
            return "unrecognized";
        case FailureKind::MaxDelayExceeded:
            return "max_delay_exceeded";
        case FailureKind::Timeout:
            return "timeout";
        case FailureKind::Network:
            return "network";
        case FailureKind::Server:
            return "server";
        case FailureKind::Other:
            return "other";
    }
    return "other";
}

std::string_view toString(MembershipStatus s) {
    switch (s) {
        case MembershipStatus::Disconnected:
            return "disconnected";
        case MembershipStatus::Connecting:
            return "connecting";
        case MembershipStatus::Connected:
            return "connected";
        case MembershipStatus::Reconnecting:
            return "reconnecting";
        case MembershipStatus::Disconnecting:
            return "disconnecting";
        case MembershipStatus::Error:
            return "error";
    }
    return "error";
}

namespace {

bool isTransient(FailureKind k) {
    return k == FailureKind::RateLimited || k == FailureKind::Network || k == FailureKind::Timeout ||
           k == FailureKind::Server;
}

std::string describe(std::string_view what, const RequestFailure& f) {
    std::string s(what);
    s += ": ";
    s += toString(f.kind);
    if (!f.errcode.empty()) {
        s += " (";
        s += f.errcode;
        s += ")";
    }
    return s;
}

}  // namespace

MembershipManager::MembershipManager(SessionMembershipData membership, MembershipManagerConfig config)
    : m_data(std::move(membership)),
      m_config(std::move(config)),
      m_stateKey(sessionStateKey(m_data.user, m_data.device, m_data.application, m_data.callId,
                                 m_config.roomVersion)),
      m_delayedSupported(m_config.delayedEventsSupported),
      m_delay(m_config.delayedLeaveDelay) {}

Duration MembershipManager::restartInterval() const {
    // Restart well before the server would fire the leave, even when the delay is short.
    return std::min(m_config.restartInterval,
                    std::max(m_delay * 5 / 8, Duration{250}));  // js-sdk: 5 s for 8 s
}

std::optional<TimePoint> MembershipManager::nextWakeup() const {
    std::optional<TimePoint> earliest;
    for (const auto& [timer, at] : m_timers) {
        if (!earliest || at < *earliest) earliest = at;
    }
    return earliest;
}

void MembershipManager::setStatus(MembershipStatus s, Effects& out) {
    if (s == m_status) return;
    m_status = s;
    out.emplace_back(StatusChanged{s});
}

void MembershipManager::arm(Timer t, TimePoint at) {
    m_timers[t] = at;
}
void MembershipManager::disarm(Timer t) {
    m_timers.erase(t);
}

void MembershipManager::emitWakeup(Effects& out) {
    auto next = nextWakeup();
    if (next && next != m_announcedWakeup) out.emplace_back(ScheduleWakeup{*next});
    m_announcedWakeup = next;
}

bool MembershipManager::inFlight(Purpose p) const {
    return std::any_of(m_pending.begin(), m_pending.end(), [this, p](const auto& e) {
        return e.second.purpose == p && e.second.generation == m_generation;
    });
}

std::optional<Duration> MembershipManager::retryDelay(const RequestFailure& f) {
    if (f.kind == FailureKind::RateLimited) {
        if (++m_rateLimitRetries > m_config.maxRateLimitRetries) return std::nullopt;
        return f.retryAfter > Duration{0} ? f.retryAfter : m_config.rateLimitFallback;
    }
    if (f.kind == FailureKind::Network || f.kind == FailureKind::Timeout || f.kind == FailureKind::Server) {
        if (++m_networkRetries > m_config.maxNetworkRetries) return std::nullopt;
        return m_config.networkRetryDelay;
    }
    return std::nullopt;
}

void MembershipManager::resetRetries() {
    m_rateLimitRetries = 0;
    m_networkRetries = 0;
}

// ---- requests ----------------------------------------------------------------------------------

void MembershipManager::sendScheduleLeave(Effects& out) {
    RequestId id = nextId();
    m_pending[id] = {Purpose::ScheduleLeave, m_generation};
    out.emplace_back(SendDelayedStateEvent{id, std::string(membership_wire::kCallMemberType), m_stateKey,
                                           sessionLeaveContent(), m_delay});
}

void MembershipManager::sendJoin(Purpose purpose, TimePoint /*now*/, Effects& out) {
    SessionMembershipData data = m_data;
    // The first write carries no created_ts (the server's origin_server_ts stands in for it);
    // refreshes keep the original creation time and extend `expires` relative to it.
    const Duration period = std::min(m_config.membershipExpiry, m_config.refreshInterval);
    if (purpose == Purpose::Refresh) {
        data.createdTs = m_createdTs.value_or(m_joinedAt);
        data.expires = m_config.membershipExpiry + period * (m_refreshCount + 1);
    } else {
        data.createdTs.reset();
        data.expires = m_config.membershipExpiry;
    }
    RequestId id = nextId();
    m_pending[id] = {purpose, m_generation};
    out.emplace_back(SendStateEvent{id, std::string(membership_wire::kCallMemberType), m_stateKey,
                                    serializeSessionMembership(data)});
}

void MembershipManager::sendRestart(TimePoint now, Effects& out) {
    if (!m_delayId || inFlight(Purpose::Restart)) return;
    Duration timeout = m_config.restartTimeout;
    Duration untilServerLeave = m_expectedServerLeave - now;
    if (untilServerLeave > Duration{0}) timeout = std::min(timeout, untilServerLeave);
    RequestId id = nextId();
    m_pending[id] = {Purpose::Restart, m_generation};
    out.emplace_back(RestartDelayedEvent{id, *m_delayId, timeout});
}

void MembershipManager::sendLeave(TimePoint /*now*/, Effects& out) {
    RequestId id = nextId();
    if (m_delayId) {
        m_pending[id] = {Purpose::LeaveNow, m_generation};
        out.emplace_back(SendDelayedEventNow{id, *m_delayId});
    } else {
        m_pending[id] = {Purpose::LeaveFallback, m_generation};
        out.emplace_back(SendStateEvent{id, std::string(membership_wire::kCallMemberType), m_stateKey,
                                        sessionLeaveContent()});
    }
}

void MembershipManager::becomeDisconnected(Effects& out) {
    m_timers.clear();
    m_delayId.reset();
    m_createdTs.reset();
    m_leaveDeferred = false;
    m_wantJoined = false;
    if (m_probablyLeft) {
        m_probablyLeft = false;
        out.emplace_back(ProbablyLeftChanged{false});
    }
    setStatus(MembershipStatus::Disconnected, out);
}

void MembershipManager::giveUp(const std::string& reason, Effects& out) {
    m_timers.clear();
    m_wantJoined = false;
    m_leaveDeferred = false;
    if (m_delayId) {
        // Our membership may be half written: let the server's delayed leave clean it up now.
        out.emplace_back(SendDelayedEventNow{nextId(), *m_delayId});
        m_delayId.reset();
    }
    out.emplace_back(GaveUp{reason});
    setStatus(MembershipStatus::Error, out);
}

// ---- commands ----------------------------------------------------------------------------------

MembershipManager::Effects MembershipManager::join(TimePoint now) {
    Effects out;
    if (m_status != MembershipStatus::Disconnected && m_status != MembershipStatus::Error) return out;
    ++m_generation;
    m_wantJoined = true;
    m_leaveDeferred = false;
    m_delay = m_config.delayedLeaveDelay;
    m_delayedSupported = m_config.delayedEventsSupported;
    m_createdTs.reset();
    m_delayId.reset();
    m_refreshCount = 0;
    resetRetries();
    setStatus(MembershipStatus::Connecting, out);
    if (m_delayedSupported) {
        sendScheduleLeave(out);
    } else {
        out.emplace_back(DelayedLeaveUnavailable{FailureKind::Unrecognized});
        sendJoin(Purpose::Join, now, out);
    }
    emitWakeup(out);
    return out;
}

MembershipManager::Effects MembershipManager::leave(TimePoint now) {
    Effects out;
    if (m_status == MembershipStatus::Disconnected || m_status == MembershipStatus::Disconnecting) return out;
    if (m_status == MembershipStatus::Error) {
        becomeDisconnected(out);
        return out;
    }
    m_wantJoined = false;
    m_timers.clear();
    resetRetries();
    if (inFlight(Purpose::Join) || inFlight(Purpose::Refresh)) {
        // Leaving now could race the join write and lose: leave as soon as it lands.
        m_leaveDeferred = true;
        setStatus(MembershipStatus::Disconnecting, out);
    } else if (m_status == MembershipStatus::Connecting || m_status == MembershipStatus::Reconnecting) {
        // Nothing of ours is written (or it is already gone): drop the delayed leave, if any.
        if (m_delayId) out.emplace_back(CancelDelayedEvent{nextId(), *m_delayId});
        becomeDisconnected(out);
    } else {
        setStatus(MembershipStatus::Disconnecting, out);
        sendLeave(now, out);
    }
    emitWakeup(out);
    return out;
}

MembershipManager::Effects MembershipManager::onWakeup(TimePoint now) {
    Effects out;
    std::vector<Timer> due;
    for (const auto& [timer, at] : m_timers) {
        if (at <= now) due.push_back(timer);
    }
    for (Timer t : due) {
        disarm(t);
        switch (t) {
            case Timer::ScheduleLeave:
                sendScheduleLeave(out);
                break;
            case Timer::Join:
                sendJoin(Purpose::Join, now, out);
                break;
            case Timer::Refresh:
                sendJoin(Purpose::Refresh, now, out);
                break;
            case Timer::Restart:
                sendRestart(now, out);
                break;
            case Timer::Leave:
                sendLeave(now, out);
                break;
        }
    }
    if (!due.empty()) m_announcedWakeup.reset();
    emitWakeup(out);
    return out;
}

MembershipManager::Effects MembershipManager::onOwnMembershipSeen(TimePoint createdTs, TimePoint /*now*/) {
    Effects out;
    if (m_wantJoined) m_createdTs = createdTs;
    return out;
}

MembershipManager::Effects MembershipManager::onOwnMembershipMissing(TimePoint now) {
    Effects out;
    if (!m_wantJoined || m_status != MembershipStatus::Connected) return out;
    if (inFlight(Purpose::Join) || inFlight(Purpose::Refresh)) return out;
    ++m_generation;  // responses to the old membership's requests no longer apply
    setStatus(MembershipStatus::Reconnecting, out);
    disarm(Timer::Restart);
    disarm(Timer::Refresh);
    if (m_delayId) {
        out.emplace_back(CancelDelayedEvent{nextId(), *m_delayId});
        m_delayId.reset();
    }
    m_createdTs.reset();
    m_refreshCount = 0;
    resetRetries();
    if (m_delayedSupported) {
        sendScheduleLeave(out);
    } else {
        sendJoin(Purpose::Join, now, out);
    }
    emitWakeup(out);
    return out;
}

MembershipManager::Effects MembershipManager::onResponse(RequestId id, const RequestOutcome& outcome,
                                                         TimePoint now) {
    Effects out;
    auto it = m_pending.find(id);
    if (it == m_pending.end()) return out;  // unknown, cancelled or fire-and-forget request
    const Pending pending = it->second;
    m_pending.erase(it);
    const Purpose purpose = pending.purpose;
    if (pending.generation != m_generation) {
        // A response to an earlier join attempt: only make sure its delayed leave cannot fire later.
        const auto* ok = std::get_if<RequestSucceeded>(&outcome);
        if (purpose == Purpose::ScheduleLeave && ok && ok->delayId &&
            (!m_delayId || *m_delayId != *ok->delayId)) {
            out.emplace_back(CancelDelayedEvent{nextId(), *ok->delayId});
        }
        emitWakeup(out);
        return out;
    }
    switch (purpose) {
        case Purpose::ScheduleLeave:
            onScheduleLeave(outcome, now, out);
            break;
        case Purpose::Join:
        case Purpose::Refresh:
            onJoin(purpose, outcome, now, out);
            break;
        case Purpose::Restart:
            onRestart(outcome, now, out);
            break;
        case Purpose::LeaveNow:
        case Purpose::LeaveFallback:
            onLeave(purpose, outcome, now, out);
            break;
        case Purpose::Cancel:
            break;
    }
    emitWakeup(out);
    return out;
}

// ---- responses ---------------------------------------------------------------------------------

void MembershipManager::onScheduleLeave(const RequestOutcome& o, TimePoint now, Effects& out) {
    if (const auto* ok = std::get_if<RequestSucceeded>(&o)) {
        if (!ok->delayId) {
            giveUp("delayed leave scheduled without a delay_id", out);
            return;
        }
        if (!m_wantJoined) {  // left (or gave up) while scheduling: the leave must not fire later
            out.emplace_back(CancelDelayedEvent{nextId(), *ok->delayId});
            return;
        }
        m_delayId = ok->delayId;
        m_expectedServerLeave = now + m_delay;
        resetRetries();
        if (m_status == MembershipStatus::Connected) {
            arm(Timer::Restart, now + restartInterval());  // re-armed after a lost delay id
        } else {
            sendJoin(Purpose::Join, now, out);
        }
        return;
    }
    const auto& f = std::get<RequestFailure>(o);
    if (!m_wantJoined) return;
    switch (f.kind) {
        case FailureKind::MaxDelayExceeded:
            if (f.maxDelay > Duration{0} && f.maxDelay < m_delay) {
                m_delay = f.maxDelay;
                sendScheduleLeave(out);
                return;
            }
            [[fallthrough]];
        case FailureKind::Unrecognized:
        case FailureKind::NotFound:
            // No (usable) delayed events: stay in the call without the crash safety net.
            m_delayedSupported = false;
            out.emplace_back(DelayedLeaveUnavailable{f.kind});
            if (m_status != MembershipStatus::Connected) sendJoin(Purpose::Join, now, out);
            return;
        default:
            break;
    }
    if (isTransient(f.kind)) {
        if (auto d = retryDelay(f)) {
            arm(Timer::ScheduleLeave, now + *d);
            return;
        }
    }
    giveUp(describe("scheduling the delayed leave failed", f), out);
}

void MembershipManager::onJoin(Purpose purpose, const RequestOutcome& o, TimePoint now, Effects& out) {
    const Duration period = std::min(m_config.membershipExpiry, m_config.refreshInterval);
    if (std::holds_alternative<RequestSucceeded>(o)) {
        resetRetries();
        if (purpose == Purpose::Join) {
            m_joinedAt = now;
            m_refreshCount = 0;
            if (!m_createdTs) m_createdTs = now;
        } else {
            ++m_refreshCount;
        }
        if (m_leaveDeferred) {
            m_leaveDeferred = false;
            sendLeave(now, out);
            return;
        }
        if (!m_wantJoined) return;
        setStatus(MembershipStatus::Connected, out);
        arm(Timer::Refresh, m_joinedAt + period * (m_refreshCount + 1) - m_config.expiryHeadroom);
        if (m_delayId && purpose == Purpose::Join)
            arm(Timer::Restart, now);  // the join took part of the delay
        return;
    }
    const auto& f = std::get<RequestFailure>(o);
    if (m_leaveDeferred) {
        // The membership was never (re)written: nothing to leave but the delayed event.
        if (purpose == Purpose::Join) {
            if (m_delayId) out.emplace_back(CancelDelayedEvent{nextId(), *m_delayId});
            becomeDisconnected(out);
        } else {
            m_leaveDeferred = false;
            sendLeave(now, out);
        }
        return;
    }
    if (!m_wantJoined) return;
    if (isTransient(f.kind)) {
        if (auto d = retryDelay(f)) {
            arm(purpose == Purpose::Join ? Timer::Join : Timer::Refresh, now + *d);
            return;
        }
    }
    giveUp(describe(purpose == Purpose::Join ? "sending the membership failed"
                                             : "refreshing the membership failed",
                    f),
           out);
}

void MembershipManager::onRestart(const RequestOutcome& o, TimePoint now, Effects& out) {
    if (!m_wantJoined || m_status != MembershipStatus::Connected) return;
    if (std::holds_alternative<RequestSucceeded>(o)) {
        m_expectedServerLeave = now + m_delay;
        if (m_probablyLeft) {
            m_probablyLeft = false;
            out.emplace_back(ProbablyLeftChanged{false});
        }
        arm(Timer::Restart, now + restartInterval());
        return;
    }
    const auto& f = std::get<RequestFailure>(o);
    switch (f.kind) {
        case FailureKind::NotFound:
            // The server no longer knows the delayed leave (it fired, or was dropped): schedule a new
            // one and keep the membership. If it fired, the session reports us missing and we rejoin.
            m_delayId.reset();
            sendScheduleLeave(out);
            return;
        case FailureKind::Unrecognized:
            m_delayId.reset();
            m_delayedSupported = false;
            out.emplace_back(DelayedLeaveUnavailable{f.kind});
            return;
        default:
            break;
    }
    // Keep trying for as long as we are in the call: the network may come back before the
    // delayed leave fires. Past that moment, tell the app we have probably been dropped.
    if (now >= m_expectedServerLeave && !m_probablyLeft) {
        m_probablyLeft = true;
        out.emplace_back(ProbablyLeftChanged{true});
    }
    Duration wait = m_config.networkRetryDelay;
    if (f.kind == FailureKind::RateLimited)
        wait = f.retryAfter > Duration{0} ? f.retryAfter : m_config.rateLimitFallback;
    arm(Timer::Restart, now + std::min(wait, restartInterval()));
}

void MembershipManager::onLeave(Purpose purpose, const RequestOutcome& o, TimePoint now, Effects& out) {
    if (std::holds_alternative<RequestSucceeded>(o)) {
        becomeDisconnected(out);
        return;
    }
    const auto& f = std::get<RequestFailure>(o);
    if (isTransient(f.kind)) {
        if (auto d = retryDelay(f)) {
            arm(Timer::Leave, now + *d);
            return;
        }
    }
    if (purpose == Purpose::LeaveNow) {
        // The delayed leave is gone or unusable: write the leave ourselves.
        m_delayId.reset();
        resetRetries();
        sendLeave(now, out);
        return;
    }
    out.emplace_back(GaveUp{describe("leaving failed", f)});
    becomeDisconnected(out);
}

}  // namespace mxrtc::core
