// SignalSession, part 1: the stored state, timers, the socket, message dispatch, ping/pong, leave.
// Reconnecting is in signal_session_reconnect.cpp, local tracks and candidates in
// signal_session_tracks.cpp, remote participants and the mid -> track map in
// signal_session_remote.cpp.
//
// Conventions of the effect sequences (the tests assert them exactly):
// * a transition emits StateChanged first, then the effects it causes; Closed is always last;
// * CloseSocket is emitted only for a socket we consider opening or open (not after the shell
//   reported it failed), ClosePeerConnections only when CreatePeerConnections was emitted since;
// * messages for the server are sent only while Connected; while Resuming they wait in an outbox
//   and go out, in order, right after the ReconnectResponse; anything else is dropped (after a
//   full rejoin it would be about peer connections that no longer exist).
//
// Server behaviour this follows (livekit-server v1.13.5):
// * JoinResponse is the first message on a new socket; ping_interval 5 s / ping_timeout 15 s are
//   hard-coded (pkg/rtc/participant.go l.81). The server answers ping_req at once with pong_resp
//   (pkg/service/rtcservice.go l.588ff) and counts any request as a sign of life, so we send only
//   ping_req (not the legacy int64 ping as well).
// * A resume (reconnect=1) is answered with ReconnectResponse, then a ParticipantUpdate with every
//   participant including ourselves, then an ICE-restart subscriber offer (room.go
//   ResumeParticipant); if the participant is gone or closed, with Leave{RECONNECT,
//   STATE_MISMATCH} and a closed socket (roommanager.go StartSession).
// * Leave actions: DISCONNECT (stop), RESUME (e.g. a peer connection failed on the server side:
//   participant.go onAnyTransportFailed), RECONNECT (full rejoin: IssueFullReconnect).
#include "mxrtc/livekit/signal_session.hpp"

#include <algorithm>
#include <utility>

#include "mxrtc/common/assert.hpp"

