#define GST_USE_UNSTABLE_API  // gst/webrtc is "unstable" API in 1.22
#include "mxrtc/rtc/peer.hpp"

#include <gst/app/app.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>

#include "mxrtc/e2ee/frame_cryptor.hpp"
#include "mxrtc/rtc/vp8_payload.hpp"
#include "rtc/engine_impl.hpp"

namespace mxrtc::rtc {

namespace {

constexpr int kOpusPayloadType = 96;
constexpr int kVp8PayloadType = 97;
constexpr const char* kDataChannelLabel = "mxrtc";

using SteadyClock = std::chrono::steady_clock;

core::IceConnectionState mapIceState(GstWebRTCICEConnectionState s) {
    switch (s) {
        case GST_WEBRTC_ICE_CONNECTION_STATE_NEW:
            return core::IceConnectionState::New;
        case GST_WEBRTC_ICE_CONNECTION_STATE_CHECKING:
            return core::IceConnectionState::Checking;
        case GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED:
            return core::IceConnectionState::Connected;
        case GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED:
            return core::IceConnectionState::Completed;
        case GST_WEBRTC_ICE_CONNECTION_STATE_FAILED:
            return core::IceConnectionState::Failed;
        case GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED:
            return core::IceConnectionState::Disconnected;
        case GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED:
            return core::IceConnectionState::Closed;
    }
    return core::IceConnectionState::New;
}

// Adds "a=msid:<stream> <stream>-<kind>" to each audio/video section that has none.
std::string withMsid(const std::string& sdp, const std::string& streamId) {
    if (streamId.empty()) return sdp;
    std::istringstream in(sdp);
    std::string out;
    std::string line;
    std::string kind;
    bool hasMsid = false;
    const auto close = [&] {
        if ((kind == "audio" || kind == "video") && !hasMsid)
            out += "a=msid:" + streamId + " " + streamId + "-" + kind + "\r\n";
    };
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.starts_with("m=")) {
            close();
            kind = line.substr(2, line.find(' ') - 2);
            hasMsid = false;
        } else if (line.starts_with("a=msid:")) {
            hasMsid = true;
        }
        out += line + "\r\n";
    }
    close();
    return out;
}

std::string pipelineDescription(const MediaOptions& o) {
    std::ostringstream d;
    d << "webrtcbin name=webrtc bundle-policy=max-bundle latency=" << o.jitterLatencyMs << " ";
    if (o.audio) {
        d << "audiotestsrc is-live=true wave=sine volume=" << (o.audioMuted ? "0" : "0.3")
          << " freq=" << o.toneFrequency
          << " ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1"
          << " ! opusenc name=aenc frame-size=20 ! rtpopuspay name=apay pt=" << kOpusPayloadType
          << " ! application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload="
          << kOpusPayloadType << " ! webrtc. ";
    }
    if (o.video) {
        d << "videotestsrc is-live=true pattern=" << (o.videoMuted ? "black" : "ball")
          << " ! video/x-raw,width=" << o.videoWidth << ",height=" << o.videoHeight
          << ",framerate=" << o.videoFramerate << "/1 ! videoconvert"
          << " ! vp8enc name=venc deadline=1 cpu-used=8 keyframe-max-dist=" << 2 * o.videoFramerate
          << " target-bitrate=150000 ";
        const std::string rtpCaps =
            "application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=" +
            std::to_string(kVp8PayloadType);
        if (o.e2ee) {
            // Our own packetizer (rtpvp8pay cannot take encrypted frames).
            d << "! appsink name=vframes sync=false emit-signals=false max-buffers=8 drop=false "
              << "appsrc name=vrtp is-live=true format=time caps=\"" << rtpCaps << "\" ! " << rtpCaps
              << " ! webrtc. ";
        } else {
            d << "! rtpvp8pay name=vpay pt=" << kVp8PayloadType << " picture-id-mode=15-bit ! " << rtpCaps
              << " ! webrtc. ";
        }
    }
    return d.str();
}

