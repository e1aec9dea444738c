#include "rtc/receive_chain.hpp"

#include <gst/app/app.h>
#include <gst/video/video.h>

#include <cmath>
#include <exception>

namespace mxrtc::rtc {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kDecodedAudioCaps = "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=48000";
// In front of application callbacks and sink pipelines: their own thread, oldest frames dropped.
constexpr const char* kLeakyAudioQueue =
    "queue leaky=downstream max-size-bytes=0 max-size-buffers=0 max-size-time=500000000";
constexpr const char* kLeakyVideoQueue =
    "queue leaky=downstream max-size-bytes=0 max-size-time=0 max-size-buffers=";

// User data of one probe or appsink callback (freed by GStreamer with the probe).
struct ChainContext {
    RemoteResolver resolve;
    e2ee::MediaKind kind = e2ee::MediaKind::Audio;
    std::function<void()> onUnowned;
    std::shared_ptr<const MediaSinks> sinks;
};
ChainContext* contextOf(gpointer p) {
    return static_cast<ChainContext*>(p);
}
void deleteContext(gpointer p) {
    delete contextOf(p);
}

bool isVp8KeyFrame(const std::uint8_t* data, std::size_t size) {
    return size > 0 && (data[0] & 0x01) == 0;  // VP8 frame tag P bit (in the clear with E2EE too)
}

GstPadProbeReturn onDepayed(GstPad*, GstPadProbeInfo* info, gpointer data) {
    auto* ctx = contextOf(data);
    const auto remote = ctx->resolve();
    if (!remote) {  // whose key? nobody's: never hand ciphertext on
        if (ctx->onUnowned) ctx->onUnowned();
        return GST_PAD_PROBE_DROP;
    }
    GstBuffer* in = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    if (!gst_buffer_map(in, &map, GST_MAP_READ)) return GST_PAD_PROBE_DROP;
    GstBuffer* out = gst_buffer_new_allocate(nullptr, map.size, nullptr);
    GstMapInfo outMap;
    gst_buffer_map(out, &outMap, GST_MAP_WRITE);
    e2ee::FrameInfo fi;
    fi.kind = ctx->kind;
    if (ctx->kind == e2ee::MediaKind::Video) {
        fi.codec = e2ee::VideoCodec::VP8;
        fi.keyFrame = isVp8KeyFrame(map.data, map.size);
    }
    const e2ee::FrameResult r = remote->decrypt(fi, {map.data, map.size}, {outMap.data, outMap.size});
    gst_buffer_unmap(out, &outMap);
    gst_buffer_unmap(in, &map);
    if (!r.ok()) {
        gst_buffer_unref(out);
        return GST_PAD_PROBE_DROP;
    }
    gst_buffer_set_size(out, static_cast<gssize>(r.size));
    gst_buffer_copy_into(out, in, GST_BUFFER_COPY_METADATA, 0, static_cast<gsize>(-1));
    gst_buffer_unref(in);
    GST_PAD_PROBE_INFO_DATA(info) = out;
    return GST_PAD_PROBE_OK;
}

// After decryption: count the key frames that will reach the decoder.
GstPadProbeReturn onVp8Frame(GstPad*, GstPadProbeInfo* info, gpointer data) {
    GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return GST_PAD_PROBE_OK;
    const bool key = isVp8KeyFrame(map.data, map.size);
    gst_buffer_unmap(buf, &map);
    if (key)
        if (auto remote = contextOf(data)->resolve()) remote->videoKeyFrameReceived();
    return GST_PAD_PROBE_OK;
}

GstPadProbeReturn onVideoDecoded(GstPad*, GstPadProbeInfo*, gpointer data) {
    if (auto remote = contextOf(data)->resolve()) remote->videoDecoded();
    return GST_PAD_PROBE_OK;
}

// Application callbacks run on GStreamer threads: an exception must not unwind through C frames.
template <typename F>
void callApplication(RemoteMedia& remote, F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        remote.callbackFailed(e.what());
    } catch (...) {
        remote.callbackFailed("unknown exception");
    }
}

