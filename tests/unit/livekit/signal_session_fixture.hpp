// Shared by the SignalSession tests: recorded server messages (as livekit-server v1.13.5 sends
// them), the subscriber offers in tests/vectors/livekit/sdp_subscriber_offer_*.sdp, a harness
// with an exact clock, and effect descriptions that make sequence assertions readable.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mxrtc/livekit/signal_session.hpp"
#include "support/effects.hpp"
#include "support/vectors.hpp"

namespace mxrtc::livekit::test {

using mxrtc::test::all;
using mxrtc::test::has;
using mxrtc::test::only;

inline constexpr std::int64_t kT0 = 1760000000000;
inline constexpr const char* kAliceSid = "PA_Zt4mJbV8q2Xc";
inline constexpr const char* kAlice = "@alice:example.org:ALICEDEV";
inline constexpr const char* kBobSid = "PA_h3K9sWq2LmNx";
inline constexpr const char* kBob = "@bob:example.org:BOBDEV";
inline constexpr const char* kBobMic = "TR_AMf5tGq8wJzR";
inline constexpr const char* kBobCam = "TR_VCp2Xr7NkYbd";
inline constexpr const char* kCarolSid = "PA_Qw8eRt5yUi3o";
inline constexpr const char* kCarol = "@carol:example.org:CAROLDEV";
inline constexpr const char* kCarolMic = "TR_AMc7Vb2Nm4Lk";
inline constexpr const char* kCarolCam = "TR_VCx9Zq3Wp6Ty";
inline constexpr const char* kOurMic = "TR_AMs8Hd3Fg5Jk";
inline constexpr const char* kOurCam = "TR_VCn4Bm6Vc8Xz";

// The offers as pion writes them (CRLF); the files are stored with LF to stay readable.
inline std::string offerSdp(const std::string& name) {
    std::string lf = mxrtc::test::readVectorText("livekit/sdp_subscriber_offer_" + name + ".sdp");
    std::string crlf;
    for (char c : lf) {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    return crlf;
}
inline SubscriberOffer subscriberOffer(const std::string& name, std::uint32_t id) {
    return SubscriberOffer{SessionDescription{"offer", offerSdp(name), id, {}}};
}

inline TrackInfo bobMic() {
    TrackInfo t;
    t.sid = kBobMic;
    t.type = TrackType::Audio;
    t.name = "microphone";
    t.source = TrackSource::Microphone;
    t.mimeType = "audio/red";
    t.mid = "0";
    t.encryption = EncryptionType::Gcm;
    t.stream = "camera";
    return t;
}
inline TrackInfo bobCam() {
    TrackInfo t;
    t.sid = kBobCam;
    t.type = TrackType::Video;
    t.name = "camera";
    t.width = 1280;
    t.height = 720;
    t.source = TrackSource::Camera;
    t.mimeType = "video/VP8";
    t.mid = "1";
    t.encryption = EncryptionType::Gcm;
    t.stream = "camera";
    return t;
}
inline ParticipantInfo bob(std::uint32_t version = 7) {
    ParticipantInfo p;
    p.sid = kBobSid;
    p.identity = kBob;
    p.state = ParticipantState::Active;
    p.tracks = {bobMic(), bobCam()};
    p.version = version;
    p.isPublisher = true;
    p.joinedAtMs = kT0 - 60'000;
    return p;
}
inline ParticipantInfo carol(std::uint32_t version = 3) {
    ParticipantInfo p;
    p.sid = kCarolSid;
    p.identity = kCarol;
    p.state = ParticipantState::Active;
    TrackInfo mic;
    mic.sid = kCarolMic;
    mic.type = TrackType::Audio;
    mic.source = TrackSource::Microphone;
    mic.mimeType = "audio/opus";
    mic.stream = "camera";
    TrackInfo cam;
    cam.sid = kCarolCam;
    cam.type = TrackType::Video;
    cam.width = 640;
    cam.height = 480;
    cam.source = TrackSource::Camera;
    cam.mimeType = "video/VP8";
    cam.stream = "camera";
    p.tracks = {mic, cam};
    p.version = version;
    p.isPublisher = true;
    return p;
}

// A JoinResponse as livekit-server 1.13.5 writes it (room.go createJoinResponseLocked).
inline JoinResponse joinResponse(std::vector<ParticipantInfo> others = {bob()}, const char* sid = kAliceSid) {
    JoinResponse j;
    j.room = RoomInfo{"RM_b7XcQ2pLm9Tn", "!CallRoom:example.org"};
    j.participant.sid = sid;
    j.participant.identity = kAlice;
    j.participant.state = ParticipantState::Joining;
    j.participant.version = 1;
    j.participant.joinedAtMs = kT0;
    j.otherParticipants = std::move(others);
    j.subscriberPrimary = true;
    j.pingTimeout = 15;
    j.pingInterval = 5;
    j.serverInfo = ServerInfo{"1.13.5", 17, "", "ND_kT8sZx3QwErt"};
    j.sifTrailer = {0x4c, 0x4b, 0x2d, 0x53, 0x49, 0x46, 0x9a, 0x11};
    j.enabledPublishCodecs = {Codec{"audio/opus", ""}, Codec{"audio/red", ""}, Codec{"video/VP8", ""},
                              Codec{"video/H264", ""}, Codec{"video/VP9", ""}, Codec{"video/AV1", ""}};
    j.fastPublish = true;
    return j;
}

inline LocalTrack micTrack(std::string cid = "mxrtc-mic") {
    LocalTrack t;
    t.cid = std::move(cid);
    t.type = TrackType::Audio;
    t.source = TrackSource::Microphone;
    t.name = "microphone";
    t.encrypted = true;
    return t;
}
inline LocalTrack camTrack(std::string cid = "mxrtc-cam") {
    LocalTrack t;
    t.cid = std::move(cid);
    t.type = TrackType::Video;
    t.source = TrackSource::Camera;
    t.name = "camera";
    t.width = 640;
    t.height = 360;
    t.encrypted = true;
    return t;
}
inline TrackPublished published(const LocalTrack& t, const char* sid) {
    TrackInfo info;
    info.sid = sid;
    info.type = t.type;
    info.name = t.name;
    info.muted = t.muted;
    info.width = t.width;
    info.height = t.height;
    info.source = t.source;
    info.encryption = t.encrypted ? EncryptionType::Gcm : EncryptionType::None;
    info.stream = "camera";
    return TrackPublished{t.cid, info};
}

inline std::string candidate(int n, const char* mid = "0") {
    return std::string(R"({"candidate":"candidate:)") + std::to_string(n) +
           R"( 1 udp 2015363327 127.0.0.1 5)" + std::to_string(1000 + n) + R"( typ host","sdpMid":")" + mid +
           R"(","sdpMLineIndex":0,"usernameFragment":null})";
}