std::vector<std::string> midsOf(const GstSDPMessage* sdp) {
    std::vector<std::string> mids;
    for (guint i = 0; i < gst_sdp_message_medias_len(sdp); ++i) {
        const char* mid = gst_sdp_media_get_attribute_val(gst_sdp_message_get_media(sdp, i), "mid");
        mids.emplace_back(mid != nullptr ? mid : "");
    }
    return mids;
}

std::uint16_t randomU16() {
    static thread_local std::mt19937 rng{std::random_device{}()};
    return static_cast<std::uint16_t>(std::uniform_int_distribution<int>(0, 0xFFFE)(rng));
}
std::uint32_t randomU32() {
    static thread_local std::mt19937 rng{std::random_device{}()};
    return rng();
}

}  // namespace

struct Peer::Impl : std::enable_shared_from_this<Peer::Impl> {
    std::shared_ptr<MediaEngine::Impl> engine;
    MediaOptions options;
    Listener listener;
    SteadyClock::time_point created = SteadyClock::now();
    std::atomic<bool> closed{false};  // set on the Asio side: listeners stop

    // GLib-thread state (and GStreamer threads, read-only after setup).
    GstElement* pipeline = nullptr;
    GstElement* webrtc = nullptr;
    GstWebRTCDataChannel* channel = nullptr;
    GSource* busWatch = nullptr;
    bool torndown = false;

    std::mutex midsMutex;
    std::vector<std::string> localMids;

    mutable std::mutex statsMutex;
    PeerStats stats;
    double audioMeanSquare = 0.0;

    // E2EE: one cryptor per track and direction (each is used by one streaming thread).
    std::mutex cryptoMutex;
    e2ee::FrameEncryptor audioEncryptor{randomU16};
    e2ee::FrameEncryptor videoEncryptor{randomU16};
    e2ee::FrameDecryptor audioDecryptor;
    e2ee::FrameDecryptor videoDecryptor;
    std::vector<std::uint8_t> cryptoScratch;
    // Our VP8 packetizer state.
    GstElement* vp8Src = nullptr;
    std::uint16_t vp8Seq = randomU16();
    std::uint32_t vp8Ssrc = randomU32();
    std::uint32_t vp8TsBase = randomU32();
    std::uint16_t vp8PictureId = randomU16() & 0x7FFF;

    Duration sinceCreated() const {
        return std::chrono::duration_cast<Duration>(SteadyClock::now() - created);
    }

    // Posts a listener call to the Asio executor; dropped once the peer is closed.
    template <typename F>
    void toListener(F&& f) {
        engine->post([self = shared_from_this(), f = std::forward<F>(f)]() mutable {
            if (!self->closed.load()) f(self->listener);
        });
    }
    void fail(std::string what) {
        toListener([what = std::move(what)](Listener& l) {
            if (l.onError) l.onError(what);
        });
    }

    void build();
    void teardown();
    void onLocalDescriptionCreated(GstPromise* promise, core::SdpType type);
    void attachDataChannel(GstWebRTCDataChannel* ch);
    void onIncomingPad(GstPad* pad);
    GstPadProbeReturn encryptAudio(GstPadProbeInfo* info);
    GstPadProbeReturn decrypt(GstPadProbeInfo* info, e2ee::MediaKind kind);
    void packetizeVideoFrame(GstSample* sample);
};

