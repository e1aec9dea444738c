#include "mxrtc/core/peer_call.hpp"

#include <algorithm>

namespace mxrtc::core {

namespace {
constexpr std::size_t kMaxEarlyCandidatesPerParty = 256;
constexpr std::size_t kMaxEarlyParties = 16;

bool isLive(CallState s) {
    return s == CallState::Connecting || s == CallState::Connected || s == CallState::Reconnecting;
}
}  // namespace

std::string_view toString(CallState s) {
    switch (s) {
        case CallState::Idle:
            return "idle";
        case CallState::CreatingOffer:
            return "creating_offer";
        case CallState::InviteSent:
            return "invite_sent";
        case CallState::Ringing:
            return "ringing";
        case CallState::CreatingAnswer:
            return "creating_answer";
        case CallState::Connecting:
            return "connecting";
        case CallState::Connected:
            return "connected";
        case CallState::Reconnecting:
            return "reconnecting";
        case CallState::Ended:
            return "ended";
    }
    return "?";
}

std::string_view toString(IceConnectionState s) {
    switch (s) {
        case IceConnectionState::New:
            return "new";
        case IceConnectionState::Checking:
            return "checking";
        case IceConnectionState::Connected:
            return "connected";
        case IceConnectionState::Completed:
            return "completed";
        case IceConnectionState::Failed:
            return "failed";
        case IceConnectionState::Disconnected:
            return "disconnected";
        case IceConnectionState::Closed:
            return "closed";
    }
    return "?";
}

std::string_view toString(DropReason r) {
    switch (r) {
        case DropReason::Malformed:
            return "malformed";
        case DropReason::OwnEcho:
            return "own_echo";
        case DropReason::WrongParty:
            return "wrong_party";
        case DropReason::WrongState:
            return "wrong_state";
        case DropReason::UnknownCall:
            return "unknown_call";
        case DropReason::WrongConf:
            return "wrong_conf";
        case DropReason::WrongSession:
            return "wrong_session";
        case DropReason::StaleSession:
            return "stale_session";
        case DropReason::NotAMember:
            return "not_a_member";
        case DropReason::Duplicate:
            return "duplicate";
        case DropReason::BufferFull:
            return "buffer_full";
        case DropReason::Expired:
            return "expired";
    }
    return "?";
}

std::string_view toString(GlareDecision d) {
    switch (d) {
        case GlareDecision::NotGlare:
            return "not_glare";
        case GlareDecision::AnswerIncoming:
            return "answer_incoming";
        case GlareDecision::ReplaceOurs:
            return "replace_ours";
        case GlareDecision::RejectIncoming:
            return "reject_incoming";
    }
    return "?";
}

GlareDecision decideGlare(CallState ourState, CallDirection ourDirection, const CallId& ours,
                          const CallId& incoming) {
    if (ourDirection != CallDirection::Outbound || ours == incoming) return GlareDecision::NotGlare;
    if (ourState == CallState::Idle || ourState == CallState::CreatingOffer)
        return GlareDecision::AnswerIncoming;
    if (ourState != CallState::InviteSent) return GlareDecision::NotGlare;
    // js-sdk: existing.callId > incoming.callId => replace ours; keep the smaller call_id.
    return ours.str() > incoming.str() ? GlareDecision::ReplaceOurs : GlareDecision::RejectIncoming;
}

PeerCall::PeerCall(CallId id, UserId me, PartyId myParty, PeerCallConfig config)
    : m_id(std::move(id)), m_me(std::move(me)), m_myParty(std::move(myParty)), m_config(std::move(config)) {}

CallMessage PeerCall::message(CallBody body) const {
    CallMessage m;
    m.callId = m_id;
    m.partyId = m_myParty;
    m.version = 1;
    m.body = std::move(body);
    return m;
}

void PeerCall::setState(CallState s, CallEffects& out) {
    if (m_state == s) return;
    m_state = s;
    out.emplace_back(CallStateChanged{m_id, s});
}

std::optional<TimePoint> PeerCall::nextWakeup() const {
    std::optional<TimePoint> next;
    for (const auto& [timer, at] : m_timers)
        if (!next || at < *next) next = at;
    return next;
}

void PeerCall::emitWakeup(CallEffects& out) {
    const auto next = nextWakeup();
    if (next && next != m_announcedWakeup) out.emplace_back(ScheduleWakeup{*next});
    m_announcedWakeup = next;
}

CallEffects PeerCall::finish(CallEffects out) {
    emitWakeup(out);
    return out;
}

Duration PeerCall::candidateDelay() const {
    if (m_candidateBatchesSent == 0) return m_config.firstCandidateDelay;
    return m_direction == CallDirection::Inbound ? m_config.calleeCandidateDelay
                                                 : m_config.callerCandidateDelay;
}

void PeerCall::end(HangupReason reason, EndedBy by, bool send, CallEffects& out, bool rejected) {
    if (m_state == CallState::Ended) return;
    if (send) {
        Hangup h;
        h.reason = reason;
        out.emplace_back(SendCallMessage{message(h)});
    }
    m_timers.clear();
    m_candidateQueue.clear();
    m_earlyRemoteCandidates.clear();
    m_localOp = LocalOp::None;
    if (m_peerCreated) out.emplace_back(ClosePeer{m_id});
    m_peerCreated = false;
    setState(CallState::Ended, out);
    out.emplace_back(CallEnded{m_id, reason, by, rejected});
}

void PeerCall::flushCandidates(CallEffects& out) {
    disarm(Timer::CandidateFlush);
    if (m_candidateQueue.empty() || m_state == CallState::Ended) return;
    Candidates c;
    c.candidates = std::move(m_candidateQueue);
    m_candidateQueue.clear();
    ++m_candidateBatchesSent;
    out.emplace_back(SendCallMessage{message(std::move(c))});
}

// ---- caller ----------------------------------------------------------------------------------------

CallEffects PeerCall::placeCall(std::optional<UserId> invitee, std::optional<SdpStreamMetadata> metadata,
                                TimePoint /*now*/) {
    CallEffects out;
    if (m_state != CallState::Idle) return out;
    m_direction = CallDirection::Outbound;
    m_opponentUser = std::move(invitee);
    m_localMetadata = std::move(metadata);
    out.emplace_back(CreatePeer{m_id, false, m_opponentUser, std::nullopt});
    m_peerCreated = true;
    out.emplace_back(CreateOffer{m_id, false});
    m_localOp = LocalOp::InitialOffer;
    setState(CallState::CreatingOffer, out);
    return finish(std::move(out));
}

// ---- callee ----------------------------------------------------------------------------------------

CallEffects PeerCall::onInvite(const UserId& sender, const CallMessage& invite, Duration age, TimePoint now) {
    CallEffects out;
    const auto* inv = std::get_if<Invite>(&invite.body);
    if (m_state != CallState::Idle || inv == nullptr || invite.callId != m_id) {
        out.emplace_back(
            MessageDropped{invite.callId, DropReason::WrongState, "invite for a call already under way"});
        return out;
    }
    if (sender == m_me && invite.partyId == m_myParty) {
        out.emplace_back(MessageDropped{m_id, DropReason::OwnEcho, {}});
        return out;
    }
    m_direction = CallDirection::Inbound;
    if (age >= inv->lifetime) {
        out.emplace_back(
            MessageDropped{m_id, DropReason::Expired, "invite lifetime elapsed before it arrived"});
        end(HangupReason::InviteTimeout, EndedBy::Remote, false, out);
        return out;
    }
    m_opponentUser = sender;
    m_opponentParty = invite.partyId;
    m_remoteVersion = invite.version;
    m_remoteMetadata = inv->metadata;
    const TimePoint expires = now + (inv->lifetime - age);
    arm(Timer::InviteExpiry, expires);
    setState(CallState::Ringing, out);
    out.emplace_back(IncomingCall{m_id, sender, invite.partyId, inv->metadata, expires});
    out.emplace_back(CreatePeer{m_id, true, sender, std::nullopt});
    m_peerCreated = true;
    out.emplace_back(SetRemoteDescription{m_id, inv->offer});
    return finish(std::move(out));
}

CallEffects PeerCall::answer(std::optional<SdpStreamMetadata> metadata, TimePoint /*now*/) {
    CallEffects out;
    if (m_state != CallState::Ringing) return out;
    m_localMetadata = std::move(metadata);
    disarm(Timer::InviteExpiry);
    out.emplace_back(CreateAnswer{m_id});
    m_localOp = LocalOp::Answer;
    setState(CallState::CreatingAnswer, out);
    return finish(std::move(out));
}

CallEffects PeerCall::reject(TimePoint /*now*/) {
    CallEffects out;
    if (m_state != CallState::Ringing) return out;
    if (m_remoteVersion == 0) {
        Hangup h;
        out.emplace_back(SendCallMessage{message(h)});
    } else {
        out.emplace_back(SendCallMessage{message(Reject{})});
    }
    end(HangupReason::UserHangup, EndedBy::Local, false, out, true);
    return finish(std::move(out));
}

// ---- both --------------------------------------------------------------------------------------------

CallEffects PeerCall::hangup(HangupReason reason, TimePoint /*now*/) {
    CallEffects out;
    if (m_state == CallState::Ended) return out;
    // Nothing was sent yet while the offer is being prepared: end silently.
    const bool send = !(m_state == CallState::Idle || m_state == CallState::CreatingOffer);
    end(reason, EndedBy::Local, send, out);
    return finish(std::move(out));
}

CallEffects PeerCall::onMediaFailed(TimePoint now) {
    return hangup(HangupReason::UserMediaFailed, now);
}

CallEffects PeerCall::onSendFailed(std::string_view type, TimePoint now) {
    if (type != call_wire::kInvite && type != call_wire::kAnswer) return {};
    return hangup(HangupReason::UnknownError, now);
}

CallEffects PeerCall::onLocalDescription(const SessionDescription& description, TimePoint now) {
    CallEffects out;
    if (m_state == CallState::Ended) return out;
    const LocalOp op = m_localOp;
    const bool isOffer = description.type == SdpType::Offer;
    switch (op) {
        case LocalOp::None:
            return out;  // stale (e.g. a negotiate offer abandoned after a collision)
        case LocalOp::InitialOffer: {
            if (!isOffer) return out;
            m_localOp = LocalOp::None;
            Invite inv;
            inv.offer = description;
            inv.lifetime = m_config.inviteLifetime;
            inv.invitee = m_opponentUser;
            inv.metadata = m_localMetadata;
            inv.capabilities = m_config.capabilities;
            out.emplace_back(SendCallMessage{message(std::move(inv))});
            m_inviteOrAnswerSent = true;
            setState(CallState::InviteSent, out);
            arm(Timer::InviteExpiry, now + m_config.inviteLifetime);
            flushCandidates(out);  // candidates gathered while the invite was prepared go right after it
            break;
        }
        case LocalOp::Answer: {
            if (isOffer) return out;
            m_localOp = LocalOp::None;
            Answer a;
            a.answer = description;
            a.metadata = m_localMetadata;
            a.capabilities = m_config.capabilities;
            out.emplace_back(SendCallMessage{message(std::move(a))});
            m_inviteOrAnswerSent = true;
            setState(CallState::Connecting, out);
            flushCandidates(out);
            break;
        }
        case LocalOp::NegotiateOffer:
        case LocalOp::IceRestartOffer:
        case LocalOp::NegotiateAnswer: {
            if (isOffer != (op != LocalOp::NegotiateAnswer)) return out;
            m_localOp = LocalOp::None;
            Negotiate n;
            n.description = description;
            if (isOffer) n.lifetime = m_config.inviteLifetime;
            n.metadata = m_localMetadata;
            out.emplace_back(SendCallMessage{message(std::move(n))});
            m_negotiateOfferOutstanding = isOffer;
            break;
        }
    }
    return finish(std::move(out));
}

CallEffects PeerCall::onLocalCandidate(const IceCandidate& candidate, TimePoint now) {
    CallEffects out;
    if (m_state == CallState::Ended || m_state == CallState::Idle) return out;
    m_candidateQueue.push_back(candidate);
    // Held until the invite/answer is out: the remote has no call to attach them to before that.
    if (!m_inviteOrAnswerSent) return out;
    if (candidate.endOfCandidates() && m_config.flushOnGatheringComplete) {
        flushCandidates(out);
    } else if (!m_timers.contains(Timer::CandidateFlush)) {
        arm(Timer::CandidateFlush, now + candidateDelay());
    }
    return finish(std::move(out));
}

CallEffects PeerCall::onMessage(const UserId& sender, const CallMessage& m, TimePoint now) {
    CallEffects out;
    if (m.callId != m_id) {
        out.emplace_back(MessageDropped{m.callId, DropReason::UnknownCall, {}});
        return out;
    }
    if (sender == m_me && m.partyId == m_myParty) {
        out.emplace_back(MessageDropped{m_id, DropReason::OwnEcho, {}});
        return out;
    }
    if (m_state == CallState::Ended || m_state == CallState::Idle) {
        out.emplace_back(MessageDropped{m_id, DropReason::WrongState, std::string(toString(m.type()))});
        return out;
    }
    // Before the caller selects an answer any callee party may answer, reject or trickle; after
    // that (and always on the callee side) only the opponent counts.
    const bool selecting = m_direction == CallDirection::Outbound && !m_opponentParty;
    if (selecting) {
        if (m_opponentUser && sender != *m_opponentUser) {
            out.emplace_back(MessageDropped{m_id, DropReason::WrongParty, "not the invitee"});
            return out;
        }
    } else if (!m_opponentParty || m.partyId != *m_opponentParty ||
               (m_opponentUser && sender != *m_opponentUser)) {
        out.emplace_back(MessageDropped{m_id, DropReason::WrongParty, m.partyId.str()});
        return out;
    }

    switch (m.type()) {
        case CallEventType::Invite:
            out.emplace_back(MessageDropped{m_id, DropReason::WrongState, "second invite"});
            break;
        case CallEventType::Answer:
            if (selecting && m_state == CallState::InviteSent) {
                if (!m_opponentUser) m_opponentUser = sender;
                onAnswer(m, std::get<Answer>(m.body), now, out);
            } else {
                out.emplace_back(MessageDropped{m_id, DropReason::WrongState, "answer"});
            }
            break;
        case CallEventType::Candidates:
            onCandidates(m, std::get<Candidates>(m.body), out);
            break;
        case CallEventType::SelectAnswer:
            if (m_direction == CallDirection::Inbound) {
                if (std::get<SelectAnswer>(m.body).selectedPartyId != m_myParty)
                    end(HangupReason::AnsweredElsewhere, EndedBy::Remote, false, out);
            } else {
                out.emplace_back(MessageDropped{m_id, DropReason::WrongState, "select_answer"});
            }
            break;
        case CallEventType::Negotiate:
            if (isLive(m_state)) {
                onNegotiate(m, std::get<Negotiate>(m.body), now, out);
            } else {
                out.emplace_back(MessageDropped{m_id, DropReason::WrongState, "negotiate"});
            }
            break;
        case CallEventType::Reject:
            if (selecting && m_state == CallState::InviteSent) {
                m_opponentParty = m.partyId;
                if (!m_opponentUser) m_opponentUser = sender;
                end(HangupReason::UserHangup, EndedBy::Remote, false, out, true);
            } else {
                out.emplace_back(MessageDropped{m_id, DropReason::WrongState, "reject"});
            }
            break;
        case CallEventType::Hangup:
            if (selecting) {  // another callee device hanging up does not end our call
                out.emplace_back(MessageDropped{m_id, DropReason::WrongParty, "hangup before an answer"});
            } else {
                end(std::get<Hangup>(m.body).reason, EndedBy::Remote, false, out);
            }
            break;
        case CallEventType::SdpStreamMetadataChanged:
            if (selecting) {
                out.emplace_back(MessageDropped{m_id, DropReason::WrongParty, "metadata before an answer"});
            } else {
                m_remoteMetadata = std::get<SdpStreamMetadataChanged>(m.body).metadata;
                out.emplace_back(RemoteMetadataChanged{m_id, *m_remoteMetadata});
            }
            break;
    }
    return finish(std::move(out));
}

void PeerCall::onAnswer(const CallMessage& m, const Answer& a, TimePoint /*now*/, CallEffects& out) {
    m_opponentParty = m.partyId;
    m_remoteVersion = m.version;
    disarm(Timer::InviteExpiry);
    if (m.version != 0) out.emplace_back(SendCallMessage{message(SelectAnswer{m.partyId})});
    out.emplace_back(SetRemoteDescription{m_id, a.answer});
    if (a.metadata) {
        m_remoteMetadata = a.metadata;
        out.emplace_back(RemoteMetadataChanged{m_id, *a.metadata});
    }
    if (auto it = m_earlyRemoteCandidates.find(m.partyId); it != m_earlyRemoteCandidates.end())
        out.emplace_back(AddRemoteCandidates{m_id, std::move(it->second)});
    m_earlyRemoteCandidates.clear();
    setState(CallState::Connecting, out);
}

void PeerCall::onCandidates(const CallMessage& m, const Candidates& c, CallEffects& out) {
    if (m_direction == CallDirection::Outbound && !m_opponentParty) {
        // No remote description yet: keep them for when this party's answer is selected.
        if (!m_earlyRemoteCandidates.contains(m.partyId) &&
            m_earlyRemoteCandidates.size() >= kMaxEarlyParties) {
            out.emplace_back(MessageDropped{m_id, DropReason::BufferFull, "too many answering parties"});
            return;
        }
        auto& q = m_earlyRemoteCandidates[m.partyId];
        if (q.size() + c.candidates.size() > kMaxEarlyCandidatesPerParty) {
            out.emplace_back(MessageDropped{m_id, DropReason::BufferFull, "too many early candidates"});
            return;
        }
        q.insert(q.end(), c.candidates.begin(), c.candidates.end());
        return;
    }
    out.emplace_back(AddRemoteCandidates{m_id, c.candidates});
}

void PeerCall::onNegotiate(const CallMessage& /*m*/, const Negotiate& n, TimePoint /*now*/,
                           CallEffects& out) {
    if (n.metadata) {
        m_remoteMetadata = n.metadata;
        out.emplace_back(RemoteMetadataChanged{m_id, *n.metadata});
    }
    if (n.description.type == SdpType::Offer) {
        const bool collision = m_negotiateOfferOutstanding || m_localOp == LocalOp::NegotiateOffer ||
                               m_localOp == LocalOp::IceRestartOffer;
        const bool polite = m_direction == CallDirection::Inbound;
        if (collision && !polite) {
            out.emplace_back(MessageDropped{m_id, DropReason::WrongState,
                                            "negotiate glare: impolite peer keeps its offer"});
            return;
        }
        // Polite peer: abandon our pending offer and take theirs (perfect negotiation).
        m_negotiateOfferOutstanding = false;
        out.emplace_back(SetRemoteDescription{m_id, n.description});
        out.emplace_back(CreateAnswer{m_id});
        m_localOp = LocalOp::NegotiateAnswer;
        return;
    }
    if (!m_negotiateOfferOutstanding) {
        out.emplace_back(MessageDropped{m_id, DropReason::WrongState, "negotiate answer without an offer"});
        return;
    }
    m_negotiateOfferOutstanding = false;
    out.emplace_back(SetRemoteDescription{m_id, n.description});
}

void PeerCall::startIceRestart(TimePoint now, CallEffects& out) {
    ++m_iceRestarts;
    m_negotiateOfferOutstanding = false;
    out.emplace_back(CreateOffer{m_id, true});
    m_localOp = LocalOp::IceRestartOffer;
    setState(CallState::Reconnecting, out);
    arm(Timer::IceRestart, now + m_config.iceRestartTimeout);
}

CallEffects PeerCall::onIceState(IceConnectionState s, TimePoint now) {
    CallEffects out;
    if (!isLive(m_state) && m_state != CallState::CreatingAnswer) return out;
    switch (s) {
        case IceConnectionState::Connected:
        case IceConnectionState::Completed:
            disarm(Timer::IceDisconnected);
            disarm(Timer::IceRestart);
            if (m_state == CallState::Connecting || m_state == CallState::Reconnecting) {
                m_iceRestarts = 0;
                setState(CallState::Connected, out);
            }
            break;
        case IceConnectionState::Disconnected:
            if (!m_timers.contains(Timer::IceDisconnected))
                arm(Timer::IceDisconnected, now + m_config.iceDisconnectedTimeout);
            break;
        case IceConnectionState::Failed:
            disarm(Timer::IceDisconnected);
            if (m_direction == CallDirection::Outbound) {
                if (m_localOp == LocalOp::IceRestartOffer || m_timers.contains(Timer::IceRestart))
                    break;  // already restarting
                if (m_iceRestarts >= m_config.maxIceRestarts) {
                    end(HangupReason::IceFailed, EndedBy::Local, true, out);
                } else {
                    startIceRestart(now, out);
                }
            } else {
                // The caller restarts ICE (avoids negotiate glare); wait for its new offer.
                setState(CallState::Reconnecting, out);
                if (!m_timers.contains(Timer::IceRestart))
                    arm(Timer::IceRestart, now + m_config.iceRestartTimeout * (m_config.maxIceRestarts + 1));
            }
            break;
        case IceConnectionState::New:
        case IceConnectionState::Checking:
        case IceConnectionState::Closed:
            break;
    }
    return finish(std::move(out));
}

CallEffects PeerCall::renegotiate(TimePoint /*now*/) {
    CallEffects out;
    if (!isLive(m_state) || m_localOp != LocalOp::None || m_negotiateOfferOutstanding) return out;
    out.emplace_back(CreateOffer{m_id, false});
    m_localOp = LocalOp::NegotiateOffer;
    return finish(std::move(out));
}

CallEffects PeerCall::setLocalMetadata(SdpStreamMetadata metadata, TimePoint /*now*/) {
    CallEffects out;
    if (m_state == CallState::Ended) return out;
    m_localMetadata = std::move(metadata);
    if (isLive(m_state))
        out.emplace_back(SendCallMessage{message(SdpStreamMetadataChanged{*m_localMetadata})});
    return finish(std::move(out));
}

CallEffects PeerCall::onWakeup(TimePoint now) {
    CallEffects out;
    auto due = [&](Timer t) {
        auto it = m_timers.find(t);
        if (it == m_timers.end() || it->second > now) return false;
        m_timers.erase(it);
        return true;
    };
    if (due(Timer::InviteExpiry)) {
        if (m_state == CallState::InviteSent) {
            end(HangupReason::InviteTimeout, EndedBy::Local, true, out);
        } else if (m_state == CallState::Ringing) {
            end(HangupReason::InviteTimeout, EndedBy::Remote, false, out);
        }
    }
    if (due(Timer::CandidateFlush)) flushCandidates(out);
    if (due(Timer::IceDisconnected) && isLive(m_state)) {
        auto more = onIceState(IceConnectionState::Failed, now);
        for (auto& e : more)
            if (!std::holds_alternative<ScheduleWakeup>(e)) out.push_back(std::move(e));
    }
    if (due(Timer::IceRestart) && isLive(m_state)) {
        if (m_direction == CallDirection::Outbound && m_iceRestarts < m_config.maxIceRestarts) {
            startIceRestart(now, out);
        } else {
            end(HangupReason::IceFailed, EndedBy::Local, true, out);
        }
    }
    // Re-announce even an unchanged next wakeup: the shell's timer has just fired.
    m_announcedWakeup.reset();
    return finish(std::move(out));
}

}  // namespace mxrtc::core
