// MeshCall: a full-mesh group call (focus type "mesh", MSC3401; spec §9.2). One PeerCall per
// remote member device, signalled with the MSC2746 events sent as to-device messages carrying
// conf_id, device_id, sender_session_id, dest_session_id and a per-call seq.
//
// Deterministic rule for who calls whom (js-sdk GroupCall): the member with the lexicographically
// lower user id places the call; for two devices of one user, the lower device id does (compared as
// JS strings, i.e. by UTF-16 code units). The other side waits for the invite and answers it
// automatically.
//
// Sans-I/O like PeerCall: inputs are the member list (from the session), received to-device
// messages, media-engine callbacks keyed by call id, and wakeups; outputs are CallEffects with
// SendToDevice in place of SendCallMessage, and one ScheduleWakeup for all peers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/core/peer_call.hpp"

namespace mxrtc::core {

struct MeshMember {
    UserId user;
    DeviceId device;
    std::string sessionId;  // the member's current session id (gen 0: m.devices[].session_id)
    friend bool operator==(const MeshMember&, const MeshMember&) = default;
};

struct MeshSelf {
    UserId user;
    DeviceId device;  // also our party_id, as js-sdk does
    std::string sessionId;
    std::string confId;  // the group call id
};

struct MeshCallConfig {
    // With an engine that cannot restart ICE (GStreamer 1.22 webrtcbin) set peer.maxIceRestarts = 0:
    // an ICE failure then ends the call with ice_failed and the offerer places a new one (retry).
    PeerCallConfig peer;
    int maxCallRetries = 3;  // re-place a failed outgoing call at most this often
    Duration retryDelay{2'000};
    std::size_t maxBufferedPerSender = 64;  // out-of-order (seq) and early (unknown sender) messages
    Duration unknownSenderGrace{10'000};  // keep messages from a device whose membership we have not seen yet
    bool sendMsgId = true;                // add js-sdk's org.matrix.msgid
};

// Lexicographic comparison of two strings as JavaScript compares them (UTF-16 code units), so
// the offer rule agrees with js-sdk even for non-BMP characters. Invalid UTF-8 falls back to bytes.
int compareAsUtf16(std::string_view a, std::string_view b);
// True iff we place the call to `them` (js-sdk: their_user > my_user || (same user && their_device >
// my_device)).
bool shouldPlaceCall(const UserId& myUser, const DeviceId& myDevice, const UserId& theirUser,
                     const DeviceId& theirDevice);

struct MeshPeerInfo {
    MeshMember member;
    CallId call;
    CallDirection direction;
    CallState state;
};

class MeshCall {
  public:
    enum class State { Idle, Joined, Left };

    // `random` returns a fresh random identifier (call ids, msg ids): 16+ chars of [0-9a-zA-Z].
    MeshCall(MeshSelf self, std::function<std::string()> random, MeshCallConfig config = {});
    ~MeshCall();
    MeshCall(const MeshCall&) = delete;
    MeshCall& operator=(const MeshCall&) = delete;

    CallEffects join(const std::vector<MeshMember>& members, TimePoint now);
    CallEffects onMembersChanged(const std::vector<MeshMember>& members, TimePoint now);
    CallEffects leave(TimePoint now);

    CallEffects onToDevice(const UserId& sender, std::string_view type, const nlohmann::json& content,
                           TimePoint now);

    CallEffects onLocalDescription(const CallId& call, const SessionDescription& description, TimePoint now);
    CallEffects onLocalCandidate(const CallId& call, const IceCandidate& candidate, TimePoint now);
    CallEffects onIceState(const CallId& call, IceConnectionState state, TimePoint now);
    // The media engine failed for this call (e.g. a pipeline error): hang up with user_media_failed.
    CallEffects onMediaFailed(const CallId& call, TimePoint now);
    CallEffects setLocalMetadata(const SdpStreamMetadata& metadata, TimePoint now);
    CallEffects onWakeup(TimePoint now);

    State state() const noexcept { return m_state; }
    std::vector<MeshPeerInfo> peers() const;
    std::optional<TimePoint> nextWakeup() const;

  private:
    struct Peer;
    struct SeqState {  // one remote call's messages, delivered in seq order
        CallId call;
        std::uint64_t next = 0;
        std::map<std::uint64_t, CallMessage> held;
    };
    struct Inbox {                                             // per sender device
        std::vector<SeqState> calls;                           // most recent last, bounded
        std::vector<std::pair<TimePoint, CallMessage>> early;  // sender not (yet) a member with that session
        std::size_t held() const;
    };
    using Key = std::pair<UserId, DeviceId>;

    void setMembers(const std::vector<MeshMember>& members, TimePoint now, CallEffects& out);
    void startOutgoing(const MeshMember& member, TimePoint now, CallEffects& out);
    void absorb(Peer& peer, CallEffects in, TimePoint now, CallEffects& out);
    void dispatch(const Key& from, const CallMessage& m, TimePoint now, CallEffects& out);
    void acceptInvite(const Key& from, const CallMessage& m, TimePoint now, CallEffects& out);
    void sequence(const Key& from, Inbox& inbox, CallMessage m, TimePoint now, CallEffects& out);
    void replayEarly(const Key& from, TimePoint now, CallEffects& out);
    Peer* peerByCall(const CallId& call);
    void reap(TimePoint now);
    CallEffects finish(CallEffects out);

    MeshSelf m_self;
    std::function<std::string()> m_random;
    MeshCallConfig m_config;
    State m_state = State::Idle;
    std::map<Key, MeshMember> m_members;
    std::map<Key, std::unique_ptr<Peer>> m_peers;  // the current call per member device
    std::map<Key, Inbox> m_inbox;                  // per sender device: seq ordering, early messages
    std::map<Key, int> m_retries;
    std::map<Key, TimePoint> m_retryAt;
    std::optional<SdpStreamMetadata> m_localMetadata;
    std::optional<TimePoint> m_announcedWakeup;
};

std::string_view toString(MeshCall::State s);

}  // namespace mxrtc::core