RemoteFrameInfo frameInfo(const RemoteMedia& remote, GstBuffer* buf) {
    RemoteFrameInfo info = remote.participant();
    if (GST_BUFFER_PTS_IS_VALID(buf)) info.pts = std::chrono::nanoseconds(GST_BUFFER_PTS(buf));
    return info;
}

GstFlowReturn onAudioSample(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (buf != nullptr && gst_buffer_map(buf, &map, GST_MAP_READ)) {
        const auto* ctx = contextOf(data);
        if (auto remote = ctx->resolve()) {
            const std::span<const std::int16_t> pcm{reinterpret_cast<const std::int16_t*>(map.data),
                                                    map.size / sizeof(std::int16_t)};
            remote->audioDecoded(pcm);
            if (ctx->sinks && ctx->sinks->onAudio)
                callApplication(*remote, [&] { ctx->sinks->onAudio(frameInfo(*remote, buf), pcm); });
        }
        gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

GstFlowReturn onVideoSample(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    const auto* ctx = contextOf(data);
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstVideoInfo info;
    GstVideoFrame frame;
    auto remote = ctx->resolve();
    if (remote && buf != nullptr && ctx->sinks && ctx->sinks->onVideo &&
        gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) &&
        gst_video_frame_map(&frame, &info, buf, GST_MAP_READ)) {
        I420View view;
        view.width = GST_VIDEO_FRAME_WIDTH(&frame);
        view.height = GST_VIDEO_FRAME_HEIGHT(&frame);
        for (int p = 0; p < 3; ++p) {
            view.planes[static_cast<std::size_t>(p)] =
                static_cast<const std::uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, p));
            view.strides[static_cast<std::size_t>(p)] = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p);
        }
        callApplication(*remote, [&] { ctx->sinks->onVideo(frameInfo(*remote, buf), view); });
        gst_video_frame_unmap(&frame);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

void setAppSinkCallback(GstElement* bin, const char* name, GstFlowReturn (*cb)(GstAppSink*, gpointer),
                        ChainContext* ctx) {
    GstElement* sink = gst_bin_get_by_name(GST_BIN(bin), name);
    if (sink == nullptr) {
        delete ctx;
        return;
    }
    GstAppSinkCallbacks cbs{};
    cbs.new_sample = cb;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, ctx, deleteContext);
    gst_object_unref(sink);
}

void addProbe(GstElement* bin, const char* element, const char* padName, GstPadProbeCallback cb,
              const RemoteResolver& resolve, e2ee::MediaKind kind,
              std::function<void()> onUnowned = nullptr) {
    GstElement* e = gst_bin_get_by_name(GST_BIN(bin), element);
    if (e == nullptr) return;
    GstPad* pad = gst_element_get_static_pad(e, padName);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, cb,
                      new ChainContext{resolve, kind, std::move(onUnowned), nullptr}, deleteContext);
    gst_object_unref(pad);
    gst_object_unref(e);
}

std::string quoted(const std::string& path) {
    std::string q = "\"";
    for (char c : path) {
        if (c == '"' || c == '\\') q += '\\';
        q += c;
    }
    return q + "\"";
}

}  // namespace

RemoteMedia::RemoteMedia(e2ee::KeyProviderOptions keyOptions) : m_audio(keyOptions), m_video(keyOptions) {}

void RemoteMedia::setKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    std::lock_guard lock(m_mutex);
    m_audio.keys().setKey(keyIndex, raw);
    m_video.keys().setKey(keyIndex, raw);
}

void RemoteMedia::setServerInjectedTrailer(std::span<const std::uint8_t> trailer) {
    std::lock_guard lock(m_mutex);
    m_audio.setServerInjectedTrailer(trailer);
    m_video.setServerInjectedTrailer(trailer);
}

void RemoteMedia::setEncryptionEnabled(bool enabled) {
    std::lock_guard lock(m_mutex);
    m_audio.setEncryptionEnabled(enabled);
    m_video.setEncryptionEnabled(enabled);
}

void RemoteMedia::setParticipant(RemoteFrameInfo who) {
    std::lock_guard lock(m_mutex);
    m_who = std::move(who);
}

RemoteFrameInfo RemoteMedia::participant() const {
    std::lock_guard lock(m_mutex);
    return m_who;
}

