// One connection to a LiveKit SFU: the sans-I/O livekit::SignalSession run for real, with a
// WebSocket (net::WebSocket, protobuf frames) and the two webrtcbin peers of protocol v0
// (SfuPublisher when publishing, SfuSubscriber always). It decides nothing itself: it performs the
// session's effects, feeds back what the socket and the peers report, and arms one timer.
//
// Credentials (SFU URL + JWT) come from a provider the owner gives (the focus's authorisation
// service); a full rejoin asks for fresh ones, so a restarted SFU whose room must be created again
// by the service is handled too. Everything runs on the engine's executor; no locking.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/common/result.hpp"
#include "mxrtc/livekit/messages.hpp"
#include "mxrtc/livekit/signal_session.hpp"
#include "mxrtc/rtc/livekit_jwt.hpp"
#include "mxrtc/rtc/sfu_peers.hpp"

namespace mxrtc::rtc {

struct LiveKitConnectionConfig {
    std::string name;  // for reports: the focus's service URL
    bool publish = true;
    MediaOptions media;     // what we send (publishing) and ICE/jitter/E2EE settings for both peers
    std::string recordDir;  // record every subscribed track here ("" = no)
    livekit::SignalSessionConfig signal;
    std::string streamId = "mxrtc";  // our msid stream
};

// A remote participant on this SFU as the subscriber sees it.
struct LiveKitRemote {
    std::string identity;
    std::string sid;
    std::vector<livekit::TrackInfo> tracks;
    SfuParticipantStats stats;
};

struct LiveKitConnectionListener {
    std::function<void(livekit::SignalState, const std::string& detail)> onState;
    std::function<void(const livekit::ParticipantInfo&)> onParticipantJoined;
    std::function<void(const livekit::ParticipantInfo&)> onParticipantLeft;
    // A remote track appeared, changed its mute state or went away: "published", "muted",
    // "unmuted", "unpublished".
    std::function<void(const std::string& identity, const livekit::TrackInfo&, const std::string& change)>
        onTrack;
    std::function<void(const std::string& text)> onWarning;
    // Terminal: the session closed (left, or failed: `error`).
    std::function<void(const std::string& detail, bool error)> onClosed;
};

class LiveKitConnection {
  public:
    using CredentialsProvider = std::function<boost::asio::awaitable<Result<SfuCredentials>>(bool fresh)>;

    LiveKitConnection(MediaEngine& engine, LiveKitConnectionConfig config, CredentialsProvider credentials,
                      LiveKitConnectionListener listener);
    ~LiveKitConnection();  // closes socket and peers without a leave message
    LiveKitConnection(const LiveKitConnection&) = delete;
    LiveKitConnection& operator=(const LiveKitConnection&) = delete;

    void start();
    // Sends LeaveRequest, closes the socket and the peers. Listeners stop.
    void leave();

    // E2EE keys: ours (publisher) and each remote participant's (subscriber), by LiveKit identity.
    void setSendKey(KeyIndex index, std::span<const std::uint8_t> raw);
    void setParticipantKey(const std::string& identity, KeyIndex index, std::span<const std::uint8_t> raw);
    void setMuted(TrackKind kind, bool muted);

    livekit::SignalState state() const;
    std::string identity() const;  // ours on this SFU (the JWT's sub), once known
    std::vector<LiveKitRemote> remotes() const;
    std::optional<SfuPublisherStats> publisherStats() const;
    std::chrono::steady_clock::time_point startedAt() const;

    struct Impl;

  private:
    std::shared_ptr<Impl> m_impl;
};

}  // namespace mxrtc::rtc
