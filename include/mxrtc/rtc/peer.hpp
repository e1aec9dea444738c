// WebRTC peers over GStreamer 1.22 webrtcbin (edge module "rtc"). No GStreamer type appears here:
// the pipelines live behind a pimpl.
//
// Threads: a MediaEngine runs one GLib main loop on its own thread; every Peer command is
// marshalled onto it, and every GStreamer callback (promises, ICE, pads, data channel, bus) is
// posted to the Boost.Asio executor given to the engine, so listeners run on the shell's executor
// and never concurrently with the core. Listeners are not called after Peer::close().
//
// Media: test sources (audiotestsrc tone -> Opus, videotestsrc -> VP8), or a shared MediaInput
// (media_io.hpp: a file, GStreamer source descriptions, application frames), and a data channel.
// Received audio/video is decoded and measured (buffers, frames, RMS energy, pitch), which is what
// the tests and the CLI report, and optionally handed to MediaSinks (callbacks, sink pipelines). ICE offers
// host candidates only from the configured addresses (127.0.0.1 by default: no private address ever leaves
// the machine), no STUN/TURN.
//
// Frame E2EE (LiveKit format, mxrtc::e2ee): with MediaOptions::e2ee every encoded frame is
// encrypted between encoder and payloader and decrypted between depayloader and decoder. Opus goes
// through a pad probe; VP8 bypasses rtpvp8pay (which parses the frame and fails on ciphertext)
// with our own RFC 7741 packetizer (vp8_payload.hpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/peer_call.hpp"
#include "mxrtc/rtc/media_io.hpp"

namespace mxrtc::rtc {

namespace detail {
struct ImplAccess;  // defined in the library's sources only: the engine's internals are not API
}  // namespace detail

class MediaEngine {
  public:
    // Initialises GStreamer (once per process), checks the elements we need are installed, and
    // starts the GLib main loop thread. Callbacks of every Peer go to `executor`.
    static Result<std::unique_ptr<MediaEngine>> create(boost::asio::any_io_executor executor);
    ~MediaEngine();  // tears down what is still queued, then stops the loop thread
    MediaEngine(const MediaEngine&) = delete;
    MediaEngine& operator=(const MediaEngine&) = delete;

    struct Impl;

  private:
    friend struct detail::ImplAccess;
    explicit MediaEngine(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> m_impl;
};

struct MediaOptions {
    bool audio = true;
    bool video = true;
    bool dataChannel = true;
    double toneFrequency = 440.0;  // Hz of the test tone we send
    int videoWidth = 160;
    int videoHeight = 120;
    int videoFramerate = 15;
    // Periodic VP8 key frames; a receiver that asks (PLI/FIR) gets one at once in any case.
    std::chrono::milliseconds keyFrameInterval{2000};
    std::vector<std::string> iceAddresses{"127.0.0.1"};  // the only host candidates offered
    std::string stunServer;                              // "stun://host:port" for server-reflexive candidates
    // Only relayed (TURN) candidates: the peer never learns our addresses. Needs a TURN server
    // (an SFU's from its JoinResponse); without one the connection fails at ICE.
    bool relayOnly = false;
    bool e2ee = false;                   // encrypt/decrypt every encoded frame (keys below)
    std::uint32_t jitterLatencyMs = 50;  // webrtcbin jitterbuffer latency
    std::uint32_t icePacingMs = 0;       // libnice Ta (connectivity-check pacing); 0 = libnice default (20)
    // MSC3077 stream metadata needs the stream in the SDP: with a streamId our descriptions carry
    // "a=msid:<streamId> <streamId>-audio|video" (webrtcbin 1.22 writes no msid itself).
    std::string streamId;
    // Muted from the start (MSC3291 mute is signalled in the stream metadata): the tone is sent
    // silent, the test pattern black, so what is signalled and what is sent agree.
    bool audioMuted = false;
    bool videoMuted = false;
    // Recording of what the remote sends (after decryption, before decoding): CallMedia names one
    // file pair per peer in recordDir; a Peer writes <recordPrefix>.opus.ogg (Ogg Opus) and
    // <recordPrefix>.vp8.webm (WebM VP8). Both formats stay playable if the process is killed.
    std::string recordDir;
    std::string recordPrefix;
    // What we send instead of the test sources (shared by every peer of a call; null: test
    // sources). `audio`/`video` still decide which sections we send.
    std::shared_ptr<MediaInput> input;
    // What we do with what the remote sends, besides measuring it (media_io.hpp).
    MediaSinks sinks;
};

struct PeerStats {
    std::uint64_t audioBuffersDecoded = 0;
    std::uint64_t audioSamplesDecoded = 0;
    double audioRms = 0.0;  // of the decoded audio over the last ~200 ms (0..1 full scale)
    double audioHz = 0.0;   // dominant frequency of the last ~0.5 s; 0 = silence
    std::uint64_t videoFramesDecoded = 0;
    std::uint64_t videoKeyFrames = 0;  // key frames received (after decryption)
    std::uint64_t dataMessagesReceived = 0;
    std::uint64_t framesEncrypted = 0;
    std::uint64_t framesDecrypted = 0;
    std::uint64_t decryptFailures = 0;  // frames dropped because they did not decrypt
    // Since the Peer was created (steady clock).
    std::optional<Duration> iceConnectedAfter;
    std::optional<Duration> firstAudioAfter;
    std::optional<Duration> firstVideoAfter;
    std::optional<Duration> firstDecryptedAfter;
    std::chrono::steady_clock::time_point createdAt;  // what the durations above count from
};

// What our descriptions carry as MSC3077/MSC3291 stream metadata: the one user-media stream
// (options.streamId) with its mute state; nullopt without a stream id.
std::optional<core::SdpStreamMetadata> streamMetadata(const MediaOptions& options);

class Peer {
  public:
    struct Listener {
        std::function<void(const core::SessionDescription&)> onLocalDescription;
        std::function<void(const core::IceCandidate&)> onLocalCandidate;  // empty candidate = gathering done
        std::function<void(core::IceConnectionState)> onIceState;
        std::function<void(const std::string&)> onDataMessage;
        std::function<void(const std::string&)> onError;  // media failure: the call should end
    };

    Peer(MediaEngine& engine, MediaOptions options, Listener listener);
    ~Peer();  // close()
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    // Commands (performed in order on the GLib thread; results come back through the listener).
    // webrtcbin 1.22 cannot restart ICE: createOffer(true) reports onError, and the call layer
    // recovers by placing a new call (MeshCall retries).
    void createOffer(bool iceRestart = false);
    void createAnswer();
    void setRemoteDescription(const core::SessionDescription& description);
    void addRemoteCandidates(const std::vector<core::IceCandidate>& candidates);
    void sendData(const std::string& text);
    // E2EE keys (LiveKit raw key material, HKDF-derived inside the cryptor). Thread-safe.
    void setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw);
    void setReceiveKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw);
    // Who the remote is, as frame callbacks (MediaSinks) report it. Thread-safe; may change (a
    // prewarmed peer learns its member when a call takes it).
    void setRemoteParticipant(const std::string& user, const std::string& device);
    void close();

    PeerStats stats() const;  // thread-safe snapshot

    struct Impl;

  private:
    std::shared_ptr<Impl> m_impl;
};

}  // namespace mxrtc::rtc