void RemoteMedia::callbackFailed(const std::string& what) {
    std::lock_guard lock(m_mutex);
    if (m_stats.callbackExceptions++ == 0)
        g_warning("mxrtc: a media frame callback threw (%s); further ones are only counted", what.c_str());
}

e2ee::FrameResult RemoteMedia::decrypt(const e2ee::FrameInfo& info, std::span<const std::uint8_t> in,
                                       std::span<std::uint8_t> out) {
    std::lock_guard lock(m_mutex);
    auto& dec = info.kind == e2ee::MediaKind::Audio ? m_audio : m_video;
    const e2ee::FrameResult r = dec.decrypt(info, in, out);
    if (r.status == e2ee::FrameStatus::Ok) {
        if (m_stats.framesDecrypted++ == 0) m_stats.firstDecryptedAt = SteadyClock::now();
    } else if (r.status == e2ee::FrameStatus::PassThrough) {
        ++m_stats.framesPassedThrough;
    } else {
        ++m_stats.decryptFailures;
    }
    return r;
}

void RemoteMedia::audioDecoded(std::span<const std::int16_t> samples) {
    constexpr int kHysteresis = 328;               // -40 dBFS
    constexpr std::uint64_t kWindow = 48'000 / 2;  // 0.5 s at 48 kHz (the chain's caps)
    double sum = 0.0;
    for (std::int16_t s : samples) {
        const double x = s / 32768.0;
        sum += x * x;
    }
    const std::size_t n = samples.size();
    std::lock_guard lock(m_mutex);
    for (std::int16_t x : samples) {
        const int sign = x > kHysteresis ? 1 : (x < -kHysteresis ? -1 : 0);
        if (sign != 0) {
            if (m_lastSign != 0 && sign != m_lastSign) ++m_crossings;
            m_lastSign = sign;
        }
    }
    m_windowSamples += n;
    if (m_windowSamples >= kWindow) {
        m_stats.audioHz =
            static_cast<double>(m_crossings) / 2.0 * 48'000.0 / static_cast<double>(m_windowSamples);
        m_crossings = 0;
        m_windowSamples = 0;
    }
    auto& s = m_stats;
    if (s.audioBuffersDecoded == 0) {
        s.firstAudioAt = SteadyClock::now();
        m_meanSquare = n > 0 ? sum / static_cast<double>(n) : 0.0;
    } else if (n > 0) {
        m_meanSquare = 0.9 * m_meanSquare + 0.1 * (sum / static_cast<double>(n));
    }
    ++s.audioBuffersDecoded;
    s.audioSamplesDecoded += n;
    s.audioRms = std::sqrt(m_meanSquare);
}

void RemoteMedia::videoDecoded() {
    std::lock_guard lock(m_mutex);
    if (m_stats.videoFramesDecoded++ == 0) m_stats.firstVideoAt = SteadyClock::now();
}

void RemoteMedia::videoKeyFrameReceived() {
    std::lock_guard lock(m_mutex);
    ++m_stats.videoKeyFrames;
}

ReceiveStats RemoteMedia::stats() const {
    std::lock_guard lock(m_mutex);
    return m_stats;
}