namespace mxrtc::livekit {

std::string_view toString(SignalState s) {
    switch (s) {
        case SignalState::Idle:
            return "idle";
        case SignalState::Connecting:
            return "connecting";
        case SignalState::Joining:
            return "joining";
        case SignalState::Connected:
            return "connected";
        case SignalState::Resuming:
            return "resuming";
        case SignalState::Rejoining:
            return "rejoining";
        case SignalState::Leaving:
            return "leaving";
        case SignalState::Closed:
            return "closed";
    }
    return "closed";
}

namespace {

Duration secondsOr(std::int32_t seconds, Duration fallback) {
    return seconds > 0 ? Duration{std::int64_t{seconds} * 1000} : fallback;
}

std::string formatDuration(Duration d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

std::string describeFailure(const SocketFailure& f) {
    std::string s;
    if (f.httpStatus != 0) s = "HTTP " + std::to_string(f.httpStatus);
    if (!f.message.empty()) s += (s.empty() ? "" : ": ") + f.message;
    return s.empty() ? "no reason given" : s;
}

// "<wire name>: <what it means>" for a LeaveRequest / ParticipantInfo disconnect reason.
std::string describeReason(DisconnectReason r) {
    std::string_view text;
    switch (r) {
        case DisconnectReason::Unknown:
            text = "no reason given";
            break;
        case DisconnectReason::ClientInitiated:
            text = "the client left";
            break;
        case DisconnectReason::DuplicateIdentity:
            text = "another client joined with the same identity";
            break;
        case DisconnectReason::ServerShutdown:
            text = "the SFU is shutting down";
            break;
        case DisconnectReason::ParticipantRemoved:
            text = "removed from the room";
            break;
        case DisconnectReason::RoomDeleted:
            text = "the room was deleted";
            break;
        case DisconnectReason::StateMismatch:
            text = "the SFU no longer has our session";
            break;
        case DisconnectReason::JoinFailure:
            text = "the SFU could not complete the join";
            break;
        case DisconnectReason::Migration:
            text = "the session moves to another SFU node";
            break;
        case DisconnectReason::SignalClose:
            text = "the signal connection closed";
            break;
        case DisconnectReason::RoomClosed:
            text = "the room was closed";
            break;
        case DisconnectReason::UserUnavailable:
            text = "the user is unavailable";
            break;
        case DisconnectReason::UserRejected:
            text = "the user rejected the call";
            break;
    }
    if (text.empty()) return "reason " + std::to_string(static_cast<int>(r));
    return std::string(toString(r)) + ": " + std::string(text);
}

bool isAuthFailure(const SocketFailure& f) {
    return f.httpStatus == 401 || f.httpStatus == 403;
}

}  // namespace

SignalSession::SignalSession(SignalSessionConfig config) : m_config(std::move(config)) {
    MXRTC_ASSERT(m_config.defaultPingInterval > Duration{0}, "defaultPingInterval must be positive");
    MXRTC_ASSERT(m_config.defaultPingTimeout > Duration{0}, "defaultPingTimeout must be positive");
    MXRTC_ASSERT(m_config.reconnectBackoffInitial > Duration{0}, "reconnectBackoffInitial must be positive");
    MXRTC_ASSERT(m_config.joinTimeout > Duration{0}, "joinTimeout must be positive");
}

// ---- state and helpers ---------------------------------------------------------------------------

void SignalSession::setState(SignalState s, std::string detail, Effects& out) {
    if (s == m_state) return;
    m_state = s;
    out.emplace_back(StateChanged{s, std::move(detail)});
}

void SignalSession::send(SignalRequest message, Effects& out) {
    if (m_state == SignalState::Connected && m_link == Link::Open) {
        out.emplace_back(SendSignal{std::move(message)});
    } else if (m_state == SignalState::Resuming) {
        m_outbox.push_back(std::move(message));
    }
}

void SignalSession::openSocket(bool resume, Effects& out, TimePoint now) {
    OpenSocket open;
    open.resume = resume;
    if (resume) {
        open.participantSid = m_participantSid;
        open.reconnectReason = ReconnectReason::SignalDisconnected;
    } else {
        open.freshToken = m_state == SignalState::Rejoining;
    }
    m_link = Link::Opening;
    arm(Timer::Join, now + m_config.joinTimeout);
    out.emplace_back(std::move(open));
}

void SignalSession::closeSocket(Effects& out) {
    disarm(Timer::Join);
    if (m_link == Link::None) return;
    m_link = Link::None;
    out.emplace_back(CloseSocket{});
}

void SignalSession::closePeerConnections(Effects& out) {
    if (m_peerConnections) out.emplace_back(ClosePeerConnections{});
    m_peerConnections = false;
    resetPeerConnectionState();
}

void SignalSession::close(DisconnectReason reason, std::string detail, bool error, Effects& out) {
    setState(SignalState::Closed, detail, out);
    closeSocket(out);
    closePeerConnections(out);
    m_timers.clear();
    m_outbox.clear();
    m_episodeStart.reset();
    out.emplace_back(Closed{reason, std::move(detail), error});
}

std::optional<TimePoint> SignalSession::nextWakeup() const {
    std::optional<TimePoint> earliest;
    for (const auto& [timer, at] : m_timers) {
        if (!earliest || at < *earliest) earliest = at;
    }
    for (const auto& local : m_local) {
        if (local.phase == Phase::Requested && (!earliest || local.deadline < *earliest))
            earliest = local.deadline;
    }
    return earliest;
}

// ---- commands ------------------------------------------------------------------------------------

SignalEffects SignalSession::connect(TimePoint now) {
    Effects out;
    if (m_state != SignalState::Idle && m_state != SignalState::Closed) return out;
    if (m_state == SignalState::Closed) {
        // A new session: only the tracks to publish carry over.
        std::vector<Local> local = std::move(m_local);
        *this = SignalSession(m_config);
        for (auto& l : local) {
            l.phase = Phase::Waiting;
            l.sid.clear();
            m_local.push_back(std::move(l));
        }
    }
    setState(SignalState::Connecting, "connecting to the SFU", out);
    openSocket(false, out, now);
    return out;
}

SignalEffects SignalSession::leave(TimePoint /*now*/) {
    Effects out;
    if (m_state == SignalState::Closed) return out;
    if (m_state != SignalState::Idle) setState(SignalState::Leaving, "leaving the room", out);
    // Whatever the socket is attached to on the server (a joined or half-joined participant)
    // should go now rather than after the server's timeout.
    if (m_link == Link::Open) {
        out.emplace_back(
            SendSignal{Leave{false, DisconnectReason::ClientInitiated, LeaveAction::Disconnect}});
    }
    close(DisconnectReason::ClientInitiated, "left the room", false, out);
    return out;
}

// ---- the socket ----------------------------------------------------------------------------------

SignalEffects SignalSession::onSocketOpened(TimePoint /*now*/) {
    Effects out;
    if (m_link != Link::Opening) return out;
    m_link = Link::Open;
    // Resuming/Rejoining keep their state until the server answers (the join timer runs on).
    if (m_state == SignalState::Connecting)
        setState(SignalState::Joining, "socket open, waiting for JoinResponse", out);
    return out;
}

SignalEffects SignalSession::onSocketFailed(const SocketFailure& failure, TimePoint now) {
    Effects out;
    if (m_link == Link::None) return out;  // a socket we closed or gave up on
    m_link = Link::None;
    disarm(Timer::Join);
    const std::string why = describeFailure(failure);
    switch (m_state) {
        case SignalState::Connecting:
        case SignalState::Joining:
            // The first connect fails for good; the app decides whether to try again.
            if (isAuthFailure(failure)) {
                close(DisconnectReason::JoinFailure,
                      "the SFU refused the token (HTTP " + std::to_string(failure.httpStatus) + ")", true,
                      out);
            } else {
                close(DisconnectReason::JoinFailure, "could not connect to the SFU: " + why, true, out);
            }
            break;
        case SignalState::Connected:
            signalLost("socket closed: " + why, now, out);
            break;
        case SignalState::Resuming:
        case SignalState::Rejoining:
            // During a rejoin a 401 is retried too: every rejoin attempt fetches a fresh token.
            attemptFailed("socket failed: " + why, now, out);
            break;
        case SignalState::Idle:
        case SignalState::Leaving:
        case SignalState::Closed:
            break;
    }
    return out;
}

SignalEffects SignalSession::onMessage(const SignalResponse& message, TimePoint now) {
    Effects out;
    if (m_link != Link::Open) return out;
    const bool connected = m_state == SignalState::Connected;
    if (connected) arm(Timer::Liveness, now + m_pingTimeout);  // any message shows the link is alive

    if (const auto* join = std::get_if<JoinResponse>(&message)) {
        if (m_state == SignalState::Joining || m_state == SignalState::Rejoining) {
            onJoin(*join, now, out);
        } else if (m_state == SignalState::Resuming) {
            // A new participant instead of ours: our peer connections belong to the old one.
            startRejoin("the SFU answered the resume with a new join", now, out);
        }
        return out;
    }
    if (const auto* reconnect = std::get_if<ReconnectResponse>(&message)) {
        if (m_state == SignalState::Resuming) onReconnected(*reconnect, now, out);
        return out;
    }
    if (const auto* leave = std::get_if<Leave>(&message)) {
        onServerLeave(*leave, now, out);
        return out;
    }
    if (!connected) return out;

    if (const auto* offer = std::get_if<SubscriberOffer>(&message)) {
        onSubscriberOffer(*offer, now, out);
    } else if (const auto* answer = std::get_if<PublisherAnswer>(&message)) {
        onPublisherAnswer(*answer, now, out);
    } else if (const auto* trickle = std::get_if<Trickle>(&message)) {
        onRemoteTrickle(*trickle, out);
    } else if (const auto* update = std::get_if<ParticipantUpdate>(&message)) {
        onParticipantUpdate(*update, out);
    } else if (const auto* published = std::get_if<TrackPublished>(&message)) {
        onTrackPublished(*published, now, out);
    } else if (const auto* response = std::get_if<RequestResponse>(&message)) {
        onRequestResponse(*response, now, out);
    } else if (const auto* mute = std::get_if<ServerMute>(&message)) {
        onServerMute(mute->mute, out);
    } else if (const auto* unpublished = std::get_if<TrackUnpublished>(&message)) {
        onTrackUnpublished(*unpublished, out);
    } else if (const auto* pong = std::get_if<Pong>(&message)) {
        if (pong->lastPingTimestamp > 0) {
            m_rtt = std::max(Duration{0}, Duration{toUnixMs(now) - pong->lastPingTimestamp});
        }
    }
    // Everything else (legacy pong, refresh_token, speakers, quality, stream state, …) only
    // counted as a sign of life above.
    return out;
}

void SignalSession::onJoin(const JoinResponse& join, TimePoint now, Effects& out) {
    const bool rejoin = m_state == SignalState::Rejoining;
    disarm(Timer::Join);
    m_participantSid = join.participant.sid;
    m_identity = join.participant.identity;
    m_serverInfo = join.serverInfo;
    m_pingInterval = secondsOr(join.pingInterval, m_config.defaultPingInterval);
    m_pingTimeout = secondsOr(join.pingTimeout, m_config.defaultPingTimeout);
    std::string detail = rejoin ? "rejoined" : "joined";
    detail += " room \"" + join.room.name + "\" as " + m_identity + " (" + m_participantSid + ")";
    if (!m_serverInfo.version.empty()) detail += ", livekit-server " + m_serverInfo.version;
    setState(SignalState::Connected, std::move(detail), out);
    if (!join.sifTrailer.empty()) out.emplace_back(ServerInjectedTrailer{join.sifTrailer});
    resetPeerConnectionState();
    m_peerConnections = true;
    out.emplace_back(CreatePeerConnections{join.iceServers, m_config.publish});
    applyParticipantSnapshot(join.otherParticipants, out);
    enterConnected(now, out);
}

void SignalSession::onReconnected(const ReconnectResponse& response, TimePoint now, Effects& out) {
    disarm(Timer::Join);
    if (!response.serverInfo.version.empty()) m_serverInfo = response.serverInfo;
    setState(SignalState::Connected, "resumed", out);
    std::vector<SignalRequest> outbox = std::move(m_outbox);
    m_outbox.clear();
    for (auto& message : outbox)
        out.emplace_back(SendSignal{std::move(message)});
    enterConnected(now, out);
}

// Connected again (joined, rejoined or resumed): the reconnect episode is over.
void SignalSession::enterConnected(TimePoint now, Effects& out) {
    m_episodeStart.reset();
    m_resumeTries = 0;
    m_resumeFails = 0;
    m_rejoinFails = 0;
    m_lastProblem.clear();
    disarm(Timer::GiveUp);
    disarm(Timer::Retry);
    arm(Timer::Ping, now + m_pingInterval);
    arm(Timer::Liveness, now + m_pingTimeout);
    sendWaitingTracks(now, out);
}

void SignalSession::onServerLeave(const Leave& leave, TimePoint now, Effects& out) {
    const std::string why = describeReason(leave.reason);
    if (leave.action == LeaveAction::Disconnect) {
        close(leave.reason, "the SFU ended the session: " + why,
              leave.reason != DisconnectReason::ClientInitiated, out);
        return;
    }
    switch (m_state) {
        case SignalState::Connected:
            if (leave.action == LeaveAction::Resume) {
                signalLost("the SFU asked us to resume: " + why, now, out);
            } else {
                startRejoin("the SFU asked for a full reconnect: " + why, now, out);
            }
            break;
        case SignalState::Resuming:
            startRejoin("the SFU refused the resume: " + why, now, out);
            break;
        case SignalState::Connecting:
        case SignalState::Joining:
            startRejoin("the SFU asked for a reconnect while we joined: " + why, now, out);
            break;
        case SignalState::Rejoining:
            attemptFailed("the SFU refused the join: " + why, now, out);
            break;
        case SignalState::Idle:
        case SignalState::Leaving:
        case SignalState::Closed:
            break;
    }
}

// ---- ping ----------------------------------------------------------------------------------------

void SignalSession::sendPing(TimePoint now, Effects& out) {
    send(Ping{toUnixMs(now), m_rtt ? m_rtt->count() : 0}, out);
    arm(Timer::Ping, now + m_pingInterval);
}

// ---- time ----------------------------------------------------------------------------------------

SignalEffects SignalSession::onWakeup(TimePoint now) {
    Effects out;
    // One due deadline at a time, earliest first (timers before AddTrack timeouts on a tie): each
    // handler may change the others.
    for (;;) {
        std::optional<std::pair<Timer, TimePoint>> timer;
        for (const auto& [t, at] : m_timers) {
            if (at <= now && (!timer || at < timer->second)) timer = std::make_pair(t, at);
        }
        std::optional<std::pair<std::string, TimePoint>> track;
        for (const auto& local : m_local) {
            if (local.phase == Phase::Requested && local.deadline <= now &&
                (!track || local.deadline < track->second)) {
                track = std::make_pair(local.track.cid, local.deadline);
            }
        }
        if (timer && (!track || timer->second <= track->second)) {
            onTimer(timer->first, now, out);
        } else if (track) {
            rejectLocal(track->first, "timeout", out);
        } else {
            break;
        }
    }
    return out;
}

void SignalSession::onTimer(Timer t, TimePoint now, Effects& out) {
    disarm(t);
    switch (t) {
        case Timer::Join: {
            const std::string what = m_state == SignalState::Resuming ? "ReconnectResponse" : "JoinResponse";
            const std::string detail = "no " + what + " within " + formatDuration(m_config.joinTimeout);
            if (m_state == SignalState::Connecting || m_state == SignalState::Joining) {
                close(DisconnectReason::JoinFailure, "could not connect to the SFU: " + detail, true, out);
            } else if (m_state == SignalState::Resuming || m_state == SignalState::Rejoining) {
                attemptFailed(detail, now, out);
            }
            break;
        }
        case Timer::Ping:
            if (m_state == SignalState::Connected) sendPing(now, out);
            break;
        case Timer::Liveness:
            if (m_state == SignalState::Connected) {
                signalLost("nothing from the SFU for " + formatDuration(m_pingTimeout) + " (ping timeout)",
                           now, out);
            }
            break;
        case Timer::Retry:
            retry(now, out);
            break;
        case Timer::GiveUp:
            close(DisconnectReason::JoinFailure,
                  "gave up reconnecting after " + formatDuration(m_config.giveUpAfter) +
                      " (last: " + m_lastProblem + ")",
                  true, out);
            break;
    }
}

}  // namespace mxrtc::livekit