inline std::string targetName(SignalTarget t) {
    return t == SignalTarget::Publisher ? "publisher" : "subscriber";
}
// "candidate:7" of a candidateInit built by candidate(7).
inline std::string foundation(const std::string& candidateInit) {
    auto p = candidateInit.find("candidate:");
    if (p == std::string::npos) return candidateInit;
    return candidateInit.substr(p, candidateInit.find(' ', p) - p);
}

inline std::string describe(const SignalRequest& r) {
    if (const auto* o = std::get_if<PublisherOffer>(&r))
        return "PublisherOffer id=" + std::to_string(o->description.id);
    if (const auto* a = std::get_if<SubscriberAnswer>(&r)) {
        return "SubscriberAnswer id=" + std::to_string(a->description.id);
    }
    if (const auto* t = std::get_if<Trickle>(&r))
        return "Trickle " + targetName(t->target) + " " + foundation(t->candidateInit);
    if (const auto* a = std::get_if<AddTrack>(&r)) return "AddTrack " + a->cid;
    if (const auto* m = std::get_if<MuteTrack>(&r))
        return "MuteTrack " + m->sid + (m->muted ? " muted" : " unmuted");
    if (const auto* l = std::get_if<Leave>(&r)) return "Leave " + std::string(toString(l->reason));
    if (const auto* p = std::get_if<Ping>(&r)) {
        return "Ping ts=" + std::to_string(p->timestamp - kT0) + " rtt=" + std::to_string(p->rtt);
    }
    return "other request";
}

