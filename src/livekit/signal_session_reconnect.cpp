// SignalSession, part 2: getting back into the room.
//
// Policy. One "episode" runs from losing the room until Connected again; it gives up (Closed,
// error) giveUpAfter after it started, whatever is in flight then.
// * Signal link lost while Connected (socket failed or closed, nothing received for ping_timeout,
//   or the server's Leave{RESUME}) -> Resuming: OpenSocket{resume=true, sid} (reconnect=1&sid=…
//   &reconnect_reason=1); the peer connections stay. The server finds us by identity and answers
//   ReconnectResponse -> Connected ("resumed"); what was produced meanwhile (answers, candidates,
//   mutes) goes out then, and a publisher offer still waiting for its answer when the link went
//   is sent again first (it or its answer may have been lost; pion answers a repeated offer).
//   Up to resumeAttempts resume sockets are tried, the first at once, later ones after the backoff.
// * Full rejoin (Rejoining): CloseSocket + ClosePeerConnections, then OpenSocket{resume=false,
//   freshToken=true}, the first attempt at once, each later one after the backoff
//   (reconnectBackoffInitial doubling up to reconnectBackoffMax, counted from the failure of the
//   previous attempt). It happens when resuming is impossible or refused: no participant sid yet,
//   resume attempts used up, a Leave{RECONNECT} (e.g. STATE_MISMATCH for a resume of a participant
//   the server closed), a JoinResponse or Leave{RESUME} in answer to a resume, or a peer connection
//   reporting Failed (webrtcbin 1.22 cannot restart ICE, so an ICE restart cannot rescue it). After
//   the new JoinResponse the participant table is diffed against the new snapshot and every local
//   track is published again with the same cid.
// * Each attempt has joinTimeout from OpenSocket to JoinResponse / ReconnectResponse. A 401/403
//   during a rejoin is one more failed attempt (the next one fetches a fresh token); only on the
//   first connect does it end the session.
#include <algorithm>
#include <utility>

#include "mxrtc/livekit/signal_session.hpp"

namespace mxrtc::livekit {

Duration SignalSession::backoff(int failedAttempts) const {
    Duration d = m_config.reconnectBackoffInitial;
    for (int i = 1; i < failedAttempts && d < m_config.reconnectBackoffMax; ++i)
        d *= 2;
    return std::min(d, m_config.reconnectBackoffMax);
}

void SignalSession::beginEpisode(TimePoint now) {
    if (m_episodeStart) return;
    m_episodeStart = now;
    m_resumeTries = 0;
    m_resumeFails = 0;
    m_rejoinFails = 0;
    arm(Timer::GiveUp, now + m_config.giveUpAfter);
}

// The signal link went while Connected; the peer connections may well be fine.
void SignalSession::signalLost(std::string detail, TimePoint now, Effects& out) {
    beginEpisode(now);
    if (m_negotiation == Negotiation::AwaitingAnswer && m_lastPublisherOffer) {
        m_outbox.insert(m_outbox.begin(), PublisherOffer{*m_lastPublisherOffer});
    }
    startResume(std::move(detail), now, out);
}

void SignalSession::startResume(std::string detail, TimePoint now, Effects& out) {
    if (m_participantSid.empty() || m_resumeTries >= m_config.resumeAttempts) {
        startRejoin(std::move(detail), now, out);
        return;
    }
    m_lastProblem = detail;
    disarm(Timer::Ping);
    disarm(Timer::Liveness);
    setState(SignalState::Resuming, "resuming: " + detail, out);
    closeSocket(out);
    ++m_resumeTries;
    openSocket(true, out, now);
}

void SignalSession::startRejoin(std::string detail, TimePoint now, Effects& out) {
    beginEpisode(now);
    m_lastProblem = detail;
    disarm(Timer::Ping);
    disarm(Timer::Liveness);
    disarm(Timer::Retry);
    setState(SignalState::Rejoining, "rejoining: " + detail, out);
    closeSocket(out);
    closePeerConnections(out);
    m_outbox.clear();
    m_subscriberOfferIds.clear();
    m_subscriberUfrag.clear();
    m_subscriberMedia.clear();
    m_midToTrackId.clear();
    if (!m_byMid.empty()) {
        m_byMid.clear();
        out.emplace_back(SubscriberTracksMapped{});
    }
    for (auto& local : m_local) {
        local.phase = Phase::Waiting;
        local.sid.clear();
    }
    m_rejoinFails = 0;
    openSocket(false, out, now);
}

// One resume or rejoin attempt did not get us in (socket failed, join timeout, refused).
void SignalSession::attemptFailed(std::string detail, TimePoint now, Effects& out) {
    m_lastProblem = detail;
    closeSocket(out);
    if (m_state == SignalState::Resuming) {
        ++m_resumeFails;
        if (m_resumeTries >= m_config.resumeAttempts) {
            startRejoin(std::move(detail), now, out);
            return;
        }
        arm(Timer::Retry, now + backoff(m_resumeFails));
    } else if (m_state == SignalState::Rejoining) {
        ++m_rejoinFails;
        arm(Timer::Retry, now + backoff(m_rejoinFails));
    }
}

void SignalSession::retry(TimePoint now, Effects& out) {
    if (m_link != Link::None) return;
    if (m_state == SignalState::Resuming) {
        ++m_resumeTries;
        openSocket(true, out, now);
    } else if (m_state == SignalState::Rejoining) {
        openSocket(false, out, now);
    }
}

// ---- peer connections ----------------------------------------------------------------------------

SignalEffects SignalSession::onPeerConnectionState(SignalTarget target, PeerConnectionState state,
                                                   TimePoint now) {
    Effects out;
    if (!m_peerConnections || state != PeerConnectionState::Failed) return out;
    if (m_state != SignalState::Connected && m_state != SignalState::Resuming) return out;
    if (target == SignalTarget::Publisher && !m_config.publish) return out;
    startRejoin(target == SignalTarget::Publisher ? "the publisher peer connection failed"
                                                  : "the subscriber peer connection failed",
                now, out);
    return out;
}

}  // namespace mxrtc::livekit
