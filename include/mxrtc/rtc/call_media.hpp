// CallMedia: performs the media-engine effects of core::PeerCall / core::MeshCall on rtc::Peers
// (one Peer per call id) and reports the engine's callbacks back keyed by call id, on the
// executor. The shell feeds those reports into the core state machine; this class decides nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/core/peer_call.hpp"
#include "mxrtc/rtc/peer.hpp"

namespace mxrtc::rtc {

class CallMedia {
  public:
    struct Events {
        std::function<void(const CallId&, const core::SessionDescription&)> onLocalDescription;
        std::function<void(const CallId&, const core::IceCandidate&)> onLocalCandidate;
        std::function<void(const CallId&, core::IceConnectionState)> onIceState;
        std::function<void(const CallId&, const std::string&)> onDataMessage;
        std::function<void(const CallId&, const std::string&)> onError;
    };

    CallMedia(MediaEngine& engine, MediaOptions options, Events events);
    ~CallMedia();

    // Performs `effect` if it is a media command (CreatePeer, CreateOffer, CreateAnswer,
    // SetRemoteDescription, AddRemoteCandidates, ClosePeer); false for anything else.
    bool perform(const core::CallEffect& effect);

    // E2EE: our key is used by every peer (present and future); a remote's key by its call only
    // (kept until the call's peer closes, so it may come before the peer exists).
    void setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw);
    void setReceiveKey(const CallId& call, std::uint8_t keyIndex, std::span<const std::uint8_t> raw);

    // Keep one peer built and running ahead of time (pipelines, encoders), taken by the next
    // CreatePeer and replaced once that call is connected: saves its set-up time on every new
    // call. Not with recording (files are named per call). Costs one idle pipeline.
    void prewarm();

    Peer* peer(const CallId& call);
    std::vector<CallId> calls() const;
    std::optional<PeerStats> stats(const CallId& call) const;
    void sendData(const std::string& text);  // to every peer
    void closeAll();

  private:
    std::unique_ptr<Peer> makePeer(const MediaOptions& options, std::shared_ptr<std::optional<CallId>> bound);

    MediaEngine& m_engine;
    MediaOptions m_options;
    Events m_events;
    std::map<CallId, std::unique_ptr<Peer>> m_peers;
    std::optional<std::pair<std::uint8_t, std::vector<std::uint8_t>>> m_sendKey;
    std::map<CallId, std::map<std::uint8_t, std::vector<std::uint8_t>>> m_receiveKeys;
    std::unique_ptr<Peer> m_spare;
    std::shared_ptr<std::optional<CallId>> m_spareBinding;
    bool m_prewarmEnabled = false;
};

}  // namespace mxrtc::rtc
