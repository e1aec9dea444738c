// Internal: the shared media input (MediaInput::Impl). One pipeline decodes/captures/converts the
// source once; its appsinks hand every buffer to the registered consumers (the send chains of the
// peers), which stamp and push it into their own pipelines.
//
//   File      uridecodebin -> per stream: convert -> appsink (sync: real time); EOS: seek to 0 or end
//   Pipeline  <description> -> convert -> appsink (per kind)
//   App       appsrc (pushes, paced by their timestamps) -> convert -> appsink (sync)
//
// Audio leaves as S16LE 48 kHz mono in 20 ms buffers, video as I420 at spec size and rate.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/rtc/media_io.hpp"
#include "rtc/engine_impl.hpp"

namespace mxrtc::rtc {

inline constexpr const char* kRawAudioCaps =
    "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1";
inline constexpr int kRawAudioRate = 48000;

// "video/x-raw,format=I420,width=W,height=H,framerate=F/1,pixel-aspect-ratio=1/1"
std::string rawVideoCaps(int width, int height, int framerate);

// Receives the input's buffers (streaming threads of the input's pipeline). Must not block.
class MediaInputConsumer {
  public:
    virtual ~MediaInputConsumer() = default;
    virtual void consumeAudio(GstBuffer* buffer) = 0;  // borrowed
    virtual void consumeVideo(GstBuffer* buffer) = 0;
};

struct MediaInput::Impl : std::enable_shared_from_this<MediaInput::Impl> {
    Impl(std::shared_ptr<MediaEngine::Impl> engine, MediaInputSpec spec, MediaInputListener listener);
    ~Impl();

    // Caller's thread (create): builds, pre-rolls/starts. Error text on failure.
    std::optional<std::string> open();
    // Any thread. The first consumer starts a file playing.
    void addConsumer(MediaInputConsumer* consumer);
    void removeConsumer(MediaInputConsumer* consumer);
    void stop();

    Result<void> pushAudio(std::span<const std::int16_t> pcm, int channels, int sampleRate);
    Result<void> pushVideo(const I420View& frame, std::optional<std::chrono::microseconds> timestamp);

    // Streaming threads.
    void fanOut(bool audio, GstBuffer* buffer);
    void padAdded(GstPad* pad);
    // GLib thread (bus watch).
    void busMessage(GstMessage* message);

    std::shared_ptr<MediaEngine::Impl> engine;
    MediaInputSpec spec;
    MediaInputListener listener;
    std::atomic<bool> hasAudio{false};
    std::atomic<bool> hasVideo{false};

  private:
    std::optional<std::string> buildFile();
    std::optional<std::string> buildPipeline();
    std::optional<std::string> buildApp();
    // Adds "<convert> ! appsink" for a kind and links `from` (a src pad) to it. Error text on failure.
    std::optional<std::string> addOutput(bool audio, GstPad* from);
    std::optional<std::string> errorFromBus(const std::string& what);
    void teardown();  // GLib thread or caller's (never concurrently)
    GstClockTime runningTime() const;
    void post(std::function<void()> fn);

    GstElement* m_pipeline = nullptr;
    GstElement* m_appAudio = nullptr;  // App: appsrc elements
    GstElement* m_appVideo = nullptr;
    GSource* m_busWatch = nullptr;
    std::atomic<bool> m_stopped{false};
    bool m_ended = false;   // GLib thread
    std::mutex m_padMutex;  // File: pads are added on streaming threads

    std::mutex m_consumersMutex;
    std::vector<MediaInputConsumer*> m_consumers;
    bool m_playing = false;  // under m_consumersMutex

    // App pushes (any thread).
    std::mutex m_pushMutex;
    GstClockTime m_nextAudioPts = GST_CLOCK_TIME_NONE;
    int m_audioChannels = 0;
    int m_audioRate = 0;
    int m_videoWidth = 0;
    int m_videoHeight = 0;
    std::optional<std::int64_t> m_videoOffsetNs;  // running time - app timestamp
    GstClockTime m_lastVideoPts = GST_CLOCK_TIME_NONE;
};

}  // namespace mxrtc::rtc