namespace {

// Promise user data: keeps the Impl alive until webrtcbin answers.
struct PromiseContext {
    std::shared_ptr<Peer::Impl> impl;
    core::SdpType type;
};
void deletePromiseContext(gpointer p) {
    delete static_cast<PromiseContext*>(p);
}

Peer::Impl* implOf(gpointer p) {
    return static_cast<Peer::Impl*>(p);
}

void onIceCandidate(GstElement* /*webrtc*/, guint mline, gchar* candidate, gpointer data) {
    auto* self = implOf(data);
    core::IceCandidate c;
    c.candidate = candidate != nullptr ? candidate : "";
    if (c.candidate.empty()) return;
    c.sdpMLineIndex = mline;
    {
        std::lock_guard lock(self->midsMutex);
        if (mline < self->localMids.size() && !self->localMids[mline].empty())
            c.sdpMid = self->localMids[mline];
    }
    self->toListener([c = std::move(c)](Peer::Listener& l) {
        if (l.onLocalCandidate) l.onLocalCandidate(c);
    });
}

void onIceConnectionState(GObject* webrtc, GParamSpec*, gpointer data) {
    auto* self = implOf(data);
    GstWebRTCICEConnectionState s{};
    g_object_get(webrtc, "ice-connection-state", &s, nullptr);
    const auto state = mapIceState(s);
    if (state == core::IceConnectionState::Connected || state == core::IceConnectionState::Completed) {
        std::lock_guard lock(self->statsMutex);
        if (!self->stats.iceConnectedAfter) self->stats.iceConnectedAfter = self->sinceCreated();
    }
    self->toListener([state](Peer::Listener& l) {
        if (l.onIceState) l.onIceState(state);
    });
}

void onIceGatheringState(GObject* webrtc, GParamSpec*, gpointer data) {
    GstWebRTCICEGatheringState s{};
    g_object_get(webrtc, "ice-gathering-state", &s, nullptr);
    if (s != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) return;
    implOf(data)->toListener([](Peer::Listener& l) {
        if (l.onLocalCandidate) l.onLocalCandidate(core::IceCandidate{});  // end-of-candidates
    });
}

void onDataChannel(GstElement*, GstWebRTCDataChannel* ch, gpointer data) {
    implOf(data)->attachDataChannel(ch);
}

void onDataMessage(GstWebRTCDataChannel*, gchar* text, gpointer data) {
    auto* self = implOf(data);
    {
        std::lock_guard lock(self->statsMutex);
        ++self->stats.dataMessagesReceived;
    }
    self->toListener([text = std::string(text != nullptr ? text : "")](Peer::Listener& l) {
        if (l.onDataMessage) l.onDataMessage(text);
    });
}

void onPadAdded(GstElement*, GstPad* pad, gpointer data) {
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
    implOf(data)->onIncomingPad(pad);
}

void onDescriptionCreated(GstPromise* promise, gpointer data) {
    auto* ctx = static_cast<PromiseContext*>(data);
    ctx->impl->onLocalDescriptionCreated(promise, ctx->type);
    gst_promise_unref(promise);
}

void onRemoteDescriptionSet(GstPromise* promise, gpointer data) {
    auto* ctx = static_cast<PromiseContext*>(data);
    const GstStructure* reply = gst_promise_get_reply(promise);
    GError* error = nullptr;
    if (reply != nullptr && gst_structure_has_field(reply, "error")) {
        gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
        ctx->impl->fail(std::string("set-remote-description: ") +
                        (error != nullptr ? error->message : "failed"));
        g_clear_error(&error);
    }
    gst_promise_unref(promise);
}

gboolean onBusMessage(GstBus*, GstMessage* msg, gpointer data) {
    auto* self = implOf(data);
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError* error = nullptr;
        gchar* debug = nullptr;
        gst_message_parse_error(msg, &error, &debug);
        self->fail(std::string(GST_OBJECT_NAME(msg->src)) + ": " +
                   (error != nullptr ? error->message : "error"));
        g_clear_error(&error);
        g_free(debug);
    }
    return G_SOURCE_CONTINUE;
}

