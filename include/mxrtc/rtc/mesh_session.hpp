// MeshSession: the mesh backend (focus type "mesh", MSC3401) on a live Matrix call. It runs
// core::MeshCall for the member list the CallShell follows, carries MeshCall's MSC2746 messages as
// to-device messages (Olm-encrypted when an OlmTransport is given), performs the media effects on
// real webrtcbin peers (CallMedia) and feeds the E2EE media keys the KeyManager hands out into the
// frame cryptors: our key for every peer, each member's key for the peer of that member.
//
// Everything is decided by core::MeshCall; this class only moves messages, keys and timers, on the
// Client's executor (the CallShell's), so no locking is needed.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/core/mesh_call.hpp"
#include "mxrtc/core/session.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/olm_transport.hpp"
#include "mxrtc/rtc/call_media.hpp"
#include "mxrtc/rtc/peer.hpp"

namespace mxrtc::rtc {

struct MeshSessionConfig {
    MediaOptions media;
    core::MeshCallConfig mesh = defaultMeshConfig();
    // With an OlmTransport: refuse plaintext m.call.* to-device messages (js-sdk sends them plain,
    // so this is off by default).
    bool requireEncryptedSignalling = false;
    std::size_t maxEarlyMessages = 256;  // buffered before our own membership is seen
    bool prewarm = true;                 // keep a peer pipeline ready (CallMedia::prewarm)

    static core::MeshCallConfig defaultMeshConfig();
};

struct MeshPeerReport {
    UserId user;
    DeviceId device;
    CallId call;
    core::CallState state;
    PeerStats stats;
    // From the moment both memberships (theirs and ours) were seen to the first frame we
    // decrypted (E2EE) or decoded (clear) from this peer.
    std::optional<Duration> memberSeenToFirstFrame;
    std::optional<Duration> memberSeenToFirstVideo;  // first decoded video frame, same origin
    std::optional<Duration> memberSeenToConnected;   // ICE connected, same origin
};

struct MeshEvent {
    enum class Kind { PeerStarted, PeerState, PeerEnded, Dropped, Warning, RemoteMedia };
    Kind kind;
    std::string user;
    std::string device;
    std::string detail;  // state name, hangup reason, drop reason, warning text, remote streams
};

// "m.usermedia audio on, video muted" per stream (diagnostics).
std::string describeMetadata(const core::SdpStreamMetadata& metadata);

class MeshSession {
  public:
    using Listener = std::function<void(const MeshEvent&)>;

    // `olm` (optional, not owned): send the signalling Olm-encrypted and check that encrypted
    // messages come from the device they claim.
    MeshSession(matrix::Client& client, matrix::LoginSession self, SlotId slot, MediaEngine& engine,
                MeshSessionConfig config, matrix::OlmTransport* olm, Listener listener);
    ~MeshSession();
    MeshSession(const MeshSession&) = delete;
    MeshSession& operator=(const MeshSession&) = delete;

    // Feed from the CallShell: every update (members, keys) with the shell's current call view,
    // and every to-device message the shell does not consume itself.
    void onCallUpdate(const matrix::CallUpdate& update, const core::RoomCalls& calls);
    void onToDevice(const matrix::ReceivedToDevice& message);
    // Hang up on every peer (sends m.call.hangup) and close the media.
    void leave();

    std::vector<MeshPeerReport> peers() const;

  private:
    using Key = std::pair<UserId, DeviceId>;
    using SteadyTime = std::chrono::steady_clock::time_point;
    struct Outgoing {
        std::string type;
        nlohmann::json content;
    };

    void syncMembers(const core::RoomCalls& calls);
    void execute(core::CallEffects effects);
    void applyKeys(const Key& member);
    void enqueue(core::SendToDevice message);
    boost::asio::awaitable<void> drain(Key to);
    boost::asio::awaitable<void> timerLoop();
    void warn(const std::string& user, const std::string& device, std::string text);

    matrix::Client& m_client;
    matrix::LoginSession m_self;
    SlotId m_slot;
    MeshSessionConfig m_config;
    matrix::OlmTransport* m_olm;
    Listener m_listener;
    std::unique_ptr<CallMedia> m_media;
    std::unique_ptr<core::MeshCall> m_mesh;
    std::string m_sessionId;  // our current session (membership id + created_ts)
    std::optional<SteadyTime> m_ownSeenAt;
    std::map<Key, SteadyTime> m_memberSeenAt;
    std::map<CallId, Key> m_memberOf;  // peer call -> remote member device
    std::map<Key, std::map<std::uint8_t, std::vector<std::uint8_t>>> m_remoteKeys;
    std::optional<std::pair<std::uint8_t, std::vector<std::uint8_t>>> m_ownKey;
    std::vector<matrix::ReceivedToDevice> m_early;  // before our own membership is seen
    std::map<Key, std::deque<Outgoing>> m_outbox;
    std::map<Key, bool> m_sending;
    boost::asio::steady_timer m_timer;
    std::shared_ptr<bool> m_alive;
};

}  // namespace mxrtc::rtc
