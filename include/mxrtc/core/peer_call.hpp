// PeerCall: one MSC2746 call leg between us and one remote party, as a deterministic state machine
// (spec §9.1). Used directly for 1:1 room calls and, one per remote device, by MeshCall for
// full-mesh group calls over to-device (spec §9.2).
//
// Sans-I/O. Inputs: commands (place, answer, reject, hangup, renegotiate, mute), received call
// messages, media-engine callbacks (local SDP ready, local ICE candidate, ICE connection state) and
// wakeups, each with `now`. Outputs: effects — call messages to send, commands for the media engine
// (create/close the peer connection, create offer/answer, set the remote description, add
// candidates), one wakeup to arm, and facts for the app. The state is an explicit enum changed only
// on transitions.
//
//   caller: Idle -> CreatingOffer -> InviteSent -> Connecting -> Connected <-> Reconnecting -> Ended
//   callee: Idle -> Ringing -> CreatingAnswer -> Connecting -> Connected <-> Reconnecting -> Ended
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mxrtc/core/call_signalling.hpp"
#include "mxrtc/core/effects.hpp"

namespace mxrtc::core {

enum class CallState {
    Idle,
    CreatingOffer,
    InviteSent,
    Ringing,
    CreatingAnswer,
    Connecting,
    Connected,
    Reconnecting,
    Ended
};
std::string_view toString(CallState s);

enum class CallDirection { Outbound, Inbound };

// RTCIceConnectionState (webrtcbin's GstWebRTCICEConnectionState has the same values).
enum class IceConnectionState { New, Checking, Connected, Completed, Failed, Disconnected, Closed };
std::string_view toString(IceConnectionState s);

enum class EndedBy { Local, Remote };

// ---- effects: signalling -------------------------------------------------------------------------
// Send this call message to the opponent (1:1: as a room event of type sendEventType(type());
// MeshCall turns it into SendToDevice itself).
struct SendCallMessage {
    CallMessage message;
};
// A to-device message for one device (MeshCall only).
struct SendToDevice {
    UserId user;
    DeviceId device;
    std::string type;
    nlohmann::json content;
};

// ---- effects: media engine (performed in order, per call) ----------------------------------------
struct CreatePeer {
    CallId call;
    bool polite = false;                   // perfect-negotiation role: the callee is polite
    std::optional<UserId> remoteUser;      // known for inbound calls and invites with an invitee
    std::optional<DeviceId> remoteDevice;  // filled in by MeshCall
};
struct CreateOffer {
    CallId call;
    bool iceRestart = false;
};
struct CreateAnswer {  // after SetRemoteDescription(offer)
    CallId call;
};
struct SetRemoteDescription {
    CallId call;
    SessionDescription description;
};
struct AddRemoteCandidates {  // may include the end-of-candidates marker (empty candidate)
    CallId call;
    std::vector<IceCandidate> candidates;
};
struct ClosePeer {
    CallId call;
};

// ---- effects: facts ------------------------------------------------------------------------------
struct CallStateChanged {
    CallId call;
    CallState state;
};
struct IncomingCall {
    CallId call;
    UserId caller;
    PartyId party;
    std::optional<SdpStreamMetadata> metadata;
    TimePoint expires;
};
struct CallEnded {
    CallId call;
    HangupReason reason = HangupReason::UserHangup;
    EndedBy by = EndedBy::Local;
    bool rejected = false;  // the callee sent m.call.reject
};
struct RemoteMetadataChanged {
    CallId call;
    SdpStreamMetadata metadata;
};
// A received message was not acted upon (counted and logged by the shell, never silent).
enum class DropReason {
    Malformed,     // failed to parse (detail = the error message, naming the field)
    OwnEcho,       // our own (user, party) echo
    WrongParty,    // not from the opponent we selected
    WrongState,    // not expected in the current state
    UnknownCall,   // no call with that call_id (mesh)
    WrongConf,     // conf_id of another group call (mesh)
    WrongSession,  // dest_session_id is not our current session (mesh)
    StaleSession,  // sender_session_id is not the member's current session (mesh)
    NotAMember,    // sender device is not (or no longer) a member of the call (mesh)
    Duplicate,     // seq already processed (mesh)
    BufferFull,    // too many out-of-order / early messages (mesh)
    Expired,       // invite lifetime already elapsed
};
std::string_view toString(DropReason r);
struct MessageDropped {
    CallId call;
    DropReason reason;
    std::string detail;
};

// A mesh member's peer came or went (MeshCall only): maps call ids to devices for stats/keys.
struct MeshPeerStarted {
    CallId call;
    UserId user;
    DeviceId device;
    CallDirection direction;
};

using CallEffect =
    std::variant<SendCallMessage, SendToDevice, CreatePeer, CreateOffer, CreateAnswer, SetRemoteDescription,
                 AddRemoteCandidates, ClosePeer, ScheduleWakeup, CallStateChanged, IncomingCall, CallEnded,
                 RemoteMetadataChanged, MessageDropped, MeshPeerStarted>;
using CallEffects = std::vector<CallEffect>;

struct PeerCallConfig {
    Duration inviteLifetime{60'000};  // js-sdk 60 s (spec recommends >= 90 s)
    // Local candidates are batched (MSC2746 / js-sdk): the first batch after the invite/answer
    // goes after firstCandidateDelay (the ~200 ms js-sdk gives candidates to join the invite),
    // later batches after 2 s (caller) / 500 ms (callee). Lower the first delay on fast links.
    Duration firstCandidateDelay{200};
    Duration callerCandidateDelay{2'000};
    Duration calleeCandidateDelay{500};
    bool flushOnGatheringComplete = true;    // end-of-candidates sends the batch at once
    Duration iceDisconnectedTimeout{5'000};  // Disconnected this long counts as Failed
    Duration iceRestartTimeout{10'000};      // a restart must reconnect within this
    int maxIceRestarts = 3;                  // then hang up with ice_failed
    std::optional<CallCapabilities> capabilities;
};

// Glare (spec §9.1): an invite arrives for the same opponent while we are calling them.
enum class GlareDecision {
    NotGlare,        // we are not (about to be) calling them
    AnswerIncoming,  // ours was still being prepared: drop it silently, answer theirs
    ReplaceOurs,     // ours was sent and has the larger call_id: hang ours up ("replaced"), answer theirs
    RejectIncoming,  // ours was sent and has the smaller call_id: hang theirs up with "replaced"
};
std::string_view toString(GlareDecision d);
GlareDecision decideGlare(CallState ourState, CallDirection ourDirection, const CallId& ours,
                          const CallId& incoming);

class PeerCall {
  public:
    PeerCall(CallId id, UserId me, PartyId myParty, PeerCallConfig config = {});

    // ---- caller ----
    CallEffects placeCall(std::optional<UserId> invitee, std::optional<SdpStreamMetadata> metadata,
                          TimePoint now);

    // ---- callee ----
    // The invite that starts this call (`age` = how old it was when received; 0 for to-device).
    CallEffects onInvite(const UserId& sender, const CallMessage& invite, Duration age, TimePoint now);
    CallEffects answer(std::optional<SdpStreamMetadata> metadata, TimePoint now);
    CallEffects reject(TimePoint now);  // v1 invites: m.call.reject; v0: hangup

    // ---- both ----
    CallEffects hangup(HangupReason reason, TimePoint now);
    CallEffects onMessage(const UserId& sender, const CallMessage& message, TimePoint now);
    CallEffects onLocalDescription(const SessionDescription& description, TimePoint now);
    CallEffects onLocalCandidate(const IceCandidate& candidate, TimePoint now);
    CallEffects onIceState(IceConnectionState state, TimePoint now);
    CallEffects onMediaFailed(TimePoint now);  // local media could not be opened
    // A message of this type could not be sent (the homeserver refused it, or it was
    // unreachable). Without its invite or answer the call cannot happen, so it ends at once
    // (reason unknown_error, a hangup is still attempted) instead of ringing into the void until
    // the invite's lifetime runs out; any other lost message is left to ICE and the timers.
    CallEffects onSendFailed(std::string_view type, TimePoint now);
    CallEffects renegotiate(TimePoint now);  // tracks changed: new offer via m.call.negotiate
    CallEffects setLocalMetadata(SdpStreamMetadata metadata, TimePoint now);  // mute / purpose changes
    CallEffects onWakeup(TimePoint now);

    const CallId& id() const noexcept { return m_id; }
    CallState state() const noexcept { return m_state; }
    CallDirection direction() const noexcept { return m_direction; }
    const std::optional<PartyId>& opponentParty() const noexcept { return m_opponentParty; }
    const std::optional<UserId>& opponentUser() const noexcept { return m_opponentUser; }
    const std::optional<SdpStreamMetadata>& remoteMetadata() const noexcept { return m_remoteMetadata; }
    int iceRestarts() const noexcept { return m_iceRestarts; }
    std::optional<TimePoint> nextWakeup() const;

  private:
    enum class LocalOp { None, InitialOffer, Answer, NegotiateOffer, NegotiateAnswer, IceRestartOffer };
    enum class Timer { InviteExpiry, CandidateFlush, IceDisconnected, IceRestart };

    CallMessage message(CallBody body) const;
    void setState(CallState s, CallEffects& out);
    void arm(Timer t, TimePoint at) { m_timers[t] = at; }
    void disarm(Timer t) { m_timers.erase(t); }
    void emitWakeup(CallEffects& out);
    void end(HangupReason reason, EndedBy by, bool send, CallEffects& out, bool rejected = false);
    void flushCandidates(CallEffects& out);
    void startIceRestart(TimePoint now, CallEffects& out);
    Duration candidateDelay() const;
    CallEffects finish(CallEffects out);  // appends the wakeup if it changed

    void onAnswer(const CallMessage& m, const Answer& a, TimePoint now, CallEffects& out);
    void onCandidates(const CallMessage& m, const Candidates& c, CallEffects& out);
    void onNegotiate(const CallMessage& m, const Negotiate& n, TimePoint now, CallEffects& out);

    CallId m_id;
    UserId m_me;
    PartyId m_myParty;
    PeerCallConfig m_config;
    CallState m_state = CallState::Idle;
    CallDirection m_direction = CallDirection::Outbound;
    LocalOp m_localOp = LocalOp::None;
    int m_remoteVersion = 1;
    bool m_peerCreated = false;
    bool m_inviteOrAnswerSent = false;
    bool m_negotiateOfferOutstanding = false;  // we sent a negotiate offer, no answer yet
    std::optional<UserId> m_opponentUser;
    std::optional<PartyId> m_opponentParty;
    std::optional<SdpStreamMetadata> m_localMetadata;
    std::optional<SdpStreamMetadata> m_remoteMetadata;
    std::vector<IceCandidate> m_candidateQueue;
    std::map<PartyId, std::vector<IceCandidate>> m_earlyRemoteCandidates;  // caller, before selecting
    int m_iceRestarts = 0;
    int m_candidateBatchesSent = 0;
    std::map<Timer, TimePoint> m_timers;
    std::optional<TimePoint> m_announcedWakeup;
};

}  // namespace mxrtc::core
