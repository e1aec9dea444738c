#include "rtc/send_chain.hpp"

#include <gst/app/app.h>
#include <gst/rtp/rtp.h>
#include <gst/video/video.h>

#include <cstring>
#include <random>
#include <sstream>

#include "mxrtc/rtc/vp8_payload.hpp"
#include "rtc/webrtc_endpoint.hpp"

namespace mxrtc::rtc {

namespace {

std::uint16_t randomU16() {
    static thread_local std::mt19937 rng{std::random_device{}()};
    return static_cast<std::uint16_t>(std::uniform_int_distribution<int>(0, 0xFFFE)(rng));
}
std::uint32_t randomU32() {
    static thread_local std::mt19937 rng{std::random_device{}()};
    return rng();
}

SendChain* chainOf(gpointer p) {
    return static_cast<SendChain*>(p);
}

GstPadProbeReturn onEncodedAudio(GstPad*, GstPadProbeInfo* info, gpointer data) {
    return chainOf(data)->encryptAudio(info);
}
GstFlowReturn onVideoFrameEncoded(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    chainOf(data)->packetizeVideoFrame(sample);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}
GstPadProbeReturn onEncoderOutput(GstPad*, GstPadProbeInfo* info, gpointer data) {
    chainOf(data)->onEncodedVideo(GST_PAD_PROBE_INFO_BUFFER(info));
    return GST_PAD_PROBE_OK;
}
GstPadProbeReturn onUpstreamAtAppsrc(GstPad*, GstPadProbeInfo* info, gpointer data) {
    return chainOf(data)->onUpstreamEvent(info, true);
}
GstPadProbeReturn onUpstreamAtPayloader(GstPad*, GstPadProbeInfo* info, gpointer data) {
    return chainOf(data)->onUpstreamEvent(info, false);
}

GstPad* staticPad(GstElement* bin, const char* element, const char* pad) {
    GstElement* e = gst_bin_get_by_name(GST_BIN(bin), element);
    if (e == nullptr) return nullptr;
    GstPad* p = gst_element_get_static_pad(e, pad);
    gst_object_unref(e);
    return p;
}

bool addProbe(GstElement* bin, const char* element, const char* padName, GstPadProbeType type,
              GstPadProbeCallback cb, gpointer data) {
    GstPad* pad = staticPad(bin, element, padName);
    if (pad == nullptr) return false;
    gst_pad_add_probe(pad, type, cb, data, nullptr);
    gst_object_unref(pad);
    return true;
}

// Running time of the pipeline `element` is in; NONE before it plays.
GstClockTime runningTimeOf(GstElement* element) {
    if (element == nullptr) return GST_CLOCK_TIME_NONE;
    GstClock* clock = gst_element_get_clock(element);
    if (clock == nullptr) return GST_CLOCK_TIME_NONE;
    const GstClockTime now = gst_clock_get_time(clock);
    gst_object_unref(clock);
    const GstClockTime base = gst_element_get_base_time(element);
    return now > base ? now - base : 0;
}

// One black I420 picture (what a muted camera sends).
GstBuffer* blackI420(int width, int height) {
    GstVideoInfo info;
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, static_cast<guint>(width),
                              static_cast<guint>(height));
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
    GstMapInfo map;
    gst_buffer_map(buf, &map, GST_MAP_WRITE);
    const gsize chroma = GST_VIDEO_INFO_PLANE_OFFSET(&info, 1);
    std::memset(map.data, 16, chroma);
    std::memset(map.data + chroma, 128, map.size - chroma);
    gst_buffer_unmap(buf, &map);
    return buf;
}

}  // namespace

SendOptions SendOptions::from(const MediaOptions& o) {
    SendOptions s;
    s.audio = o.audio;
    s.video = o.video;
    s.toneFrequency = o.toneFrequency;
    s.videoWidth = o.videoWidth;
    s.videoHeight = o.videoHeight;
    s.videoFramerate = o.videoFramerate;
    s.keyFrameInterval = o.keyFrameInterval;
    s.e2ee = o.e2ee;
    s.audioMuted = o.audioMuted;
    s.videoMuted = o.videoMuted;
    s.input = o.input;
    return s;
}