GstFlowReturn onAudioSample(GstAppSink* sink, gpointer data) {
    auto* self = implOf(data);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (buf != nullptr && gst_buffer_map(buf, &map, GST_MAP_READ)) {
        const auto* samples = reinterpret_cast<const float*>(map.data);
        const std::size_t n = map.size / sizeof(float);
        double sum = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            sum += static_cast<double>(samples[i]) * samples[i];
        gst_buffer_unmap(buf, &map);
        std::lock_guard lock(self->statsMutex);
        auto& s = self->stats;
        if (s.audioBuffersDecoded == 0) {
            s.firstAudioAfter = self->sinceCreated();
            self->audioMeanSquare = n > 0 ? sum / static_cast<double>(n) : 0.0;
        } else if (n > 0) {
            self->audioMeanSquare = 0.9 * self->audioMeanSquare + 0.1 * (sum / static_cast<double>(n));
        }
        ++s.audioBuffersDecoded;
        s.audioSamplesDecoded += n;
        s.audioRms = std::sqrt(self->audioMeanSquare);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

GstPadProbeReturn onVideoFrame(GstPad*, GstPadProbeInfo*, gpointer data) {
    auto* self = implOf(data);
    std::lock_guard lock(self->statsMutex);
    if (self->stats.videoFramesDecoded++ == 0) self->stats.firstVideoAfter = self->sinceCreated();
    return GST_PAD_PROBE_OK;
}

GstPadProbeReturn onEncodedAudio(GstPad*, GstPadProbeInfo* info, gpointer data) {
    return implOf(data)->encryptAudio(info);
}
GstPadProbeReturn onDepayedAudio(GstPad*, GstPadProbeInfo* info, gpointer data) {
    return implOf(data)->decrypt(info, e2ee::MediaKind::Audio);
}
GstPadProbeReturn onDepayedVideo(GstPad*, GstPadProbeInfo* info, gpointer data) {
    return implOf(data)->decrypt(info, e2ee::MediaKind::Video);
}

GstFlowReturn onVideoFrameEncoded(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    implOf(data)->packetizeVideoFrame(sample);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

// webrtcbin hides its NiceAgent; its nicesrc elements expose it. Tune the check pacing there.
void onDeepElementAdded(GstBin*, GstBin*, GstElement* element, gpointer data) {
    auto* self = implOf(data);
    GstElementFactory* f = gst_element_get_factory(element);
    if (f == nullptr || std::strcmp(GST_OBJECT_NAME(f), "nicesrc") != 0 || self->options.icePacingMs == 0)
        return;
    GObject* agent = nullptr;
    g_object_get(element, "agent", &agent, nullptr);
    if (agent == nullptr) return;
    g_object_set(agent, "stun-pacing-timer", static_cast<guint>(self->options.icePacingMs), nullptr);
    g_object_unref(agent);
}

void addProbe(GstElement* bin, const char* element, const char* padName, GstPadProbeCallback cb,
              gpointer data) {
    GstElement* e = gst_bin_get_by_name(GST_BIN(bin), element);
    if (e == nullptr) return;
    GstPad* pad = gst_element_get_static_pad(e, padName);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, cb, data, nullptr);
    gst_object_unref(pad);
    gst_object_unref(e);
}

}  // namespace

// ---- GLib thread --------------------------------------------------------------------------------------

void Peer::Impl::build() {
    GError* error = nullptr;
    pipeline = gst_parse_launch(pipelineDescription(options).c_str(), &error);
    if (pipeline == nullptr || error != nullptr) {
        fail(std::string("pipeline: ") + (error != nullptr ? error->message : "parse failed"));
        g_clear_error(&error);
        if (pipeline != nullptr) gst_clear_object(&pipeline);
        return;
    }
    webrtc = gst_bin_get_by_name(GST_BIN(pipeline), "webrtc");
    if (!options.stunServer.empty()) g_object_set(webrtc, "stun-server", options.stunServer.c_str(), nullptr);

    // ICE: host candidates from the configured addresses only, UDP only, no STUN/TURN.
    GstObject* ice = nullptr;
    g_object_get(webrtc, "ice-agent", &ice, nullptr);
    if (ice != nullptr) {
        g_object_set(ice, "ice-tcp", FALSE, nullptr);
        for (const auto& addr : options.iceAddresses) {
            gboolean ok = FALSE;
            g_signal_emit_by_name(ice, "add-local-ip-address", addr.c_str(), &ok);
            if (!ok) fail("ICE: cannot use local address " + addr);
        }
        gst_object_unref(ice);
    }

    g_signal_connect(webrtc, "on-ice-candidate", G_CALLBACK(onIceCandidate), this);
    g_signal_connect(webrtc, "notify::ice-connection-state", G_CALLBACK(onIceConnectionState), this);
    g_signal_connect(webrtc, "notify::ice-gathering-state", G_CALLBACK(onIceGatheringState), this);
    g_signal_connect(webrtc, "on-data-channel", G_CALLBACK(onDataChannel), this);
    g_signal_connect(webrtc, "pad-added", G_CALLBACK(onPadAdded), this);
    g_signal_connect(pipeline, "deep-element-added", G_CALLBACK(onDeepElementAdded), this);

    if (options.e2ee && options.audio) addProbe(pipeline, "aenc", "src", onEncodedAudio, this);
    if (options.e2ee && options.video) {
        GstElement* frames = gst_bin_get_by_name(GST_BIN(pipeline), "vframes");
        vp8Src = gst_bin_get_by_name(GST_BIN(pipeline), "vrtp");
        GstAppSinkCallbacks cbs{};
        cbs.new_sample = onVideoFrameEncoded;
        gst_app_sink_set_callbacks(GST_APP_SINK(frames), &cbs, this, nullptr);
        gst_object_unref(frames);
    }

    GstBus* bus = gst_element_get_bus(pipeline);
    busWatch = gst_bus_create_watch(bus);
    g_source_set_callback(busWatch, G_SOURCE_FUNC(onBusMessage), this, nullptr);
    g_source_attach(busWatch, engine->context);
    gst_object_unref(bus);

    if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
        fail("pipeline: cannot start (PLAYING)");
}

void Peer::Impl::teardown() {
    if (torndown) return;
    torndown = true;
    if (busWatch != nullptr) {
        g_source_destroy(busWatch);
        g_source_unref(busWatch);
        busWatch = nullptr;
    }
    if (pipeline != nullptr) {
        gst_element_set_state(pipeline, GST_STATE_NULL);
        g_signal_handlers_disconnect_by_data(pipeline, this);
        if (webrtc != nullptr) g_signal_handlers_disconnect_by_data(webrtc, this);
        if (channel != nullptr) {
            g_signal_handlers_disconnect_by_data(channel, this);
            gst_clear_object(&channel);
        }
        if (vp8Src != nullptr) gst_clear_object(&vp8Src);
        if (webrtc != nullptr) gst_clear_object(&webrtc);
        gst_clear_object(&pipeline);
    }
}

void Peer::Impl::attachDataChannel(GstWebRTCDataChannel* ch) {
    if (channel != nullptr) return;
    channel = GST_WEBRTC_DATA_CHANNEL(gst_object_ref(ch));
    g_signal_connect(channel, "on-message-string", G_CALLBACK(onDataMessage), this);
}

void Peer::Impl::onLocalDescriptionCreated(GstPromise* promise, core::SdpType type) {
    const char* key = type == core::SdpType::Offer ? "offer" : "answer";
    const GstStructure* reply = gst_promise_get_reply(promise);
    GstWebRTCSessionDescription* desc = nullptr;
    if (reply != nullptr) gst_structure_get(reply, key, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
    if (desc == nullptr) {
        GError* error = nullptr;
        if (reply != nullptr) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
        fail(std::string("create-") + key + ": " + (error != nullptr ? error->message : "no description"));
        g_clear_error(&error);
        return;
    }
    {
        std::lock_guard lock(midsMutex);
        localMids = midsOf(desc->sdp);
    }
    gchar* text = gst_sdp_message_as_text(desc->sdp);
    core::SessionDescription out{type, withMsid(text, options.streamId)};
    g_free(text);
    // Announce the description before applying it, so it precedes every candidate on the executor.
    toListener([out = std::move(out)](Listener& l) {
        if (l.onLocalDescription) l.onLocalDescription(out);
    });
    g_signal_emit_by_name(webrtc, "set-local-description", desc, nullptr);
    gst_webrtc_session_description_free(desc);
}

void Peer::Impl::onIncomingPad(GstPad* pad) {
    GstCaps* caps = gst_pad_get_current_caps(pad);
    if (caps == nullptr) caps = gst_pad_query_caps(pad, nullptr);
    const GstStructure* s = gst_caps_get_structure(caps, 0);
    const char* encoding = gst_structure_get_string(s, "encoding-name");
    const std::string enc = encoding != nullptr ? encoding : "";
    gst_caps_unref(caps);

    // With recording, a tee after the depayloader (whose probe has already decrypted the frame)
    // feeds a muxer writing to the peer's file.
    const bool record = !options.recordPrefix.empty();
    const auto quoted = [](const std::string& path) {
        std::string q = "\"";
        for (char c : path) {
            if (c == '"' || c == '\\') q += '\\';
            q += c;
        }
        return q + "\"";
    };
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
        desc = "queue ! rtpvp8depay name=vdepay ! ";
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
        fail(std::string("receive chain: ") + (error != nullptr ? error->message : "parse failed"));
        g_clear_error(&error);
        return;
    }
    if (enc == "OPUS") {
        GstElement* sink = gst_bin_get_by_name(GST_BIN(bin), "asink");
        GstAppSinkCallbacks cbs{};
        cbs.new_sample = onAudioSample;
        gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, this, nullptr);
        gst_object_unref(sink);
        if (options.e2ee) addProbe(bin, "adepay", "src", onDepayedAudio, this);
    } else if (enc == "VP8") {
        addProbe(bin, "vdec", "src", onVideoFrame, this);
        if (options.e2ee) addProbe(bin, "vdepay", "src", onDepayedVideo, this);
    }
    gst_bin_add(GST_BIN(pipeline), bin);
    gst_element_sync_state_with_parent(bin);
    GstPad* sinkPad = gst_element_get_static_pad(bin, "sink");
    if (gst_pad_link(pad, sinkPad) != GST_PAD_LINK_OK) fail("receive chain: cannot link " + enc);
    gst_object_unref(sinkPad);
}

