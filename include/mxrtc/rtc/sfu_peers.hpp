// Media for a LiveKit SFU connection (protocol v0: two peer connections per connection), over
// GStreamer 1.22 webrtcbin. No GStreamer and no LiveKit type appears here; the signal session
// (mxrtc::livekit) passes SDP text and candidates in and out.
//
//   SfuPublisher   sendonly: Opus and VP8 from a tone and a test pattern, or from a MediaInput (the
//                  mesh Peer's sources, encoders and frame E2EE). It offers; the SFU answers.
//   SfuSubscriber  no sources: answers the SFU's offers (which carry the SFU's data channels in an
//                  m=application section), decodes every incoming track and accounts it to the
//                  participant the caller maps the track's mid to.
//
// Threads and callbacks as for Peer: commands run in order on the engine's GLib thread, listener
// calls are posted to the engine's Asio executor and stop at close(). Stats are thread-safe.
//
// ICE: host candidates only from the configured addresses (127.0.0.1 by default). webrtcbin 1.22
// cannot restart ICE (it never restarts its libnice streams): after a signal resume that needs an
// ICE restart, make new peers (LiveKit's full reconnect).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/core/call_signalling.hpp"
#include "mxrtc/core/peer_call.hpp"
#include "mxrtc/rtc/peer.hpp"

namespace mxrtc::rtc {

struct TrackMidTag {};
struct ParticipantIdentityTag {};
using TrackMid = StrongId<TrackMidTag>;                        // "1", the a=mid of an m-line
using ParticipantIdentity = StrongId<ParticipantIdentityTag>;  // LiveKit identity, e.g. "@a:b.org:DEV"

// webrtcbin's peer-connection state (ICE and DTLS together), named as in the W3C API.
enum class ConnectionState { New, Connecting, Connected, Disconnected, Failed, Closed };
enum class TrackKind { Audio, Video };

struct SfuPeerListener {
    std::function<void(const std::string& sdp)> onLocalDescription;  // publisher: offer; subscriber: answer
    // With sdpMid and sdpMLineIndex; an empty candidate means gathering is done. Reported after the
    // description it belongs to.
    std::function<void(const core::IceCandidate&)> onLocalCandidate;
    std::function<void(core::IceConnectionState)> onIceState;
    std::function<void(ConnectionState)> onConnectionState;
    std::function<void(const std::string&)> onError;  // media failure: the connection should be dropped
};

// ---- publisher -------------------------------------------------------------------------------------

struct SfuPublisherOptions {
    // Sources (test, or media.input), sizes, key frames, ICE, jitter/pacing, e2ee, initial mutes. Not used:
    // dataChannel, streamId, recordDir, recordPrefix, sinks.
    MediaOptions media;
    bool dataChannels = true;  // "_reliable" (ordered) and "_lossy" (unordered, no retransmits), as
                               // LiveKit clients create them; nothing on them is needed for media
    // The SFU matches an incoming track to an AddTrackRequest by the track id of its msid: our offer
    // carries "a=msid:<streamId> <trackId>" per section, and webrtcbin's "a=ssrc:<n> msid:" lines are
    // rewritten to the same ids. Empty track id: webrtcbin's own lines stay.
    std::string streamId = "mxrtc";
    std::string audioTrackId;  // the audio AddTrackRequest's cid
    std::string videoTrackId;  // the video AddTrackRequest's cid
};

struct SfuPublisherStats {
    std::uint64_t framesEncrypted = 0;  // audio + video
    std::uint64_t videoFramesEncoded = 0;
    std::uint64_t keyFramesEncoded = 0;
    std::uint64_t keyFrameRequests = 0;           // PLI/FIR that reached the send chain as force-key-unit
    std::uint64_t keyFrameRequestsForwarded = 0;  // E2EE: forwarded to the encoder (rate-limited)
    std::optional<std::chrono::steady_clock::time_point> lastKeyFrameAt;
    std::optional<std::chrono::steady_clock::time_point> iceConnectedAt;
    std::chrono::steady_clock::time_point createdAt;
};

class SfuPublisher {
  public:
    SfuPublisher(MediaEngine& engine, SfuPublisherOptions options, SfuPeerListener listener);
    ~SfuPublisher();  // close()
    SfuPublisher(const SfuPublisher&) = delete;
    SfuPublisher& operator=(const SfuPublisher&) = delete;

    // Offer (sendonly audio/video, and the data channels) -> onLocalDescription.
    void createOffer();
    void setRemoteAnswer(const std::string& sdp);
    void addRemoteCandidates(const std::vector<core::IceCandidate>& candidates);
    // Our frame key (LiveKit raw key material; the last one set is used). Thread-safe. With E2EE and
    // no key, nothing is sent.
    void setSendKey(KeyIndex index, std::span<const std::uint8_t> raw);
    // Mute keeps the RTP streams running, as a browser track with enabled=false does: muted audio is
    // digital silence, muted video black frames. The caller also sends LiveKit's MuteTrackRequest;
    // the SFU then stops forwarding the track (and, for encrypted tracks, injects its own frames
    // ending in the JoinResponse's sif_trailer). On unmute the SFU asks for a key frame (PLI).
    void setMuted(TrackKind kind, bool muted);
    // TURN relays from the JoinResponse (livekit::turnServerUris), before the first offer.
    void addTurnServers(std::vector<std::string> uris);
    void close();

    SfuPublisherStats stats() const;

    struct Impl;

