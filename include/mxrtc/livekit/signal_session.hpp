// SignalSession: one connection to a LiveKit SFU (signal protocol v0, two peer connections) as a
// deterministic state machine, in the style of core::MembershipManager.
//
//   connect -> OpenSocket -> JoinResponse -> CreatePeerConnections -> subscriber offer/answer
//   (the server offers) -> AddTrack per local track -> TrackPublished -> CreatePublisherOffer ->
//   publisher offer/answer -> trickle both ways -> ping/pong -> mute -> leave
//
// plus resume (`reconnect=1&sid=`, keeping the peer connections) and full rejoin (new socket, new
// peer connections, tracks published again) when resuming is impossible: the server says
// RECONNECT, a peer connection failed (webrtcbin 1.22 cannot restart ICE), or resuming failed.
//
// Sans-I/O: inputs are commands (connect, publish, setMuted, leave), what the socket and the peer
// connections report, and wakeups, each with `now`; outputs are effects the shell performs, in
// order. No clock, no randomness, no I/O. Remote participants, their tracks and the subscriber's
// mid -> track mapping (redone on every subscriber offer) are state here.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "mxrtc/common/time.hpp"
#include "mxrtc/livekit/messages.hpp"
#include "mxrtc/livekit/sdp.hpp"
#include "mxrtc/livekit/url.hpp"