// ---- E2EE (streaming threads) ----------------------------------------------------------------------

GstPadProbeReturn Peer::Impl::encryptAudio(GstPadProbeInfo* info) {
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
        std::lock_guard lock(cryptoMutex);
        r = audioEncryptor.encrypt(fi, {map.data, map.size}, {outMap.data, outMap.size});
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
        std::lock_guard lock(statsMutex);
        ++stats.framesEncrypted;
    }
    gst_buffer_unref(in);
    GST_PAD_PROBE_INFO_DATA(info) = out;
    return GST_PAD_PROBE_OK;
}

GstPadProbeReturn Peer::Impl::decrypt(GstPadProbeInfo* info, e2ee::MediaKind kind) {
    GstBuffer* in = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    if (!gst_buffer_map(in, &map, GST_MAP_READ)) return GST_PAD_PROBE_DROP;
    GstBuffer* out = gst_buffer_new_allocate(nullptr, map.size, nullptr);
    GstMapInfo outMap;
    gst_buffer_map(out, &outMap, GST_MAP_WRITE);
    e2ee::FrameInfo fi;
    fi.kind = kind;
    if (kind == e2ee::MediaKind::Video) {
        fi.codec = e2ee::VideoCodec::VP8;
        fi.keyFrame = map.size > 0 && (map.data[0] & 0x01) == 0;  // VP8 frame tag P bit (clear)
    }
    e2ee::FrameResult r;
    {
        std::lock_guard lock(cryptoMutex);
        auto& dec = kind == e2ee::MediaKind::Audio ? audioDecryptor : videoDecryptor;
        r = dec.decrypt(fi, {map.data, map.size}, {outMap.data, outMap.size});
    }
    gst_buffer_unmap(out, &outMap);
    gst_buffer_unmap(in, &map);
    if (!r.ok()) {
        gst_buffer_unref(out);
        std::lock_guard lock(statsMutex);
        ++stats.decryptFailures;
        return GST_PAD_PROBE_DROP;  // never hand ciphertext to the decoder
    }
    gst_buffer_set_size(out, static_cast<gssize>(r.size));
    gst_buffer_copy_into(out, in, GST_BUFFER_COPY_METADATA, 0, static_cast<gsize>(-1));
    if (r.status == e2ee::FrameStatus::Ok) {
        std::lock_guard lock(statsMutex);
        if (stats.framesDecrypted++ == 0) stats.firstDecryptedAfter = sinceCreated();
    }
    gst_buffer_unref(in);
    GST_PAD_PROBE_INFO_DATA(info) = out;
    return GST_PAD_PROBE_OK;
}