// One line per effect: the kind and the fields that identify it.
inline std::string describe(const SignalEffect& e) {
    if (const auto* o = std::get_if<OpenSocket>(&e)) {
        if (o->resume) {
            return "OpenSocket resume " + o->participantSid +
                   " reason=" + std::to_string(static_cast<int>(o->reconnectReason));
        }
        return o->freshToken ? "OpenSocket join fresh-token" : "OpenSocket join";
    }
    if (std::holds_alternative<CloseSocket>(e)) return "CloseSocket";
    if (const auto* s = std::get_if<SendSignal>(&e)) return "Send " + describe(s->message);
    if (const auto* c = std::get_if<CreatePeerConnections>(&e)) {
        return std::string("CreatePeerConnections") +
               (c->publisher ? " publisher+subscriber" : " subscriber");
    }
    if (std::holds_alternative<ClosePeerConnections>(e)) return "ClosePeerConnections";
    if (const auto* a = std::get_if<ApplySubscriberOffer>(&e)) {
        return "ApplySubscriberOffer id=" + std::to_string(a->description.id) +
               (a->iceRestart ? " ice-restart" : "");
    }
    if (const auto* a = std::get_if<ApplyPublisherAnswer>(&e)) {
        return "ApplyPublisherAnswer id=" + std::to_string(a->description.id);
    }
    if (const auto* a = std::get_if<AddRemoteCandidate>(&e)) {
        return "AddRemoteCandidate " + targetName(a->target) + " " + foundation(a->candidateInit);
    }
    if (std::holds_alternative<CreatePublisherOffer>(e)) return "CreatePublisherOffer";
    if (const auto* m = std::get_if<SubscriberTracksMapped>(&e)) {
        std::string s = "Mapped";
        for (const auto& [mid, t] : m->byMid) {
            s += " " + mid + "=" + (t.identity.empty() ? "?" : t.identity) + "/" + t.info.sid;
        }
        return s;
    }
    if (const auto* t = std::get_if<ServerInjectedTrailer>(&e)) {
        return "ServerInjectedTrailer " + std::to_string(t->trailer.size()) + " bytes";
    }
    if (const auto* p = std::get_if<ParticipantJoined>(&e))
        return "ParticipantJoined " + p->participant.identity;
    if (const auto* p = std::get_if<ParticipantChanged>(&e)) {
        return "ParticipantChanged " + p->participant.identity + " v" +
               std::to_string(p->participant.version);
    }
    if (const auto* p = std::get_if<ParticipantLeft>(&e)) return "ParticipantLeft " + p->participant.identity;
    if (const auto* p = std::get_if<LocalTrackPublished>(&e))
        return "LocalTrackPublished " + p->cid + " " + p->track.sid;
    if (const auto* r = std::get_if<LocalTrackRejected>(&e))
        return "LocalTrackRejected " + r->cid + ": " + r->reason;
    if (const auto* m = std::get_if<MuteLocalTrack>(&e))
        return "MuteLocalTrack " + m->cid + (m->muted ? " muted" : " unmuted");
    if (const auto* s = std::get_if<StateChanged>(&e)) return "State " + std::string(toString(s->state));
    if (const auto* c = std::get_if<Closed>(&e)) {
        return "Closed " + std::string(toString(c->reason)) + (c->error ? " error: " : ": ") + c->detail;
    }
    return "other effect";
}
inline std::vector<std::string> describe(const SignalEffects& effects) {
    std::vector<std::string> out;
    for (const auto& e : effects)
        out.push_back(describe(e));
    return out;
}
// The messages sent, in order.
inline std::vector<SignalRequest> sent(const SignalEffects& effects) {
    std::vector<SignalRequest> out;
    for (const auto& s : all<SendSignal>(effects))
        out.push_back(s.message);
    return out;
}

// Drives a session with an exact clock.
struct Harness {
    explicit Harness(SignalSessionConfig config = {}) : session(std::move(config)) {}
    SignalSession session;
    TimePoint now = fromUnixMs(kT0);

    SignalEffects connect() { return session.connect(now); }
    SignalEffects opened() { return session.onSocketOpened(now); }
    SignalEffects failed(int httpStatus = 0, std::string message = "connection reset") {
        return session.onSocketFailed(SocketFailure{httpStatus, std::move(message)}, now);
    }
    SignalEffects receive(const SignalResponse& message) { return session.onMessage(message, now); }
    SignalEffects advance(Duration d) {
        now += d;
        return session.onWakeup(now);
    }
    // Runs every wakeup up to `until` (as the shell would), returning all effects.
    SignalEffects runUntil(TimePoint until) {
        SignalEffects out;
        while (auto next = session.nextWakeup()) {
            if (*next > until) break;
            now = *next;
            auto e = session.onWakeup(now);
            out.insert(out.end(), e.begin(), e.end());
        }
        now = until;
        return out;
    }
    SignalEffects localDescription(SignalTarget target, std::string sdp) {
        return session.onLocalDescription(target, SessionDescription{"", std::move(sdp), 0, {}}, now);
    }
    SignalEffects localCandidate(SignalTarget target, std::string c) {
        return session.onLocalCandidate(target, std::move(c), now);
    }
    SignalEffects pcState(SignalTarget target, PeerConnectionState state) {
        return session.onPeerConnectionState(target, state, now);
    }
    SignalEffects publish(LocalTrack t) { return session.publish(std::move(t), now); }
    SignalEffects mute(const std::string& cid, bool muted) { return session.setMuted(cid, muted, now); }

    // connect -> socket open -> JoinResponse; returns the JoinResponse's effects.
    SignalEffects join(const JoinResponse& j = joinResponse()) {
        connect();
        opened();
        return receive(j);
    }
    // join + the first subscriber offer answered.
    SignalEffects joinAndAnswer(const JoinResponse& j = joinResponse(), const std::string& offer = "2_bob") {
        join(j);
        receive(subscriberOffer(offer, 41));
        return localDescription(SignalTarget::Subscriber, "v=0 answer");
    }
};

}  // namespace mxrtc::livekit::test
