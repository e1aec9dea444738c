// mxrtc::call::Call — one object that joins a room's MatrixRTC call: our membership (with its
// MSC4140 delayed leave), who else is in the call, E2EE media keys over Olm, and the media backend
// the call's focus asks for (a WebRTC full mesh, or a LiveKit SFU). This is the API an application
// uses; the `mxrtc join-call` command is built on it.
//
//   matrix::Client client(io.get_executor(), session.homeserver);
//   client.setAccessToken(session.accessToken);
//   call::CallConfig config{.room = room, .media = {.source = call::MediaSource::Test}};
//   auto made = co_await call::Call::create(client, session, config, [](const call::CallEvent& e) {
//       std::cout << call::describe(e) << "\n";
//   });
//   if (!made) { /* made.error().message says which step failed */ }
//   auto& c = *made.value();
//   // … later, e.g. from a signal handler: c.leave();
//   co_return co_await c.run();  // 0 after a clean leave
//
// Threads: everything runs on the executor of the given matrix::Client (the caller's
// boost::asio::io_context; use one thread or a strand). Events are delivered on that executor,
// never concurrently. Media (GStreamer) runs on its own threads inside. Two exceptions, both for
// media: pushAudio/pushVideo may be called from any thread, and the frame callbacks of MediaConfig
// (onAudioFrame/onVideoFrame) run on media threads.
// Secrets (access tokens, keys, JWTs) never appear in events: keys are given as fingerprints.
//
// Media in and out (MediaConfig): send a test tone and pattern, a file, a GStreamer source
// (a device), or frames the application pushes; receive each participant's decoded frames in
// callbacks, into GStreamer sinks, or as recordings.
//
//   config.media.source = call::MediaSource::App;
//   config.media.onAudioFrame = [](const call::ParticipantFrameInfo& who, std::span<const std::int16_t> pcm)
//   {
//       /* 48 kHz mono from who.user/who.device; copy it, do not block */
//   };
//   … c.pushAudio(pcm20ms);   // from a capture thread, in real time
//   … c.pushVideo(call::I420Frame::contiguous(buffer, 640, 480));
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/call/events.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/core/session.hpp"
#include "mxrtc/matrix/client.hpp"

namespace mxrtc::call {

enum class MediaSource {
    None,      // no media: membership, keys and signalling only
    Test,      // a sine tone (Opus) and a moving test pattern (VP8)
    File,      // MediaConfig::file: audio and/or video, whichever it has (anything GStreamer decodes)
    Pipeline,  // MediaConfig::audioPipeline/videoPipeline: GStreamer source descriptions (devices, …)
    App,       // the application pushes frames: Call::pushAudio / Call::pushVideo
    Receive,   // send nothing, receive and decode everyone (recorders, monitors): the sinks below
};

// One I420 picture: three planes (Y full size, U and V half width and height, rounded up), each
// row `stride` bytes apart. Read-only, valid only during the call it is given to.
struct I420Frame {
    int width = 0;
    int height = 0;
    const std::uint8_t* y = nullptr;
    const std::uint8_t* u = nullptr;
    const std::uint8_t* v = nullptr;
    int strideY = 0;
    int strideU = 0;
    int strideV = 0;

    // The planes of one contiguous buffer, packed without padding (Y, then U, then V).
    static I420Frame contiguous(const std::uint8_t* data, int width, int height) {
        const int cw = (width + 1) / 2;
        const int ch = (height + 1) / 2;
        const auto ySize = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
        const auto cSize = static_cast<std::size_t>(cw) * static_cast<std::size_t>(ch);
        return {width, height, data, data + ySize, data + ySize + cSize, width, cw, cw};
    }
};

// Who sent a received frame: the member (mesh: the peer's device; LiveKit: the member whose
// identity the track belongs to, or the bare identity as `user` for a participant without a
// membership) and its LiveKit identity ("" on mesh calls).
struct ParticipantFrameInfo {
    UserId user;
    DeviceId device;
    std::string identity;
    std::chrono::nanoseconds pts{0};  // stream time in the receiving pipeline
};

// Call::pushAudio/pushVideo refused the frame because too much is queued already: push slower.
inline constexpr const char* kMediaQueueFull = "MXRTC_QUEUE_FULL";

struct MediaConfig {
    MediaSource source = MediaSource::None;
    double toneHz = 0;  // 0: derived from our device id (300..900 Hz), so participants sound different
    // What the video encoder gets (any source is scaled, letterboxed and rate-converted to it).
    int width = 160;
    int height = 120;
    int framerate = 15;
    // Periodic video key frames. A new receiver does not wait for one: its key-frame request (PLI,
    // through the SFU too) makes the encoder send one at once, so longer intervals save bandwidth.
    std::chrono::milliseconds keyFrameInterval{2000};