void Peer::Impl::packetizeVideoFrame(GstSample* sample) {
    GstBuffer* in = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (in == nullptr || vp8Src == nullptr || !gst_buffer_map(in, &map, GST_MAP_READ)) return;
    const GstClockTime pts = GST_BUFFER_PTS(in);
    const std::uint32_t rtpTs =
        vp8TsBase + (GST_CLOCK_TIME_IS_VALID(pts)
                         ? static_cast<std::uint32_t>(gst_util_uint64_scale(pts, 90000, GST_SECOND))
                         : 0);
    e2ee::FrameInfo fi;
    fi.kind = e2ee::MediaKind::Video;
    fi.codec = e2ee::VideoCodec::VP8;
    fi.keyFrame = map.size > 0 && (map.data[0] & 0x01) == 0;
    fi.ssrc = vp8Ssrc;
    fi.rtpTimestamp = rtpTs;
    e2ee::FrameResult r;
    std::vector<Vp8Packet> packets;
    {
        std::lock_guard lock(cryptoMutex);
        cryptoScratch.resize(e2ee::maxEncryptedSize(map.size));
        r = videoEncryptor.encrypt(fi, {map.data, map.size}, cryptoScratch);
        if (r.ok()) packets = packetizeVp8({cryptoScratch.data(), r.size}, vp8PictureId);
    }
    gst_buffer_unmap(in, &map);
    if (!r.ok()) return;  // no key yet: send nothing
    vp8PictureId = (vp8PictureId + 1) & 0x7FFF;
    if (r.status == e2ee::FrameStatus::Ok) {
        std::lock_guard lock(statsMutex);
        ++stats.framesEncrypted;
    }
    for (const auto& p : packets) {
        GstBuffer* buf = gst_rtp_buffer_new_allocate(static_cast<guint>(p.payload.size()), 0, 0);
        GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
        gst_rtp_buffer_map(buf, GST_MAP_WRITE, &rtp);
        gst_rtp_buffer_set_payload_type(&rtp, kVp8PayloadType);
        gst_rtp_buffer_set_seq(&rtp, vp8Seq++);
        gst_rtp_buffer_set_timestamp(&rtp, rtpTs);
        gst_rtp_buffer_set_ssrc(&rtp, vp8Ssrc);
        gst_rtp_buffer_set_marker(&rtp, p.marker);
        std::memcpy(gst_rtp_buffer_get_payload(&rtp), p.payload.data(), p.payload.size());
        gst_rtp_buffer_unmap(&rtp);
        GST_BUFFER_PTS(buf) = pts;
        gst_app_src_push_buffer(GST_APP_SRC(vp8Src), buf);
    }
}