namespace mxrtc::livekit {

enum class SignalState {
    Idle,        // before connect()
    Connecting,  // socket being opened for a join
    Joining,     // socket open, waiting for JoinResponse
    Connected,   // joined; negotiating or in the room
    Resuming,    // socket lost: reopening with reconnect=1 (peer connections kept)
    Rejoining,   // full rejoin: waiting for the backoff, then a new join
    Leaving,     // leave() sent, waiting for the socket to close
    Closed,      // terminal
};
std::string_view toString(SignalState s);

enum class PeerConnectionState { New, Connecting, Connected, Disconnected, Failed, Closed };

// A track we publish. The shell picks `cid` and writes it into its offer's msid lines (sdp::setMsid).
struct LocalTrack {
    std::string cid;
    TrackType type = TrackType::Audio;
    TrackSource source = TrackSource::Unknown;
    std::string name;
    std::uint32_t width = 0;  // video
    std::uint32_t height = 0;
    bool muted = false;
    bool encrypted = false;  // Encryption GCM (frames carry the LiveKit E2EE trailer)
    std::string stream;      // optional stream name ("" = the server's default)
};

// A remote track as the subscriber peer connection carries it.
struct RemoteTrack {
    std::string participantSid;
    std::string identity;  // "" while the participant is not known yet
    TrackInfo info;        // info.sid always set; the rest once known from join/update
};

struct SignalSessionConfig {
    bool publish = true;                  // false: subscribe-only (another member's SFU in multi_sfu)
    Duration joinTimeout{10'000};         // socket opening + JoinResponse
    Duration addTrackTimeout{10'000};     // AddTrack -> TrackPublished
    Duration defaultPingInterval{5'000};  // when the JoinResponse gives none
    Duration defaultPingTimeout{15'000};
    Duration reconnectBackoffInitial{300};  // first retry is immediate, then this, doubling…
    Duration reconnectBackoffMax{2'000};    // … up to this
    Duration giveUpAfter{60'000};           // reconnecting for longer: Closed (error)
    int resumeAttempts = 1;                 // resume tries before a full rejoin
    // Whether the peer connections can follow an ICE restart. webrtcbin 1.22 cannot (it keeps its
    // ICE session): the SFU restarts ICE on the subscriber after every resume, so a restart offer
    // then means a full rejoin.
    bool iceRestartSupported = false;
};

// ---- effects ---------------------------------------------------------------------------------
struct OpenSocket {  // shell: signalUrl(...) with reconnect=1&sid= when `resume`
    bool resume = false;
    std::string participantSid;  // resume only
    bool freshToken = false;     // full rejoin: fetch a new JWT first (the room may need creating)
    ReconnectReason reconnectReason = ReconnectReason::Unknown;  // resume only: reconnect_reason=
};
// Close the current socket (sending what is queued first). The shell reports nothing more about
// that socket afterwards: a later onSocketOpened/onSocketFailed/onMessage is about the socket of
// the next OpenSocket.
struct CloseSocket {};
struct SendSignal {
    SignalRequest message;
};
struct CreatePeerConnections {  // close any existing pair first; publisher only if publishing
    std::vector<IceServer> iceServers;
    bool publisher = true;
};
// Close both peer connections; as with CloseSocket, nothing more is reported about them.
struct ClosePeerConnections {};
struct ApplySubscriberOffer {        // set remote offer, create answer -> onLocalDescription(Subscriber)
    SessionDescription description;  // as sent: the shell limits it to Opus/VP8 (sdp::restrictCodecs)
    bool iceRestart = false;         // the ICE credentials changed
};
struct ApplyPublisherAnswer {
    SessionDescription description;
};
struct AddRemoteCandidate {
    SignalTarget target = SignalTarget::Publisher;
    std::string candidateInit;  // JSON {"candidate","sdpMid","sdpMLineIndex",…}
};
struct CreatePublisherOffer {};  // -> onLocalDescription(Publisher, offer with msid = cids)
// After every subscriber offer, and when participants change: the complete mid -> track map.
struct SubscriberTracksMapped {
    std::map<std::string, RemoteTrack> byMid;
};
struct ServerInjectedTrailer {  // from JoinResponse.sif_trailer: frames ending in it are not encrypted
    std::vector<std::uint8_t> trailer;
};
struct ParticipantJoined {
    ParticipantInfo participant;
};
struct ParticipantChanged {  // tracks, mute state, name … (newer version of a known participant)
    ParticipantInfo participant;
};
struct ParticipantLeft {
    ParticipantInfo participant;
};
struct LocalTrackPublished {
    std::string cid;
    TrackInfo track;
};
struct LocalTrackRejected {
    std::string cid;
    std::string reason;  // "not_allowed: …", "timeout", …
};
struct MuteLocalTrack {  // the server muted one of our tracks: stop sending it
    std::string cid;
    bool muted = true;
};
struct StateChanged {
    SignalState state;
    std::string detail;  // why (for logs / CLI): "ping timeout", "socket closed: …", …
};
struct Closed {  // terminal; the shell closes socket and peer connections
    DisconnectReason reason = DisconnectReason::Unknown;
    std::string detail;
    bool error = false;  // false: we left, or the server ended it normally
};

using SignalEffect =
    std::variant<OpenSocket, CloseSocket, SendSignal, CreatePeerConnections, ClosePeerConnections,
                 ApplySubscriberOffer, ApplyPublisherAnswer, AddRemoteCandidate, CreatePublisherOffer,
                 SubscriberTracksMapped, ServerInjectedTrailer, ParticipantJoined, ParticipantChanged,
                 ParticipantLeft, LocalTrackPublished, LocalTrackRejected, MuteLocalTrack, StateChanged,
                 Closed>;
using SignalEffects = std::vector<SignalEffect>;

// Why the socket could not be opened or went away.
struct SocketFailure {
    int httpStatus = 0;  // the HTTP status of a refused upgrade (401 bad token, 404 …); 0 = none
    std::string message;
};

class SignalSession {
  public:
    explicit SignalSession(SignalSessionConfig config = {});

    // Commands. Tracks given to publish() before the join are sent once joined (and again after a
    // full rejoin); later ones right away. A cid is given once (asserted); a subscribe-only session
    // rejects every track. leave() ends the session at once (Closed is among its effects);
    // connect() after Closed starts a new one with the tracks that were not rejected.
    SignalEffects connect(TimePoint now);
    SignalEffects publish(LocalTrack track, TimePoint now);
    SignalEffects setMuted(const std::string& cid, bool muted, TimePoint now);
    SignalEffects leave(TimePoint now);

    // What the socket reports.
    SignalEffects onSocketOpened(TimePoint now);
    SignalEffects onSocketFailed(const SocketFailure& failure, TimePoint now);  // open failed or lost
    SignalEffects onMessage(const SignalResponse& message, TimePoint now);

    // What the peer connections report. `description` is exactly what will be sent (for the
    // publisher: with the cids in its msid lines). An empty candidateInit = gathering complete
    // (nothing is sent for it: the server ignores TrickleRequest.final).
    SignalEffects onLocalDescription(SignalTarget target, SessionDescription description, TimePoint now);
    SignalEffects onLocalCandidate(SignalTarget target, std::string candidateInit, TimePoint now);
    SignalEffects onPeerConnectionState(SignalTarget target, PeerConnectionState state, TimePoint now);

    SignalEffects onWakeup(TimePoint now);
    std::optional<TimePoint> nextWakeup() const;

    SignalState state() const noexcept { return m_state; }
    const std::string& participantSid() const noexcept { return m_participantSid; }
    const std::string& identity() const noexcept { return m_identity; }
    const ServerInfo& serverInfo() const noexcept { return m_serverInfo; }
    std::optional<Duration> rtt() const noexcept { return m_rtt; }
    const std::map<std::string, ParticipantInfo>& participants() const noexcept { return m_participants; }
    const std::map<std::string, RemoteTrack>& subscriberTracks() const noexcept { return m_byMid; }

  private:
    using Effects = SignalEffects;
    enum class Link { None, Opening, Open };                         // the socket of the last OpenSocket
    enum class Timer { Join, Liveness, Ping, Retry, GiveUp };        // on a tie, the first wins
    enum class Phase { Waiting, Requested, Published };              // a local track's publication
    enum class Negotiation { Idle, CreatingOffer, AwaitingAnswer };  // the publisher's offer/answer
    struct Local {
        LocalTrack track;  // track.muted: what the app wants now
        Phase phase = Phase::Waiting;
        std::string sid;           // TR_… once published
        bool serverMuted = false;  // the mute state the server has from us
        TimePoint deadline{};      // Requested: the AddTrack timeout
    };
    struct PeerConnectionSide {
        bool localSent = false;                     // our description went out: candidates may follow it
        bool remoteApplied = false;                 // the remote description was handed to the shell
        std::vector<std::string> localCandidates;   // waiting for localSent
        std::vector<std::string> remoteCandidates;  // waiting for remoteApplied
    };

    // signal_session.cpp: state, timers, socket, messages, ping, leave
    void setState(SignalState s, std::string detail, Effects& out);
    void arm(Timer t, TimePoint at) { m_timers[t] = at; }
    void disarm(Timer t) { m_timers.erase(t); }
    void send(SignalRequest message, Effects& out);
    void openSocket(bool resume, Effects& out, TimePoint now);
    void closeSocket(Effects& out);
    void closePeerConnections(Effects& out);
    void close(DisconnectReason reason, std::string detail, bool error, Effects& out);
    void onJoin(const JoinResponse& join, TimePoint now, Effects& out);
    void onReconnected(const ReconnectResponse& response, TimePoint now, Effects& out);
    void onServerLeave(const Leave& leave, TimePoint now, Effects& out);
    void enterConnected(TimePoint now, Effects& out);
    void sendPing(TimePoint now, Effects& out);
    void onTimer(Timer t, TimePoint now, Effects& out);

    // signal_session_reconnect.cpp: resume, full rejoin, backoff, giving up
    void signalLost(std::string detail, TimePoint now, Effects& out);
    void startResume(std::string detail, TimePoint now, Effects& out);
    void startRejoin(std::string detail, TimePoint now, Effects& out);
    void attemptFailed(std::string detail, TimePoint now, Effects& out);
    void retry(TimePoint now, Effects& out);
    void beginEpisode(TimePoint now);
    Duration backoff(int failedAttempts) const;

    // signal_session_tracks.cpp: local tracks, publisher negotiation, candidates
    Local* findLocal(const std::string& cid);
    Local* findLocalBySid(const std::string& sid);
    void sendAddTrack(Local& local, TimePoint now, Effects& out);
    void sendWaitingTracks(TimePoint now, Effects& out);
    void onTrackPublished(const TrackPublished& published, TimePoint now, Effects& out);
    void onRequestResponse(const RequestResponse& response, TimePoint now, Effects& out);
    void rejectLocal(const std::string& cid, std::string reason, Effects& out);  // dropped for good
    void onServerMute(const MuteTrack& mute, Effects& out);
    void onTrackUnpublished(const TrackUnpublished& unpublished, Effects& out);
    void maybeNegotiate(Effects& out);
    void onPublisherAnswer(const PublisherAnswer& answer, TimePoint now, Effects& out);
    void onRemoteTrickle(const Trickle& trickle, Effects& out);
    void flushLocalCandidates(SignalTarget target, Effects& out);
    void remoteDescriptionApplied(SignalTarget target, Effects& out);
    void resetPeerConnectionState();

    // signal_session_remote.cpp: participants, subscriber offers, the mid -> track map
    void onSubscriberOffer(const SubscriberOffer& offer, TimePoint now, Effects& out);
    void onParticipantUpdate(const ParticipantUpdate& update, Effects& out);
    void applyParticipantSnapshot(const std::vector<ParticipantInfo>& others, Effects& out);
    std::map<std::string, RemoteTrack> buildTrackMap() const;
    void remapTracks(bool always, Effects& out);
    bool isOwn(const ParticipantInfo& p) const;

    SignalSessionConfig m_config;
    SignalState m_state = SignalState::Idle;
    std::string m_participantSid;
    std::string m_identity;
    ServerInfo m_serverInfo;
    std::optional<Duration> m_rtt;
    std::map<std::string, ParticipantInfo> m_participants;  // by sid, without ourselves
    std::map<std::string, RemoteTrack> m_byMid;

    Link m_link = Link::None;
    std::map<Timer, TimePoint> m_timers;
    Duration m_pingInterval{0};
    Duration m_pingTimeout{0};
    std::vector<SignalRequest> m_outbox;  // produced while resuming: sent once resumed

    // Reconnecting: one episode from losing the room until Connected again (or giving up).
    std::optional<TimePoint> m_episodeStart;
    int m_resumeTries = 0;      // resume sockets opened in this episode
    int m_rejoinFails = 0;      // failed rejoin attempts in this episode (for the backoff)
    int m_resumeFails = 0;      // failed resume attempts in this episode (for the backoff)
    std::string m_lastProblem;  // why the episode started / the last attempt failed

    std::vector<Local> m_local;              // in publish() order: republished in that order after a rejoin
    bool m_peerConnections = false;          // CreatePeerConnections emitted and not closed since
    std::array<PeerConnectionSide, 2> m_pc;  // by SignalTarget
    Negotiation m_negotiation = Negotiation::Idle;
    bool m_publisherDirty = false;  // a track was published since the last offer was created
    std::uint32_t m_publisherOfferId = 0;
    std::optional<SessionDescription> m_lastPublisherOffer;

    std::deque<std::uint32_t> m_subscriberOfferIds;  // offers applied and not yet answered
    std::string m_subscriberUfrag;
    std::vector<sdp::MediaSection> m_subscriberMedia;  // of the last subscriber offer
    std::map<std::string, std::string> m_midToTrackId;
    std::set<std::string> m_departed;  // participant sids seen DISCONNECTED
};

}  // namespace mxrtc::livekit