SendChain::SendChain(SendOptions options)
    : m_options(std::move(options)),
      m_audioSsrc(randomU32()),
      m_vp8Ssrc(randomU32()),
      m_audioEncryptor(randomU16),
      m_videoEncryptor(randomU16),
      m_vp8Seq(randomU16()),
      m_vp8TsBase(randomU32()),
      m_vp8PictureId(randomU16() & 0x7FFF),
      m_videoMutedNow(m_options.videoMuted) {}

SendChain::~SendChain() {
    release();
}

std::string SendChain::describe() const {
    const auto& o = m_options;
    std::ostringstream d;
    if (o.audio) {
        if (o.input) {
            // Raw audio from the MediaInput (consumeAudio); only the newest 100 ms wait here.
            d << "appsrc name=asrc is-live=true format=time do-timestamp=false block=false max-buffers=5"
              << " leaky-type=downstream caps=\"" << kRawAudioCaps
              << "\" ! volume name=avol mute=" << (o.audioMuted ? "true" : "false");
        } else {
            d << "audiotestsrc name=asrc is-live=true wave=sine volume=" << (o.audioMuted ? "0" : "0.3")
              << " freq=" << o.toneFrequency;
        }
        d << " ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1"
          << " ! opusenc name=aenc frame-size=20 ! rtpopuspay name=apay pt=" << kOpusPayloadType << " ssrc="
          << m_audioSsrc
          // The SSRC in the caps puts an a=ssrc line into our offer even before the first packet
          // (with E2EE none flows until we have a key): without it an SFU cannot demultiplex the
          // BUNDLEd audio (webrtcbin sends no MID header extension).
          << " ! application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload="
          << kOpusPayloadType << ",ssrc=(uint)" << m_audioSsrc << " ! webrtc. ";
    }
    if (o.video) {
        const long maxDist =
            std::max<long>(1, static_cast<long>(o.keyFrameInterval.count()) * o.videoFramerate / 1000);
        if (o.input) {
            d << "appsrc name=vsrc is-live=true format=time do-timestamp=false block=false max-buffers=2"
              << " leaky-type=downstream caps=\""
              << rawVideoCaps(o.videoWidth, o.videoHeight, o.videoFramerate) << "\"";
        } else {
            d << "videotestsrc name=vsrc is-live=true pattern=" << (o.videoMuted ? "black" : "ball")
              << " ! video/x-raw,width=" << o.videoWidth << ",height=" << o.videoHeight
              << ",framerate=" << o.videoFramerate << "/1";
        }
        d << " ! videoconvert"
          << " ! vp8enc name=venc deadline=1 cpu-used=8 keyframe-max-dist=" << maxDist
          << " target-bitrate=150000 ";
        const std::string rtpCaps =
            "application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=" +
            std::to_string(kVp8PayloadType);
        if (o.e2ee) {
            // Our own packetizer (rtpvp8pay cannot take encrypted frames). The SSRC in the caps puts
            // an a=ssrc line into our SDP, as rtpvp8pay's caps do.
            const std::string caps = rtpCaps + ",ssrc=(uint)" + std::to_string(m_vp8Ssrc);
            d << "! appsink name=vframes sync=false emit-signals=false max-buffers=8 drop=false "
              << "appsrc name=vrtp is-live=true format=time caps=\"" << caps << "\" ! " << rtpCaps
              << " ! webrtc. ";
        } else {
            d << "! rtpvp8pay name=vpay pt=" << kVp8PayloadType << " picture-id-mode=15-bit ! " << rtpCaps
              << " ! webrtc. ";
        }
    }
    return d.str();
}

std::optional<std::string> SendChain::attach(GstElement* pipeline) {
    auto error = attachElements(pipeline);
    if (!error && m_options.input) {
        detail::ImplAccess::of(*m_options.input).addConsumer(this);
        m_consuming = true;
    }
    return error;
}

