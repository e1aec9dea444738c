// Internal: what we do with each incoming webrtcbin pad, shared by the mesh Peer and the SFU
// subscriber. Opus: depayload, [decrypt], [record Ogg], decode, measure (buffers, RMS, pitch),
// [application callback], [sink pipeline]. VP8: depayload, [decrypt], [record WebM], decode, count
// frames, [application callback], [sink pipeline]. Decryption, measurement and the callbacks'
// participant come from a RemoteMedia (one remote sender: its decryptors, counters and who it is),
// looked up per frame through a resolver, so an SFU subscriber can re-map a reused transceiver to
// another participant at any time.
//
// Application callbacks and sink pipelines sit behind leaky queues (their own threads): a slow one
// loses the oldest frames and never stalls decoding or the measurements.
#pragma once

#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API
#endif
#include <gst/gst.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "mxrtc/e2ee/frame_cryptor.hpp"
#include "mxrtc/rtc/media_io.hpp"

namespace mxrtc::rtc {

struct ReceiveStats {
    std::uint64_t audioBuffersDecoded = 0;
    std::uint64_t audioSamplesDecoded = 0;
    double audioRms = 0.0;  // of the decoded audio over the last ~200 ms (0..1 full scale)
    double audioHz = 0.0;   // dominant frequency of the last ~0.5 s (zero crossings); 0 = silence
    std::uint64_t videoFramesDecoded = 0;
    std::uint64_t videoKeyFrames = 0;       // key frames received (after decryption)
    std::uint64_t framesDecrypted = 0;      // audio + video
    std::uint64_t framesPassedThrough = 0;  // not encrypted: server-injected, or an unencrypted sender
    std::uint64_t decryptFailures = 0;      // dropped: did not decrypt
    std::uint64_t callbackExceptions = 0;   // application frame callbacks that threw
    std::optional<std::chrono::steady_clock::time_point> firstAudioAt;
    std::optional<std::chrono::steady_clock::time_point> firstVideoAt;
    std::optional<std::chrono::steady_clock::time_point> firstDecryptedAt;
};

// One remote sender. Thread-safe.
class RemoteMedia {
  public:
    explicit RemoteMedia(e2ee::KeyProviderOptions keyOptions = {});

    void setKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw);
    void setServerInjectedTrailer(std::span<const std::uint8_t> trailer);
    // false: the sender publishes without E2EE, its frames pass through.
    void setEncryptionEnabled(bool enabled);
    // Who this sender is, for the frame callbacks (identity, or user + device).
    void setParticipant(RemoteFrameInfo who);
    RemoteFrameInfo participant() const;

    // Streaming threads.
    e2ee::FrameResult decrypt(const e2ee::FrameInfo& info, std::span<const std::uint8_t> in,
                              std::span<std::uint8_t> out);
    void audioDecoded(std::span<const std::int16_t> samples);  // 48 kHz mono
    void videoDecoded();
    void videoKeyFrameReceived();
    void callbackFailed(const std::string& what);  // an application frame callback threw

    ReceiveStats stats() const;

  private:
    mutable std::mutex m_mutex;
    e2ee::FrameDecryptor m_audio;
    e2ee::FrameDecryptor m_video;
    ReceiveStats m_stats;
    RemoteFrameInfo m_who;
    double m_meanSquare = 0.0;
    // Frequency by zero crossings (with hysteresis, so noise around silence does not count).
    int m_lastSign = 0;
    std::uint64_t m_crossings = 0;
    std::uint64_t m_windowSamples = 0;
};

// Who the frames of a pad belong to right now (nullptr: nobody known; frames are dropped when they
// need decrypting, otherwise decoded without being counted).
using RemoteResolver = std::function<std::shared_ptr<RemoteMedia>()>;

struct ReceiveChainOptions {
    bool decrypt = false;           // frames go through RemoteMedia::decrypt before the decoder
    bool requestKeyFrames = false;  // VP8: ask for a key frame at the start and after loss, drop until then
    std::string recordPrefix;       // non-empty: also write <prefix>.opus.ogg / <prefix>.vp8.webm
    std::function<void()> onUnownedFrameDropped;  // decrypt: a frame dropped because resolve gave nobody
    MediaSinks sinks;                             // callbacks get frames only while resolve gives somebody
};

struct ReceiveChainResult {
    std::string encoding;  // "OPUS", "VP8", or what was found (then discarded into a fakesink)
    std::string error;     // non-empty: the chain could not be built or linked
};

// GLib or webrtcbin thread: builds the chain for `pad` (a webrtcbin src pad) inside `pipeline` and
// links it.
ReceiveChainResult attachReceiveChain(GstElement* pipeline, GstPad* pad, const ReceiveChainOptions& options,
                                      RemoteResolver resolve);

}  // namespace mxrtc::rtc