// ---- public API (Asio side) ------------------------------------------------------------------------

std::optional<core::SdpStreamMetadata> streamMetadata(const MediaOptions& options) {
    if (options.streamId.empty()) return std::nullopt;
    core::StreamMetadata stream;
    stream.purpose = core::StreamPurpose::UserMedia;
    stream.audioMuted = options.audioMuted;
    stream.videoMuted = options.videoMuted;
    return core::SdpStreamMetadata{{options.streamId, stream}};
}

Peer::Peer(MediaEngine& engine, MediaOptions options, Listener listener) : m_impl(std::make_shared<Impl>()) {
    m_impl->engine = engine.impl();
    m_impl->options = std::move(options);
    m_impl->listener = std::move(listener);
    m_impl->engine->invoke([impl = m_impl] { impl->build(); });
}

Peer::~Peer() {
    close();
}

void Peer::close() {
    if (m_impl->closed.exchange(true)) return;
    m_impl->engine->invoke([impl = m_impl] { impl->teardown(); });
}

void Peer::createOffer(bool iceRestart) {
    m_impl->engine->invoke([impl = m_impl, iceRestart] {
        if (impl->webrtc == nullptr || impl->torndown) return;
        if (iceRestart) {
            impl->fail("ICE restart is not supported by webrtcbin 1.22");
            return;
        }
        if (impl->options.dataChannel && impl->channel == nullptr) {
            GstWebRTCDataChannel* ch = nullptr;
            g_signal_emit_by_name(impl->webrtc, "create-data-channel", kDataChannelLabel, nullptr, &ch);
            if (ch != nullptr) {
                impl->attachDataChannel(ch);
                gst_object_unref(ch);
            }
        }
        GstPromise* promise = gst_promise_new_with_change_func(
            onDescriptionCreated, new PromiseContext{impl, core::SdpType::Offer}, deletePromiseContext);
        g_signal_emit_by_name(impl->webrtc, "create-offer", nullptr, promise);
    });
}