std::optional<std::string> SendChain::attachElements(GstElement* pipeline) {
    const auto& o = m_options;
    if (o.audio) {
        m_audioSource = gst_bin_get_by_name(GST_BIN(pipeline), "asrc");
        if (o.input) m_volume = gst_bin_get_by_name(GST_BIN(pipeline), "avol");
        if (o.e2ee && !addProbe(pipeline, "aenc", "src", GST_PAD_PROBE_TYPE_BUFFER, onEncodedAudio, this))
            return "send chain: no audio encoder";
    }
    if (!o.video) return std::nullopt;
    m_videoSource = gst_bin_get_by_name(GST_BIN(pipeline), "vsrc");
    if (o.input) m_blackFrame = blackI420(o.videoWidth, o.videoHeight);
    m_encoderSrc = staticPad(pipeline, "venc", "src");
    if (m_encoderSrc == nullptr) return "send chain: no video encoder";
    gst_pad_add_probe(m_encoderSrc, GST_PAD_PROBE_TYPE_BUFFER, onEncoderOutput, this, nullptr);
    if (o.e2ee) {
        GstElement* frames = gst_bin_get_by_name(GST_BIN(pipeline), "vframes");
        m_vp8Src = gst_bin_get_by_name(GST_BIN(pipeline), "vrtp");
        if (frames == nullptr || m_vp8Src == nullptr) {
            if (frames != nullptr) gst_object_unref(frames);
            return "send chain: no VP8 appsink/appsrc";
        }
        GstAppSinkCallbacks cbs{};
        cbs.new_sample = onVideoFrameEncoded;
        gst_app_sink_set_callbacks(GST_APP_SINK(frames), &cbs, this, nullptr);
        gst_object_unref(frames);
        addProbe(pipeline, "vrtp", "src", GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, onUpstreamAtAppsrc, this);
    } else {
        addProbe(pipeline, "vpay", "src", GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, onUpstreamAtPayloader, this);
    }
    return std::nullopt;
}

void SendChain::release() {
    if (m_consuming) {  // no buffer comes in after this returns
        detail::ImplAccess::of(*m_options.input).removeConsumer(this);
        m_consuming = false;
    }
    if (m_volume != nullptr) gst_clear_object(&m_volume);
    if (m_blackFrame != nullptr) gst_clear_buffer(&m_blackFrame);
    if (m_audioSource != nullptr) gst_clear_object(&m_audioSource);
    if (m_videoSource != nullptr) gst_clear_object(&m_videoSource);
    if (m_vp8Src != nullptr) gst_clear_object(&m_vp8Src);
    if (m_encoderSrc != nullptr) gst_clear_object(&m_encoderSrc);
}

void SendChain::setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    std::lock_guard lock(m_cryptoMutex);
    m_audioEncryptor.setKey(keyIndex, raw);
    m_videoEncryptor.setKey(keyIndex, raw);
}

void SendChain::setMuted(e2ee::MediaKind kind, bool muted) {
    if (kind == e2ee::MediaKind::Audio) {
        if (m_volume != nullptr) {
            g_object_set(m_volume, "mute", muted ? TRUE : FALSE, nullptr);
        } else if (m_audioSource != nullptr) {
            g_object_set(m_audioSource, "volume", muted ? 0.0 : 0.3, nullptr);
        }
    } else if (m_options.input) {
        m_videoMutedNow = muted;
    } else if (m_videoSource != nullptr) {
        gst_util_set_object_arg(G_OBJECT(m_videoSource), "pattern", muted ? "black" : "ball");
    }
}

SendStats SendChain::stats() const {
    std::lock_guard lock(m_statsMutex);
    return m_stats;
}

// ---- streaming threads ---------------------------------------------------------------------------

