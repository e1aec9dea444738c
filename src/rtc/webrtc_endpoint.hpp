// Internal: one webrtcbin in its own pipeline, the plumbing every peer shares (the mesh Peer, the
// SFU publisher and subscriber): pipeline build and teardown, host-only ICE on the configured
// addresses, create/set descriptions through GstPromise, trickled candidates with their mid, ICE and
// connection state, bus errors. GStreamer callbacks are turned into events posted to the Asio
// executor; nothing is posted once close() has been called.
//
// Threads: build/teardown and every command run on the engine's GLib thread (whenBuilt()); webrtcbin
// signals arrive on its own threads; events run on the executor. Derived classes hook in through the
// virtual functions below (all called on GStreamer threads).
#pragma once

#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API  // gst/webrtc is "unstable" API in 1.22
#endif
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/core/call_signalling.hpp"
#include "mxrtc/rtc/peer.hpp"
#include "mxrtc/rtc/sfu_peers.hpp"
#include "rtc/engine_impl.hpp"

namespace mxrtc::rtc {

using SteadyClock = std::chrono::steady_clock;

// What an endpoint reports; run on the Asio executor, never after close().
struct EndpointEvents {
    std::function<void(const core::SessionDescription&)> onLocalDescription;
    std::function<void(const core::IceCandidate&)> onLocalCandidate;  // empty candidate = gathering done
    std::function<void(core::IceConnectionState)> onIceState;
    std::function<void(ConnectionState)> onConnectionState;
    std::function<void(const std::string&)> onError;
};

struct SfuPeerListener;
// An SFU peer's listener (sfu_peers.hpp) as endpoint events: descriptions reported as their SDP.
EndpointEvents endpointEventsOf(const SfuPeerListener& l);

struct IceOptions {
    std::vector<std::string> addresses{"127.0.0.1"};  // the only host candidates offered
    std::string stunServer;                           // "stun://host:port", empty = none
    std::uint32_t pacingMs = 0;                       // libnice Ta; 0 = libnice default
    bool relayOnly = false;                           // ice-transport-policy=relay
};

class WebrtcEndpoint : public std::enable_shared_from_this<WebrtcEndpoint> {
  public:
    WebrtcEndpoint(std::shared_ptr<MediaEngine::Impl> engine, EndpointEvents events);
    virtual ~WebrtcEndpoint() = default;
    WebrtcEndpoint(const WebrtcEndpoint&) = delete;
    WebrtcEndpoint& operator=(const WebrtcEndpoint&) = delete;

    // ---- any thread
    // Queues `fn` on the GLib thread; it runs only if the pipeline was built and is not torn down.
    void whenBuilt(std::function<void()> fn);
    // Queues the build: parses `description` (which names a "webrtcbin name=webrtc"), configures ICE,
    // connects the signals, calls attach(), sets PLAYING. Failures are reported through onError.
    void start(std::string description, IceOptions ice);
    // TURN relays ("turn://user:pass@host:port?transport=udp"), added once the pipeline is built and
    // before any description: the SFU's come with its JoinResponse, after the peers were prebuilt.
    void addTurnServers(std::vector<std::string> uris);
    // Stops every event and queues the teardown. Idempotent.
    void close();
    bool closed() const noexcept { return m_closed.load(); }
    SteadyClock::time_point createdAt() const noexcept { return m_created; }
    std::optional<SteadyClock::time_point> iceConnectedAt() const;

    // ---- GLib thread (inside whenBuilt)
    void createDescription(core::SdpType type);
    void setRemoteDescription(core::SdpType type, const std::string& sdp);
    // A candidate without an mline index is placed by its sdpMid in the remote description.
    void addRemoteCandidates(const std::vector<core::IceCandidate>& candidates);
    GstElement* pipeline() const noexcept { return m_pipeline; }
    GstElement* webrtc() const noexcept { return m_webrtc; }

    // ---- any thread: report to the executor (dropped once closed)
    void fail(std::string what);
    // Runs `fn` on the executor unless the endpoint is closed by then.
    void post(std::function<void()> fn);

    // ---- hooks for the signal trampolines (GStreamer threads)
    void handleCandidate(guint mline, const char* candidate);
    void handleIceState();
    void handleConnectionState();
    void handleGatheringState();
    void handleDescriptionCreated(GstPromise* promise, core::SdpType type);
    void handleBusMessage(GstMessage* message);
    void tuneNiceAgent(GstElement* element);
    virtual void onIncomingPad(GstPad* /*pad*/) {}
    virtual void onDataChannel(GstWebRTCDataChannel* /*channel*/) {}

  protected:
    // After parsing, before PLAYING: find elements, install probes and callbacks. False = failed
    // (the derived class has reported why).
    virtual bool attach() { return true; }
    // Rewrites our description before it is reported (the applied one stays webrtcbin's own).
    virtual std::string mungeLocalDescription(core::SdpType /*type*/, std::string sdp) { return sdp; }
    // The pipeline is in NULL state: drop references to its elements and disconnect their signals.
    virtual void releaseElements() {}

  private:
    void build(const std::string& description, const IceOptions& ice);
    void teardown();

    std::shared_ptr<MediaEngine::Impl> m_engine;
    EndpointEvents m_events;
    SteadyClock::time_point m_created = SteadyClock::now();
    std::atomic<bool> m_closed{false};

    // GLib thread.
    GstElement* m_pipeline = nullptr;
    GstElement* m_webrtc = nullptr;
    GSource* m_busWatch = nullptr;
    bool m_torndown = false;
    std::uint32_t m_icePacingMs = 0;

    std::mutex m_midsMutex;
    std::vector<std::string> m_localMids;
    std::vector<std::string> m_remoteMids;

    mutable std::mutex m_stateMutex;
    std::optional<SteadyClock::time_point> m_iceConnectedAt;
};

// Sends a force-key-unit request upstream from `pad` (a webrtcbin src pad: rtpsession turns it into a
// PLI or FIR to the sender) or to an encoder's src pad (the next frame is a key frame).
void requestKeyUnit(GstPad* pad);

}  // namespace mxrtc::rtc
