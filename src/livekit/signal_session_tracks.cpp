// SignalSession, part 3: our own tracks (AddTrack -> TrackPublished, mute), the publisher's
// offer/answer and ICE candidates in both directions.
//
// Publishing (pkg/rtc/participant.go AddTrack/addPendingTrack): the server matches the media it
// receives to a pending AddTrack by cid, so the publisher offer is created only once every AddTrack
// sent has its TrackPublished (or was rejected) and at least one track is published. One publisher
// negotiation is in flight at a time; a track published meanwhile is offered after the answer.
// Never send an AddTrack twice for a pending cid: the server queues the second one as another
// track (RequestResponse QUEUED).
//
// Candidates (pkg/rtc/participant.go HandleICETrickle, transport.go handleRemoteICECandidate):
// * ours are held per peer connection until its first local description went out, as
//   gst-plugins-rs does (the server would queue early ones in pendingRemoteCandidates, but their
//   sdpMid and ufrag refer to a description it has not seen yet);
// * "gathering complete" (an empty candidateInit) sends nothing: the server never reads
//   TrickleRequest.final, pion treats an empty candidate as a no-op, and an empty candidateInit
//   string would fail its JSON decoding (RequestResponse UNCLASSIFIED_ERROR);
// * the server's are held per peer connection until its remote description was handed to the
//   shell (ApplySubscriberOffer / ApplyPublisherAnswer), which applies effects in order.
#include <algorithm>
#include <utility>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/livekit/signal_session.hpp"