GstPadProbeReturn SendChain::encryptAudio(GstPadProbeInfo* info) {
    GstBuffer* in = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    if (!gst_buffer_map(in, &map, GST_MAP_READ)) return GST_PAD_PROBE_DROP;
    GstBuffer* out = gst_buffer_new_allocate(nullptr, e2ee::maxEncryptedSize(map.size), nullptr);
    GstMapInfo outMap;
    gst_buffer_map(out, &outMap, GST_MAP_WRITE);
    e2ee::FrameInfo fi;
    fi.kind = e2ee::MediaKind::Audio;
    fi.rtpTimestamp =
        GST_BUFFER_PTS_IS_VALID(in)
            ? static_cast<std::uint32_t>(gst_util_uint64_scale(GST_BUFFER_PTS(in), 48000, GST_SECOND))
            : 0;
    e2ee::FrameResult r;
    {
        std::lock_guard lock(m_cryptoMutex);
        r = m_audioEncryptor.encrypt(fi, {map.data, map.size}, {outMap.data, outMap.size});
    }
    gst_buffer_unmap(out, &outMap);
    gst_buffer_unmap(in, &map);
    if (!r.ok()) {  // no key yet: send nothing rather than plaintext
        gst_buffer_unref(out);
        return GST_PAD_PROBE_DROP;
    }
    gst_buffer_set_size(out, static_cast<gssize>(r.size));
    gst_buffer_copy_into(out, in, GST_BUFFER_COPY_METADATA, 0, static_cast<gsize>(-1));
    if (r.status == e2ee::FrameStatus::Ok) {
        std::lock_guard lock(m_statsMutex);
        ++m_stats.framesEncrypted;
    }
    gst_buffer_unref(in);
    GST_PAD_PROBE_INFO_DATA(info) = out;
    return GST_PAD_PROBE_OK;
}

void SendChain::packetizeVideoFrame(GstSample* sample) {
    GstBuffer* in = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (in == nullptr || m_vp8Src == nullptr || !gst_buffer_map(in, &map, GST_MAP_READ)) return;
    const GstClockTime pts = GST_BUFFER_PTS(in);
    const std::uint32_t rtpTs =
        m_vp8TsBase + (GST_CLOCK_TIME_IS_VALID(pts)
                           ? static_cast<std::uint32_t>(gst_util_uint64_scale(pts, 90000, GST_SECOND))
                           : 0);
    e2ee::FrameInfo fi;
    fi.kind = e2ee::MediaKind::Video;
    fi.codec = e2ee::VideoCodec::VP8;
    fi.keyFrame = map.size > 0 && (map.data[0] & 0x01) == 0;
    // webrtcbin holds its input until the transport is up, so appsrc would queue every frame since
    // the pipeline started (a prewarmed peer: minutes) and burst them out on connection. Drop whole
    // frames while it is backed up; afterwards resume at a key frame, asked for at once.
    if (gst_app_src_get_current_level_time(GST_APP_SRC(m_vp8Src)) > kMaxQueuedVideo) {
        m_resumeAtKeyFrame = true;
        gst_buffer_unmap(in, &map);
        return;
    }
    if (m_resumeAtKeyFrame && !fi.keyFrame) {
        forwardKeyFrameRequest(false);
        gst_buffer_unmap(in, &map);
        return;
    }
    m_resumeAtKeyFrame = false;
    fi.ssrc = m_vp8Ssrc;
    fi.rtpTimestamp = rtpTs;
    e2ee::FrameResult r;
    std::vector<Vp8Packet> packets;
    {
        std::lock_guard lock(m_cryptoMutex);
        m_scratch.resize(e2ee::maxEncryptedSize(map.size));
        r = m_videoEncryptor.encrypt(fi, {map.data, map.size}, m_scratch);
        if (r.ok()) packets = packetizeVp8({m_scratch.data(), r.size}, m_vp8PictureId);
    }
    gst_buffer_unmap(in, &map);
    if (!r.ok()) return;  // no key yet: send nothing
    m_vp8PictureId = (m_vp8PictureId + 1) & 0x7FFF;
    if (r.status == e2ee::FrameStatus::Ok) {
        std::lock_guard lock(m_statsMutex);
        ++m_stats.framesEncrypted;
    }
    for (const auto& p : packets) {
        GstBuffer* buf = gst_rtp_buffer_new_allocate(static_cast<guint>(p.payload.size()), 0, 0);
        GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
        gst_rtp_buffer_map(buf, GST_MAP_WRITE, &rtp);
        gst_rtp_buffer_set_payload_type(&rtp, kVp8PayloadType);
        gst_rtp_buffer_set_seq(&rtp, m_vp8Seq++);
        gst_rtp_buffer_set_timestamp(&rtp, rtpTs);
        gst_rtp_buffer_set_ssrc(&rtp, m_vp8Ssrc);
        gst_rtp_buffer_set_marker(&rtp, p.marker);
        std::memcpy(gst_rtp_buffer_get_payload(&rtp), p.payload.data(), p.payload.size());
        gst_rtp_buffer_unmap(&rtp);
        GST_BUFFER_PTS(buf) = pts;
        gst_app_src_push_buffer(GST_APP_SRC(m_vp8Src), buf);
    }
}