    // MediaSource::File: the file, and whether it starts again at its end. Played once, its end is
    // reported (MediaEnded); the call goes on (send nothing) until the application leaves. It
    // starts playing when the media of the call is set up (the first peer or SFU connection).
    std::string file;
    bool loop = true;
    // MediaSource::Pipeline: GStreamer source descriptions, either or both, converted to what
    // the encoders need, e.g. "pulsesrc", "v4l2src device=/dev/video0",
    // "filesrc location=a.ogg ! decodebin". Each must end in an element with an unlinked src pad.
    std::string audioPipeline;
    std::string videoPipeline;
    // MediaSource::App: which tracks the application pushes (LiveKit publishes only these), and how
    // far ahead of real time pushed media may be queued before a push is refused (kMediaQueueFull).
    bool appAudio = true;
    bool appVideo = true;
    std::chrono::milliseconds appMaxQueued{500};

    // Received media, per remote participant. The callbacks run on a media thread (one per
    // incoming track; audio and video of one participant on different threads), must be
    // thread-safe and must not block: each sits behind a queue that drops the oldest frames when
    // the callback falls behind. An exception thrown from one is caught and counted. None runs
    // once ~Call has returned (it waits for one in progress: do not destroy the Call from one).
    // Audio: decoded, 48 kHz mono signed 16-bit, one Opus packet per call (20 ms from mxrtc and
    // browsers). Video: decoded I420, at the size the sender encodes.
    std::function<void(const ParticipantFrameInfo&, std::span<const std::int16_t>)> onAudioFrame;
    std::function<void(const ParticipantFrameInfo&, const I420Frame&)> onVideoFrame;
    // GStreamer sink descriptions, one instance per incoming track, fed decoded raw audio (after
    // audioconvert/audioresample) or raw video (after videoconvert): "autoaudiosink",
    // "fakesink", "videoconvert ! autovideosink", "vp8enc ! webmmux ! filesink location=v.webm".
    std::string audioSinkPipeline;
    std::string videoSinkPipeline;

    bool muteAudio = false;  // join muted (mesh: MSC3291 metadata; LiveKit: muted tracks)
    bool muteVideo = false;
    std::string recordDir;  // write what each participant sends (Ogg Opus + WebM VP8); "" = do not
    // LAN / loopback tuning: 10 ms jitter buffer and 5 ms ICE check pacing.
    bool lowLatency = false;
    // Addresses to offer ICE host candidates on (default 127.0.0.1 only) and an optional STUN
    // server ("stun://host:port"), for calls between machines.
    std::vector<std::string> iceAddresses;
    std::string stunServer;
    // Relayed candidates only (TURN from the SFU's JoinResponse): hides our addresses from the SFU
    // and the other side; fails at ICE where no TURN server is offered.
    bool relayOnly = false;
};

// Which backend carries the media, as our membership announces it.
struct FocusConfig {
    enum class Kind {
        Auto,     // the homeserver's advertised LiveKit transport (MSC4143 rtc/transports, then
                  // .well-known rtc_foci); none advertised: no focus (membership/keys only)
        Mesh,     // full mesh (MSC3401): peers connect directly, signalling over to-device
        LiveKit,  // a LiveKit SFU reached through the authorisation service at `liveKitServiceUrl`
    };
    Kind kind = Kind::Auto;
    std::string liveKitServiceUrl;
    // LiveKit: oldest_membership (everyone meets on the oldest member's SFU) or multi_sfu (Element
    // Call 0.26: publish on our own SFU). Either way we subscribe on every SFU a member publishes on.
    core::FocusSelection selection = core::FocusSelection::OldestMembership;
};

struct CallConfig {
    RoomId room;
    FocusConfig focus;
    MediaConfig media;
    bool watchOnly = false;             // follow the call without joining it
    std::optional<std::string> intent;  // m.call.intent ("audio" | "video")
    Duration delayedLeave{8'000};       // MSC4140: the server removes us this long after we vanish
    // E2EE media keys exchanged Olm-encrypted with every member device (Element Call's scheme).
    // The Olm account lives in `profileDir` (olm.db), its pickles encrypted with $MXRTC_PICKLE_KEY
    // or a generated <profileDir>/pickle.key (mode 0600).
    bool e2ee = false;
    std::string profileDir;
    enum class KeyTransport { ToDevice, RoomEvent };  // RoomEvent: legacy Megolm room events
    KeyTransport keyTransport = KeyTransport::ToDevice;
    // Resume /sync from a stored token and report new ones (for the caller to persist).
    std::string initialSyncToken;
    std::function<void(const std::string&)> onSyncToken;
};

class Call {
  public:
    using EventHandler = std::function<void(const CallEvent&)>;