  private:
    std::shared_ptr<Impl> m_impl;
};

// ---- subscriber ------------------------------------------------------------------------------------

struct SfuSubscriberOptions {
    std::vector<std::string> iceAddresses{"127.0.0.1"};  // the only host candidates offered
    std::string stunServer;
    bool relayOnly = false;  // only TURN-relayed candidates (MediaOptions::relayOnly)
    std::uint32_t icePacingMs = 0;
    std::uint32_t jitterLatencyMs = 50;
    bool e2ee = false;  // decrypt every frame with its participant's key (unless marked unencrypted)
    // The SFU offers RED, H.264, VP9, AV1, H.265 and RTX too: every offer is cut down to these with
    // livekit::sdp::restrictCodecs before webrtcbin sees it, so our answers name nothing else.
    std::vector<std::string> codecs{"opus", "VP8"};
    // VP8: ask the SFU for a key frame (PLI) when a stream starts and after packet loss, and keep
    // delta frames from the decoder until one arrives.
    bool requestKeyFrames = true;
    // Non-empty: every incoming track is also written (after decryption) to
    // <recordDir>/<identity>_<mid>_<n>.opus.ogg or .vp8.webm, named after the owner of its mid when
    // the track starts; n (per process, skipping names on disk) keeps later tracks on a reused mid
    // (a participant who rejoins) from overwriting earlier files. A track that continues on a
    // transceiver the SFU reuses without a new pad is appended to the same file.
    std::string recordDir;
    // Decoded frames to callbacks (RemoteFrameInfo::identity: the mid's owner at that frame; frames
    // of unmapped mids are not delivered) and/or into a sink pipeline per incoming track.
    MediaSinks sinks;
};

struct SfuParticipantStats {
    std::uint64_t audioBuffersDecoded = 0;
    std::uint64_t audioSamplesDecoded = 0;
    double audioRms = 0.0;  // of the decoded audio over the last ~200 ms (0..1 full scale)
    double audioHz = 0.0;   // dominant frequency of the last ~0.5 s; 0 = silence
    std::uint64_t videoFramesDecoded = 0;
    std::uint64_t videoKeyFrames = 0;
    std::uint64_t framesDecrypted = 0;
    std::uint64_t framesPassedThrough = 0;  // server-injected (sif trailer) or unencrypted participant
    std::uint64_t decryptFailures = 0;      // dropped, never decoded
    std::uint64_t callbackExceptions = 0;   // MediaSinks callbacks that threw
    // Steady-clock times: first mapped to a mid, first decoded audio / video, first decrypted frame.
    std::optional<std::chrono::steady_clock::time_point> mappedAt;
    std::optional<std::chrono::steady_clock::time_point> firstAudioAt;
    std::optional<std::chrono::steady_clock::time_point> firstVideoAt;
    std::optional<std::chrono::steady_clock::time_point> firstDecryptedAt;
};

struct SfuSubscriberStats {
    std::map<ParticipantIdentity, SfuParticipantStats> participants;
    std::uint64_t tracksStarted = 0;   // incoming RTP pads
    std::uint64_t unmappedFrames = 0;  // E2EE: frames dropped because nobody was mapped to their mid
    std::uint64_t dataChannels = 0;    // opened by the remote (the SFU's _reliable/_lossy)
    std::uint64_t dataMessages = 0;
    std::optional<std::chrono::steady_clock::time_point> iceConnectedAt;
    std::chrono::steady_clock::time_point createdAt;
};

class SfuSubscriber {
  public:
    SfuSubscriber(MediaEngine& engine, SfuSubscriberOptions options, SfuPeerListener listener);
    ~SfuSubscriber();  // close()
    SfuSubscriber(const SfuSubscriber&) = delete;
    SfuSubscriber& operator=(const SfuSubscriber&) = delete;

    // Applies the SFU's offer (codecs restricted) and answers -> onLocalDescription. Every new offer
    // may reuse a transceiver for another track: update the mid mapping for it (before or after).
    void setRemoteOffer(const std::string& sdp);
    void addRemoteCandidates(const std::vector<core::IceCandidate>& candidates);

    // Whose frames arrive on a mid (looked up per frame: a remap takes effect at once). A new owner
    // means new keys, so a key frame is asked for on that mid (the decoder saw nothing decodable
    // before). Thread-safe.
    void mapMid(const TrackMid& mid, const ParticipantIdentity& identity);
    void unmapMid(const TrackMid& mid);
    // Keys per participant identity (LiveKit raw key material). Thread-safe.
    void setParticipantKey(const ParticipantIdentity& identity, KeyIndex index,
                           std::span<const std::uint8_t> raw);
    // A participant whose publications say encryption NONE: frames pass through undecrypted.
    void setParticipantEncrypted(const ParticipantIdentity& identity, bool encrypted);
    // JoinResponse.sif_trailer: frames the SFU injects end in it and pass through undecrypted.
    void setServerInjectedTrailer(std::span<const std::uint8_t> trailer);
    // Sends a PLI for the video on this mid (e.g. after a decoder error).
    void requestKeyFrame(const TrackMid& mid);
    // TURN relays from the JoinResponse (livekit::turnServerUris), before the first offer.
    void addTurnServers(std::vector<std::string> uris);
    void close();

    SfuSubscriberStats stats() const;

    struct Impl;

  private:
    std::shared_ptr<Impl> m_impl;
};

}  // namespace mxrtc::rtc