GstPadProbeReturn SendChain::onUpstreamEvent(GstPadProbeInfo* info, bool forward) {
    GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
    if (!gst_video_event_is_force_key_unit(event)) return GST_PAD_PROBE_OK;
    {
        std::lock_guard lock(m_statsMutex);
        ++m_stats.keyFrameRequests;
    }
    if (!forward) return GST_PAD_PROBE_OK;  // rtpvp8pay hands it to vp8enc itself
    forwardKeyFrameRequest(true);
    return GST_PAD_PROBE_DROP;  // consumed here (appsrc would drop it anyway)
}

void SendChain::forwardKeyFrameRequest(bool fromNetwork) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(m_statsMutex);
        if (m_lastForwardAt && now - *m_lastForwardAt < kMinKeyFrameRequestInterval) return;
        m_lastForwardAt = now;
        if (fromNetwork) ++m_stats.keyFrameRequestsForwarded;
    }
    if (m_encoderSrc != nullptr) requestKeyUnit(m_encoderSrc);
}

void SendChain::onEncodedVideo(GstBuffer* buffer) {
    const bool key = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    std::lock_guard lock(m_statsMutex);
    ++m_stats.videoFramesEncoded;
    if (key) {
        ++m_stats.keyFramesEncoded;
        m_stats.lastKeyFrameAt = std::chrono::steady_clock::now();
    }
}

// ---- MediaInput streaming threads -----------------------------------------------------------------

void SendChain::consumeAudio(GstBuffer* buffer) {
    const GstClockTime now = runningTimeOf(m_audioSource);
    if (!GST_CLOCK_TIME_IS_VALID(now)) return;  // not playing yet
    GstClockTime duration = GST_BUFFER_DURATION(buffer);
    if (!GST_CLOCK_TIME_IS_VALID(duration))
        duration = gst_util_uint64_scale(gst_buffer_get_size(buffer) / sizeof(std::int16_t), GST_SECOND,
                                         kRawAudioRate);
    // Gapless while the input keeps pace; re-anchored after a gap (a loop, a stall) or a burst.
    if (!GST_CLOCK_TIME_IS_VALID(m_nextAudioPts) || m_nextAudioPts + kAudioResync < now ||
        m_nextAudioPts > now + kAudioResync)
        m_nextAudioPts = now;
    GstBuffer* out = gst_buffer_copy(buffer);  // shares the memory
    GST_BUFFER_PTS(out) = m_nextAudioPts;
    GST_BUFFER_DTS(out) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(out) = duration;
    m_nextAudioPts += duration;
    gst_app_src_push_buffer(GST_APP_SRC(m_audioSource), out);
}

void SendChain::consumeVideo(GstBuffer* buffer) {
    GstClockTime now = runningTimeOf(m_videoSource);
    if (!GST_CLOCK_TIME_IS_VALID(now)) return;
    if (GST_CLOCK_TIME_IS_VALID(m_lastVideoPts) && now <= m_lastVideoPts) now = m_lastVideoPts + 1;
    m_lastVideoPts = now;
    GstBuffer* out =
        gst_buffer_copy(m_videoMutedNow.load() && m_blackFrame != nullptr ? m_blackFrame : buffer);
    GST_BUFFER_PTS(out) = now;
    GST_BUFFER_DTS(out) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(out) = GST_CLOCK_TIME_NONE;
    gst_app_src_push_buffer(GST_APP_SRC(m_videoSource), out);
}

}  // namespace mxrtc::rtc