namespace mxrtc::livekit {

namespace {

std::size_t index(SignalTarget t) {
    return t == SignalTarget::Publisher ? 0 : 1;
}

bool isKnownTarget(SignalTarget t) {
    return t == SignalTarget::Publisher || t == SignalTarget::Subscriber;
}

}  // namespace

SignalSession::Local* SignalSession::findLocal(const std::string& cid) {
    auto it =
        std::find_if(m_local.begin(), m_local.end(), [&](const Local& l) { return l.track.cid == cid; });
    return it == m_local.end() ? nullptr : &*it;
}

SignalSession::Local* SignalSession::findLocalBySid(const std::string& sid) {
    if (sid.empty()) return nullptr;
    auto it = std::find_if(m_local.begin(), m_local.end(), [&](const Local& l) { return l.sid == sid; });
    return it == m_local.end() ? nullptr : &*it;
}

void SignalSession::resetPeerConnectionState() {
    m_pc = {};
    m_negotiation = Negotiation::Idle;
    m_publisherDirty = false;
    m_publisherOfferId = 0;
    m_lastPublisherOffer.reset();
}

// ---- publishing ----------------------------------------------------------------------------------

SignalEffects SignalSession::publish(LocalTrack track, TimePoint now) {
    Effects out;
    MXRTC_ASSERT(!track.cid.empty(), "a local track needs a cid");
    MXRTC_ASSERT(findLocal(track.cid) == nullptr, "publish(): this cid is already published");
    if (m_state == SignalState::Leaving || m_state == SignalState::Closed) return out;
    if (!m_config.publish) {
        out.emplace_back(LocalTrackRejected{track.cid, "this session does not publish (subscribe-only)"});
        return out;
    }
    Local local;
    local.track = std::move(track);
    m_local.push_back(std::move(local));
    if (m_state == SignalState::Connected) sendAddTrack(m_local.back(), now, out);
    return out;
}

void SignalSession::sendAddTrack(Local& local, TimePoint now, Effects& out) {
    const LocalTrack& t = local.track;
    AddTrack request;
    request.cid = t.cid;
    request.name = t.name;
    request.type = t.type;
    request.source = t.source;
    request.muted = t.muted;
    request.stream = t.stream;
    if (t.type == TrackType::Video) {
        request.width = t.width;
        request.height = t.height;
        // One HIGH layer: without it remote UIs report bad quality (gst-plugins-rs 311fda649).
        request.layers.push_back(VideoLayer{VideoQuality::High, t.width, t.height, 0, 0});
    } else if (t.type == TrackType::Audio) {
        request.disableRed = true;  // webrtcbin sends plain Opus
    }
    if (t.encrypted) request.encryption = EncryptionType::Gcm;
    local.phase = Phase::Requested;
    local.sid.clear();
    local.serverMuted = t.muted;
    local.deadline = now + m_config.addTrackTimeout;
    send(std::move(request), out);
}

void SignalSession::sendWaitingTracks(TimePoint now, Effects& out) {
    if (!m_config.publish) return;
    for (auto& local : m_local) {
        if (local.phase == Phase::Waiting) sendAddTrack(local, now, out);
    }
}

void SignalSession::onTrackPublished(const TrackPublished& published, TimePoint /*now*/, Effects& out) {
    Local* local = findLocal(published.cid);
    if (local == nullptr || local->phase != Phase::Requested) return;  // unknown, timed out or stale
    local->phase = Phase::Published;
    local->sid = published.track.sid;
    local->serverMuted = published.track.muted;
    out.emplace_back(LocalTrackPublished{published.cid, published.track});
    if (local->track.muted != local->serverMuted) {  // setMuted() while the AddTrack was in flight
        local->serverMuted = local->track.muted;
        send(MuteTrack{local->sid, local->track.muted}, out);
    }
    m_publisherDirty = true;
    maybeNegotiate(out);
}

void SignalSession::onRequestResponse(const RequestResponse& response, TimePoint /*now*/, Effects& out) {
    if (!response.addTrack) return;  // mute/trickle/… failures: nothing we could do differently
    const Local* local = findLocal(response.addTrack->cid);
    if (local == nullptr || local->phase != Phase::Requested) return;
    // OK is the non-error response of protocol > 14; QUEUED means a second track under that cid.
    if (response.reason == RequestReason::Ok || response.reason == RequestReason::Queued) return;
    std::string reason(toString(response.reason));
    if (!response.message.empty()) reason += ": " + response.message;
    rejectLocal(response.addTrack->cid, std::move(reason), out);
}

void SignalSession::rejectLocal(const std::string& cid, std::string reason, Effects& out) {
    auto it =
        std::find_if(m_local.begin(), m_local.end(), [&](const Local& l) { return l.track.cid == cid; });
    if (it == m_local.end()) return;
    m_local.erase(it);
    out.emplace_back(LocalTrackRejected{cid, std::move(reason)});
    maybeNegotiate(out);
}

void SignalSession::onTrackUnpublished(const TrackUnpublished& unpublished, Effects& out) {
    if (const Local* local = findLocalBySid(unpublished.trackSid)) {
        rejectLocal(local->track.cid, "unpublished by the SFU", out);
    }
}

// ---- mute ----------------------------------------------------------------------------------------

SignalEffects SignalSession::setMuted(const std::string& cid, bool muted, TimePoint /*now*/) {
    Effects out;
    Local* local = findLocal(cid);
    if (local == nullptr) return out;
    local->track.muted = muted;  // Waiting: the AddTrack carries it; Requested: sent on TrackPublished
    if (local->phase == Phase::Published && local->serverMuted != muted) {
        local->serverMuted = muted;
        send(MuteTrack{local->sid, muted}, out);
    }
    return out;
}

void SignalSession::onServerMute(const MuteTrack& mute, Effects& out) {
    Local* local = findLocalBySid(mute.sid);
    if (local == nullptr) return;
    local->track.muted = mute.muted;
    local->serverMuted = mute.muted;
    out.emplace_back(MuteLocalTrack{local->track.cid, mute.muted});
}

// ---- publisher negotiation -----------------------------------------------------------------------

void SignalSession::maybeNegotiate(Effects& out) {
    if (m_state != SignalState::Connected || !m_peerConnections || !m_config.publish) return;
    if (!m_publisherDirty || m_negotiation != Negotiation::Idle) return;
    const bool pending = std::any_of(m_local.begin(), m_local.end(),
                                     [](const Local& l) { return l.phase == Phase::Requested; });
    const bool published = std::any_of(m_local.begin(), m_local.end(),
                                       [](const Local& l) { return l.phase == Phase::Published; });
    if (pending || !published) return;
    m_negotiation = Negotiation::CreatingOffer;
    m_publisherDirty = false;
    out.emplace_back(CreatePublisherOffer{});
}

void SignalSession::onPublisherAnswer(const PublisherAnswer& answer, TimePoint /*now*/, Effects& out) {
    if (m_negotiation != Negotiation::AwaitingAnswer) return;  // e.g. a second answer to a re-sent offer
    // The server echoes our offer id (transport.go handleRemoteOfferReceived); 0 = not given.
    if (answer.description.id != 0 && answer.description.id != m_publisherOfferId) return;
    m_negotiation = Negotiation::Idle;
    out.emplace_back(ApplyPublisherAnswer{answer.description});
    remoteDescriptionApplied(SignalTarget::Publisher, out);
    maybeNegotiate(out);
}

SignalEffects SignalSession::onLocalDescription(SignalTarget target, SessionDescription description,
                                                TimePoint /*now*/) {
    Effects out;
    if (!m_peerConnections) return out;
    if (target == SignalTarget::Subscriber) {
        if (m_subscriberOfferIds.empty()) return out;  // no offer waiting for this answer
        description.type = "answer";
        description.id = m_subscriberOfferIds.front();  // echo the server's offer id
        m_subscriberOfferIds.pop_front();
        send(SubscriberAnswer{std::move(description)}, out);
    } else if (target == SignalTarget::Publisher) {
        if (m_negotiation != Negotiation::CreatingOffer) return out;
        description.type = "offer";
        description.id = ++m_publisherOfferId;
        m_lastPublisherOffer = description;
        m_negotiation = Negotiation::AwaitingAnswer;
        send(PublisherOffer{std::move(description)}, out);
    } else {
        return out;
    }
    m_pc[index(target)].localSent = true;
    flushLocalCandidates(target, out);
    return out;
}

// ---- candidates ----------------------------------------------------------------------------------

SignalEffects SignalSession::onLocalCandidate(SignalTarget target, std::string candidateInit,
                                              TimePoint /*now*/) {
    Effects out;
    if (!m_peerConnections || candidateInit.empty() || !isKnownTarget(target)) return out;
    if (target == SignalTarget::Publisher && !m_config.publish) return out;
    PeerConnectionSide& side = m_pc[index(target)];
    if (!side.localSent) {
        side.localCandidates.push_back(std::move(candidateInit));
        return out;
    }
    send(Trickle{std::move(candidateInit), target, false}, out);
    return out;
}

void SignalSession::flushLocalCandidates(SignalTarget target, Effects& out) {
    std::vector<std::string> held = std::move(m_pc[index(target)].localCandidates);
    m_pc[index(target)].localCandidates.clear();
    for (auto& candidate : held)
        send(Trickle{std::move(candidate), target, false}, out);
}

void SignalSession::onRemoteTrickle(const Trickle& trickle, Effects& out) {
    if (!m_peerConnections || !isKnownTarget(trickle.target) || trickle.candidateInit.empty()) return;
    if (trickle.target == SignalTarget::Publisher && !m_config.publish) return;
    PeerConnectionSide& side = m_pc[index(trickle.target)];
    if (!side.remoteApplied) {
        side.remoteCandidates.push_back(trickle.candidateInit);
        return;
    }
    out.emplace_back(AddRemoteCandidate{trickle.target, trickle.candidateInit});
}

void SignalSession::remoteDescriptionApplied(SignalTarget target, Effects& out) {
    PeerConnectionSide& side = m_pc[index(target)];
    side.remoteApplied = true;
    std::vector<std::string> held = std::move(side.remoteCandidates);
    side.remoteCandidates.clear();
    for (auto& candidate : held)
        out.emplace_back(AddRemoteCandidate{target, std::move(candidate)});
}

}  // namespace mxrtc::livekit
