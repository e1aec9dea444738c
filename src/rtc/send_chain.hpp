// Internal: what we send, shared by the mesh Peer and the SFU publisher, linked into the webrtcbin
// named "webrtc": a tone (audiotestsrc) and a test pattern (videotestsrc), or, with a MediaInput
// (file, pipeline, application frames), appsrcs the input feeds raw audio and video into. Audio is
// encoded to Opus, video to VP8.
//
// MediaInput buffers are re-stamped on arrival with this pipeline's running time (audio gaplessly,
// re-anchored when it drifts > kAudioResync), so the input's own timeline (a looping file) never
// reaches the encoders. The appsrcs keep only the newest few buffers: while webrtcbin holds its
// input (before the transport is up) older ones are dropped.
//
// E2EE (LiveKit frame format): Opus frames are encrypted by a probe between encoder and payloader;
// VP8 frames go appsink -> FrameEncryptor -> our RFC 7741 packetizer -> appsrc, because rtpvp8pay
// parses the frame and fails on ciphertext. Key-frame requests: on PLI/FIR webrtcbin's rtpsession
// sends a GstForceKeyUnit event upstream. rtpvp8pay passes it on to vp8enc; appsrc would drop it, so
// with E2EE a probe on the appsrc forwards it to the encoder (rate-limited).
#pragma once

#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API
#endif
#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/e2ee/frame_cryptor.hpp"
#include "mxrtc/rtc/peer.hpp"
#include "rtc/media_source.hpp"

namespace mxrtc::rtc {

inline constexpr int kOpusPayloadType = 96;
inline constexpr int kVp8PayloadType = 97;
// Key-frame requests closer together than this are answered by the key frame already on its way.
inline constexpr std::chrono::milliseconds kMinKeyFrameRequestInterval{100};
// E2EE VP8: frames queued in our appsrc beyond this are dropped (webrtcbin is not taking them yet).
inline constexpr GstClockTime kMaxQueuedVideo = 100 * GST_MSECOND;
// MediaInput audio whose arrival drifts this far from its gapless timeline is re-anchored.
inline constexpr GstClockTime kAudioResync = 60 * GST_MSECOND;

struct SendOptions {
    bool audio = true;
    bool video = true;
    double toneFrequency = 440.0;
    int videoWidth = 160;
    int videoHeight = 120;
    int videoFramerate = 15;
    std::chrono::milliseconds keyFrameInterval{2000};  // periodic key frames (vp8enc keyframe-max-dist)
    bool e2ee = false;
    bool audioMuted = false;
    bool videoMuted = false;
    std::shared_ptr<MediaInput> input;  // null: test sources

    static SendOptions from(const MediaOptions& o);
};

struct SendStats {
    std::uint64_t framesEncrypted = 0;
    std::uint64_t videoFramesEncoded = 0;
    std::uint64_t keyFramesEncoded = 0;
    std::uint64_t keyFrameRequests = 0;           // force-key-unit events that reached our send chain
    std::uint64_t keyFrameRequestsForwarded = 0;  // of those, sent on to the encoder by us (E2EE path)
    std::optional<std::chrono::steady_clock::time_point> lastKeyFrameAt;
};

class SendChain : public MediaInputConsumer {
  public:
    explicit SendChain(SendOptions options);
    ~SendChain() override;
    SendChain(const SendChain&) = delete;
    SendChain& operator=(const SendChain&) = delete;

    const SendOptions& options() const noexcept { return m_options; }
    // Pipeline text of the send branches; each ends in "! webrtc.".
    std::string describe() const;
    // GLib thread, after parsing and before PLAYING: probes and callbacks. Error text on failure.
    std::optional<std::string> attach(GstElement* pipeline);
    // Pipeline in NULL state: drop element references.
    void release();

    // Any thread.
    void setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw);
    // Muted audio is sent as silence, muted video as black frames: the RTP streams keep running.
    void setMuted(e2ee::MediaKind kind, bool muted);
    SendStats stats() const;

    // Streaming threads (probe and appsink trampolines).
    GstPadProbeReturn encryptAudio(GstPadProbeInfo* info);
    void packetizeVideoFrame(GstSample* sample);
    GstPadProbeReturn onUpstreamEvent(GstPadProbeInfo* info, bool forward);
    void onEncodedVideo(GstBuffer* buffer);
    // The MediaInput's streaming threads.
    void consumeAudio(GstBuffer* buffer) override;
    void consumeVideo(GstBuffer* buffer) override;

  private:
    std::optional<std::string> attachElements(GstElement* pipeline);
    // Asks vp8enc for a key frame unless one was asked for within kMinKeyFrameRequestInterval.
    void forwardKeyFrameRequest(bool fromNetwork);

    SendOptions m_options;
    std::uint32_t m_audioSsrc;
    std::uint32_t m_vp8Ssrc;

    // GLib thread (references kept for the lifetime of the pipeline).
    GstElement* m_audioSource = nullptr;  // audiotestsrc, or appsrc fed by the MediaInput
    GstElement* m_videoSource = nullptr;  // videotestsrc, or appsrc
    GstElement* m_volume = nullptr;       // MediaInput audio: mute
    GstBuffer* m_blackFrame = nullptr;    // MediaInput video: sent instead while muted
    bool m_consuming = false;             // registered with the MediaInput
    GstElement* m_vp8Src = nullptr;       // appsrc (E2EE)
    GstPad* m_encoderSrc = nullptr;       // vp8enc src pad, where forwarded requests go

    std::mutex m_cryptoMutex;
    e2ee::FrameEncryptor m_audioEncryptor;
    e2ee::FrameEncryptor m_videoEncryptor;
    std::vector<std::uint8_t> m_scratch;
    // Our VP8 packetizer state (the appsink streaming thread).
    std::uint16_t m_vp8Seq;
    std::uint32_t m_vp8TsBase;
    std::uint16_t m_vp8PictureId;
    bool m_resumeAtKeyFrame = false;

    mutable std::mutex m_statsMutex;
    SendStats m_stats;
    std::optional<std::chrono::steady_clock::time_point> m_lastForwardAt;

    // MediaInput stamping (its streaming threads, one per kind).
    std::atomic<bool> m_videoMutedNow{false};
    GstClockTime m_nextAudioPts = GST_CLOCK_TIME_NONE;
    GstClockTime m_lastVideoPts = GST_CLOCK_TIME_NONE;
};

}  // namespace mxrtc::rtc