    // Resolves the focus, opens the Olm account (e2ee) and the media engine. Fails with a one-line
    // message naming the step (e.g. "no GStreamer element 'vp8enc' (apt-get install …)").
    static boost::asio::awaitable<Result<std::unique_ptr<Call>>> create(matrix::Client& client,
                                                                        matrix::LoginSession self,
                                                                        CallConfig config,
                                                                        EventHandler onEvent);
    ~Call();
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

    // Joins (unless watchOnly) and follows the call until leave(); returns 0 after a clean leave,
    // 1 if the call failed (the last CallFailed event says why).
    boost::asio::awaitable<int> run();
    // Leaves: media first (peers hang up, the SFU connection closes), then our membership. Safe to
    // call more than once, and from a handler posted to the executor (e.g. on SIGINT).
    void leave();

    // Mute or unmute what we send (LiveKit: the track is muted on the SFU, which others see; the
    // encoder keeps running so unmuting is instant). Fails on mesh calls (not implemented there yet)
    // and without media.
    enum class Track { Audio, Video };
    Result<void> setMuted(Track track, bool muted);

    // MediaSource::App: send interleaved 16-bit PCM (1 or 2 channels, any rate from 8 kHz; it is
    // converted to 48 kHz mono for Opus). Thread-safe, any thread, never blocks. Audio goes out in
    // real time in push order: push 10-20 ms chunks as they are produced, or larger ones ahead of
    // time up to appMaxQueued (beyond it the push is refused with kMediaQueueFull and nothing of
    // it is queued: retry later). Gaps between pushes are heard as silence. Fails after leave().
    Result<void> pushAudio(std::span<const std::int16_t> pcm, int channels = 1, int sampleRate = 48000);
    // MediaSource::App: send one I420 picture (copied; any size, scaled to width x height).
    // Thread-safe, any thread, never blocks. With a timestamp (any monotonic clock of the
    // application, e.g. the capture time) pictures go out at the pace their timestamps give, up
    // to appMaxQueued ahead (beyond: kMediaQueueFull); without, when pushed. Fails after leave().
    Result<void> pushVideo(const I420Frame& frame, std::optional<std::chrono::microseconds> timestamp = {});

    // Media per remote participant right now (empty without media).
    std::vector<ParticipantMedia> media() const;
    // The call as the room state shows it (members, their foci), for reports.
    const core::RoomCalls& calls() const;
    // The transport our membership announces (nullopt: none).
    std::optional<core::Transport> focus() const;

    struct Impl;

  private:
    explicit Call(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Transport discovery (MSC4143 `rtc/transports`, then `.well-known/matrix/client` rtc_foci): the
// first LiveKit transport the homeserver advertises.
boost::asio::awaitable<std::optional<core::Transport>> discoverLiveKitTransport(matrix::Client& client);

}  // namespace mxrtc::call