void Peer::createAnswer() {
    m_impl->engine->invoke([impl = m_impl] {
        if (impl->webrtc == nullptr || impl->torndown) return;
        GstPromise* promise = gst_promise_new_with_change_func(
            onDescriptionCreated, new PromiseContext{impl, core::SdpType::Answer}, deletePromiseContext);
        g_signal_emit_by_name(impl->webrtc, "create-answer", nullptr, promise);
    });
}

void Peer::setRemoteDescription(const core::SessionDescription& description) {
    m_impl->engine->invoke([impl = m_impl, description] {
        if (impl->webrtc == nullptr || impl->torndown) return;
        GstSDPMessage* sdp = nullptr;
        gst_sdp_message_new_from_text(description.sdp.c_str(), &sdp);
        if (sdp == nullptr) {
            impl->fail("remote SDP does not parse");
            return;
        }
        GstWebRTCSessionDescription* desc = gst_webrtc_session_description_new(
            description.type == core::SdpType::Offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER,
            sdp);
        GstPromise* promise = gst_promise_new_with_change_func(
            onRemoteDescriptionSet, new PromiseContext{impl, description.type}, deletePromiseContext);
        g_signal_emit_by_name(impl->webrtc, "set-remote-description", desc, promise);
        gst_webrtc_session_description_free(desc);
    });
}

void Peer::addRemoteCandidates(const std::vector<core::IceCandidate>& candidates) {
    m_impl->engine->invoke([impl = m_impl, candidates] {
        if (impl->webrtc == nullptr || impl->torndown) return;
        for (const auto& c : candidates) {
            if (c.endOfCandidates()) continue;  // webrtcbin 1.22 has no end-of-candidates input
            const guint mline = c.sdpMLineIndex.value_or(0);
            g_signal_emit_by_name(impl->webrtc, "add-ice-candidate", mline, c.candidate.c_str());
        }
    });
}

void Peer::sendData(const std::string& text) {
    m_impl->engine->invoke([impl = m_impl, text] {
        if (impl->channel == nullptr || impl->torndown) return;
        GError* error = nullptr;
        if (!gst_webrtc_data_channel_send_string_full(impl->channel, text.c_str(), &error)) {
            impl->fail(std::string("data channel: ") + (error != nullptr ? error->message : "send failed"));
            g_clear_error(&error);
        }
    });
}

void Peer::setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    std::lock_guard lock(m_impl->cryptoMutex);
    m_impl->audioEncryptor.setKey(keyIndex, raw);
    m_impl->videoEncryptor.setKey(keyIndex, raw);
}

void Peer::setReceiveKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    std::lock_guard lock(m_impl->cryptoMutex);
    m_impl->audioDecryptor.keys().setKey(keyIndex, raw);
    m_impl->videoDecryptor.keys().setKey(keyIndex, raw);
}

PeerStats Peer::stats() const {
    std::lock_guard lock(m_impl->statsMutex);
    PeerStats s = m_impl->stats;
    s.createdAt = m_impl->created;
    return s;
}

}  // namespace mxrtc::rtc
