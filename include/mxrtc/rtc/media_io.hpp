// Media in and out of the rtc peers, for applications (no GStreamer type appears here).
//
//   MediaInput   what we send, shared by every peer of a call: a file (anything GStreamer decodes,
//                looped or once), GStreamer source descriptions (a device: "pulsesrc",
//                "v4l2src device=/dev/video0", or any pipeline), or frames the application pushes
//                (PCM, I420). It is decoded and converted once (48 kHz mono S16 audio in 20 ms
//                buffers, I420 video at the configured size and rate) and handed to the send chain
//                of each peer, which encodes it (Opus, VP8) for its own connection.
//   MediaSinks   what we do with what each remote sends, besides measuring it: decoded frames to
//                callbacks, and/or into a GStreamer sink description per incoming track.
//
// Threads: MediaInput::pushAudio/pushVideo may be called from any thread. Sink callbacks run on a
// GStreamer streaming thread of the receiving peer (one per incoming track) and must not block:
// the queue in front of them drops the oldest frames when a callback falls behind.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "mxrtc/common/result.hpp"

namespace mxrtc::rtc {

namespace detail {
struct ImplAccess;  // the library's own access to Impl (src/rtc/engine_impl.hpp)
}  // namespace detail

class MediaEngine;

// Error code of a push refused because too much media is already queued (retry later).
inline constexpr const char* kQueueFullErrcode = "MXRTC_QUEUE_FULL";

// One I420 picture, read-only, valid for the duration of the call it is passed to.
struct I420View {
    int width = 0;
    int height = 0;
    std::array<const std::uint8_t*, 3> planes{};  // Y, U, V
    std::array<int, 3> strides{};                 // bytes per row of each plane
};

// Who a received frame comes from.
struct RemoteFrameInfo {
    std::string identity;  // SFU: the LiveKit identity its track is mapped to; mesh: ""
    std::string user;      // mesh: the peer's member (Matrix user id and device id); SFU: ""
    std::string device;
    std::chrono::nanoseconds pts{0};  // stream time of the frame in the receiving pipeline
};

struct MediaSinks {
    // Decoded audio: 48 kHz, mono, signed 16-bit samples, one Opus packet per call (20 ms from
    // mxrtc and browsers).
    std::function<void(const RemoteFrameInfo&, std::span<const std::int16_t>)> onAudio;
    // Decoded video, I420 at the size the sender encodes.
    std::function<void(const RemoteFrameInfo&, const I420View&)> onVideo;
    // GStreamer sink descriptions, one instance per incoming track, fed decoded raw audio (any
    // format/rate audioconvert/audioresample can produce) or raw video (after videoconvert), e.g.
    // "autoaudiosink", "fakesink", "videoconvert ! x264enc ! mp4mux ! filesink location=a.mp4".
    std::string audioPipeline;
    std::string videoPipeline;

    bool any() const { return onAudio || onVideo || !audioPipeline.empty() || !videoPipeline.empty(); }
};

struct MediaInputSpec {
    enum class Kind {
        File,      // `path`, decoded by uridecodebin; audio and/or video, whichever the file has
        Pipeline,  // `audioPipeline` and/or `videoPipeline`: GStreamer source descriptions
        App,       // the application pushes frames (pushAudio/pushVideo)
    };
    Kind kind = Kind::App;
    std::string path;
    bool loop = true;  // File: start again at the end; false: play once, then onEnded
    std::string audioPipeline;
    std::string videoPipeline;
    bool audio = true;  // App: tracks the application pushes
    bool video = true;
    // What the encoders get (video is scaled, letterboxed and rate-converted to this).
    int width = 160;
    int height = 120;
    int framerate = 15;
    // App: how much pushed media may wait to be sent (pushes beyond it are refused).
    std::chrono::milliseconds maxQueued{500};
};

struct MediaInputListener {
    std::function<void()> onEnded;                    // File, once: played to its end
    std::function<void(const std::string&)> onError;  // the source failed while running
};

class MediaInput {
  public:
    // Builds and checks the source: a file must exist and decode (pre-rolled here, so a missing
    // decoder is reported now), descriptions must parse and start (a missing device fails here).
    // Errors are one line naming the source and what is wrong. Blocks until the source is ready
    // (a file: milliseconds; at most a few seconds). Listener calls run on the engine's executor.
    // A file starts playing when the first peer takes its media; pipelines and App at once.
    static Result<std::shared_ptr<MediaInput>> create(MediaEngine& engine, MediaInputSpec spec,
                                                      MediaInputListener listener);
    ~MediaInput();  // stop()
    MediaInput(const MediaInput&) = delete;
    MediaInput& operator=(const MediaInput&) = delete;

    const MediaInputSpec& spec() const;
    bool hasAudio() const;  // File: what the file has; Pipeline: the descriptions given; App: spec
    bool hasVideo() const;

    // App: any thread. Interleaved PCM (1 or 2 channels, any rate; converted to 48 kHz mono).
    // Audio is sent in real time, in push order: pushing faster than real time queues it (paced
    // out), and a push that would queue more than spec.maxQueued is refused (nothing of it is
    // queued). Pushing slower leaves gaps (silence at the receivers).
    Result<void> pushAudio(std::span<const std::int16_t> pcm, int channels = 1, int sampleRate = 48000);
    // App: any thread. The frame is copied and scaled to spec.width x spec.height. With a
    // timestamp (any monotonic clock of the application), frames are sent at the pace their
    // timestamps give (the first at once); without, when pushed. A frame that would wait longer
    // than spec.maxQueued is refused.
    Result<void> pushVideo(const I420View& frame, std::optional<std::chrono::microseconds> timestamp = {});

    // Stops the source (pipelines are torn down, pushes are refused). Idempotent.
    void stop();

    struct Impl;

  private:
    friend struct detail::ImplAccess;
    explicit MediaInput(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> m_impl;
};

// Checks a sink description (MediaSinks::audioPipeline/videoPipeline) parses and has an input;
// the error names what is wrong (e.g. 'no element "autoaudiosnk"').
Result<void> checkSinkPipeline(MediaEngine& engine, const std::string& description);

}  // namespace mxrtc::rtc