ReceiveChainResult attachReceiveChain(GstElement* pipeline, GstPad* pad, const ReceiveChainOptions& options,
                                      RemoteResolver resolve) {
    ReceiveChainResult result;
    GstCaps* caps = gst_pad_get_current_caps(pad);
    if (caps == nullptr) caps = gst_pad_query_caps(pad, nullptr);
    const GstStructure* s = gst_caps_get_structure(caps, 0);
    const char* encoding = s != nullptr ? gst_structure_get_string(s, "encoding-name") : nullptr;
    result.encoding = encoding != nullptr ? encoding : "";
    gst_caps_unref(caps);
    const std::string& enc = result.encoding;

    // With recording, a tee after the depayloader (whose probe has already decrypted the frame)
    // feeds a muxer writing to the file.
    const bool record = !options.recordPrefix.empty();
    const MediaSinks& sinks = options.sinks;
    std::string desc;
    if (enc == "OPUS") {
        desc = "queue ! rtpopusdepay name=adepay ! ";
        if (record)
            desc += "tee name=rec ! queue ! opusparse ! oggmux ! filesink sync=false location=" +
                    quoted(options.recordPrefix + ".opus.ogg") + " rec. ! queue ! ";
        desc += "opusdec plc=true ! audioconvert ! audioresample ! " + std::string(kDecodedAudioCaps) + " ! ";
        if (!sinks.audioPipeline.empty()) desc += "tee name=aout ! ";
        if (sinks.onAudio) {
            desc += std::string(kLeakyAudioQueue) + " ! ";
        } else if (!sinks.audioPipeline.empty()) {
            desc += "queue ! ";
        }
        desc += "appsink name=asink sync=false";
        if (!sinks.audioPipeline.empty())
            desc += " aout. ! " + std::string(kLeakyAudioQueue) + " ! audioconvert ! audioresample ! " +
                    sinks.audioPipeline;
    } else if (enc == "VP8") {
        desc = "queue ! rtpvp8depay name=vdepay";
        if (options.requestKeyFrames) desc += " request-keyframe=true wait-for-keyframe=true";
        desc += " ! ";
        if (record)
            desc += "tee name=rec ! queue ! webmmux streamable=true ! filesink sync=false location=" +
                    quoted(options.recordPrefix + ".vp8.webm") + " rec. ! queue ! ";
        desc += "vp8dec name=vdec ! ";
        const bool both = sinks.onVideo && !sinks.videoPipeline.empty();
        if (both) desc += "tee name=vout ! ";
        if (sinks.onVideo)
            desc += std::string(kLeakyVideoQueue) +
                    "3 ! videoconvert ! video/x-raw,format=I420 ! appsink name=vsink sync=false";
        if (both) desc += " vout. ! ";
        if (!sinks.videoPipeline.empty())
            desc += std::string(kLeakyVideoQueue) + "5 ! videoconvert ! " + sinks.videoPipeline;
        if (!sinks.onVideo && sinks.videoPipeline.empty()) desc += "fakesink sync=false";
    } else {
        desc = "fakesink sync=false";
    }
    GError* error = nullptr;
    GstElement* bin = gst_parse_bin_from_description(desc.c_str(), TRUE, &error);
    if (bin == nullptr || error != nullptr) {
        result.error = std::string("receive chain: ") + (error != nullptr ? error->message : "parse failed");
        g_clear_error(&error);
        if (bin != nullptr) gst_object_unref(gst_object_ref_sink(bin));
        return result;
    }
    auto sinkCallbacks = std::make_shared<const MediaSinks>(sinks);
    if (enc == "OPUS") {
        setAppSinkCallback(bin, "asink", onAudioSample,
                           new ChainContext{resolve, e2ee::MediaKind::Audio, nullptr, sinkCallbacks});
        if (options.decrypt)
            addProbe(bin, "adepay", "src", onDepayed, resolve, e2ee::MediaKind::Audio,
                     options.onUnownedFrameDropped);
    } else if (enc == "VP8") {
        addProbe(bin, "vdec", "src", onVideoDecoded, resolve, e2ee::MediaKind::Video);
        if (options.decrypt)
            addProbe(bin, "vdepay", "src", onDepayed, resolve, e2ee::MediaKind::Video,
                     options.onUnownedFrameDropped);
        addProbe(bin, "vdepay", "src", onVp8Frame, resolve, e2ee::MediaKind::Video);  // after decryption
        if (sinks.onVideo)
            setAppSinkCallback(bin, "vsink", onVideoSample,
                               new ChainContext{resolve, e2ee::MediaKind::Video, nullptr, sinkCallbacks});
    }
    gst_bin_add(GST_BIN(pipeline), bin);
    gst_element_sync_state_with_parent(bin);
    GstPad* sinkPad = gst_element_get_static_pad(bin, "sink");
    if (gst_pad_link(pad, sinkPad) != GST_PAD_LINK_OK) result.error = "receive chain: cannot link " + enc;
    gst_object_unref(sinkPad);
    return result;
}

}  // namespace mxrtc::rtc
