#include "rtc/receive_chain.hpp"

#include <gst/app/app.h>

#include <cmath>

namespace mxrtc::rtc {

namespace {

using SteadyClock = std::chrono::steady_clock;

// User data of one probe or appsink callback (freed by GStreamer with the probe).
struct ChainContext {
    RemoteResolver resolve;
    e2ee::MediaKind kind = e2ee::MediaKind::Audio;
    std::function<void()> onUnowned;
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

GstFlowReturn onAudioSample(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (buf != nullptr && gst_buffer_map(buf, &map, GST_MAP_READ)) {
        if (auto remote = contextOf(data)->resolve())
            remote->audioDecoded({reinterpret_cast<const float*>(map.data), map.size / sizeof(float)});
        gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

void addProbe(GstElement* bin, const char* element, const char* padName, GstPadProbeCallback cb,
              const RemoteResolver& resolve, e2ee::MediaKind kind,
              std::function<void()> onUnowned = nullptr) {
    GstElement* e = gst_bin_get_by_name(GST_BIN(bin), element);
    if (e == nullptr) return;
    GstPad* pad = gst_element_get_static_pad(e, padName);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, cb,
                      new ChainContext{resolve, kind, std::move(onUnowned)}, deleteContext);
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

void RemoteMedia::audioDecoded(std::span<const float> samples) {
    constexpr float kHysteresis = 0.01f;           // -40 dBFS
    constexpr std::uint64_t kWindow = 48'000 / 2;  // 0.5 s at 48 kHz (the chain's caps)
    double sum = 0.0;
    for (float s : samples)
        sum += static_cast<double>(s) * s;
    const std::size_t n = samples.size();
    std::lock_guard lock(m_mutex);
    for (float x : samples) {
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
    std::string desc;
    if (enc == "OPUS") {
        desc = "queue ! rtpopusdepay name=adepay ! ";
        if (record)
            desc += "tee name=rec ! queue ! opusparse ! oggmux ! filesink sync=false location=" +
                    quoted(options.recordPrefix + ".opus.ogg") + " rec. ! queue ! ";
        desc +=
            "opusdec plc=true ! audioconvert ! audioresample"
            " ! audio/x-raw,format=F32LE,channels=1,rate=48000 ! appsink name=asink sync=false";
    } else if (enc == "VP8") {
        desc = "queue ! rtpvp8depay name=vdepay";
        if (options.requestKeyFrames) desc += " request-keyframe=true wait-for-keyframe=true";
        desc += " ! ";
        if (record)
            desc += "tee name=rec ! queue ! webmmux streamable=true ! filesink sync=false location=" +
                    quoted(options.recordPrefix + ".vp8.webm") + " rec. ! queue ! ";
        desc += "vp8dec name=vdec ! fakesink sync=false";
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
    if (enc == "OPUS") {
        GstElement* sink = gst_bin_get_by_name(GST_BIN(bin), "asink");
        GstAppSinkCallbacks cbs{};
        cbs.new_sample = onAudioSample;
        gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs,
                                   new ChainContext{resolve, e2ee::MediaKind::Audio, nullptr}, deleteContext);
        gst_object_unref(sink);
        if (options.decrypt)
            addProbe(bin, "adepay", "src", onDepayed, resolve, e2ee::MediaKind::Audio,
                     options.onUnownedFrameDropped);
    } else if (enc == "VP8") {
        addProbe(bin, "vdec", "src", onVideoDecoded, resolve, e2ee::MediaKind::Video);
        if (options.decrypt)
            addProbe(bin, "vdepay", "src", onDepayed, resolve, e2ee::MediaKind::Video,
                     options.onUnownedFrameDropped);
        addProbe(bin, "vdepay", "src", onVp8Frame, resolve, e2ee::MediaKind::Video);  // after decryption
    }
    gst_bin_add(GST_BIN(pipeline), bin);
    gst_element_sync_state_with_parent(bin);
    GstPad* sinkPad = gst_element_get_static_pad(bin, "sink");
    if (gst_pad_link(pad, sinkPad) != GST_PAD_LINK_OK) result.error = "receive chain: cannot link " + enc;
    gst_object_unref(sinkPad);
    return result;
}

}  // namespace mxrtc::rtc
