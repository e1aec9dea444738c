// The mesh Peer: one webrtcbin (WebrtcEndpoint) sending our tone and test pattern or the call's
// MediaInput (SendChain), decoding whatever the one remote sends (attachReceiveChain into one
// RemoteMedia, optionally into MediaSinks), plus a data channel.
#include "mxrtc/rtc/peer.hpp"

#include <sstream>

#include "rtc/receive_chain.hpp"
#include "rtc/send_chain.hpp"
#include "rtc/webrtc_endpoint.hpp"

namespace mxrtc::rtc {

namespace {

constexpr const char* kDataChannelLabel = "mxrtc";

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

EndpointEvents eventsOf(const Peer::Listener& l) {
    return {l.onLocalDescription, l.onLocalCandidate, l.onIceState, nullptr, l.onError};
}

void onDataMessage(GstWebRTCDataChannel*, gchar* text, gpointer data);

}  // namespace

struct Peer::Impl : WebrtcEndpoint {
    Impl(MediaEngine& engine, MediaOptions o, Listener l)
        : WebrtcEndpoint(engineImpl(engine), eventsOf(l)),
          options(std::move(o)),
          listener(std::move(l)),
          send(SendOptions::from(options)),
          remote(std::make_shared<RemoteMedia>()) {}

    MediaOptions options;
    Listener listener;
    SendChain send;
    std::shared_ptr<RemoteMedia> remote;
    GstWebRTCDataChannel* channel = nullptr;  // GLib / webrtcbin threads
    std::atomic<std::uint64_t> dataMessages{0};

    std::string description() const {
        std::ostringstream d;
        d << "webrtcbin name=webrtc bundle-policy=max-bundle latency=" << options.jitterLatencyMs << " "
          << send.describe();
        return d.str();
    }

    bool attach() override {
        if (auto error = send.attach(pipeline())) {
            fail(*error);
            return false;
        }
        // What we do not send we still want to receive: recvonly transceivers put audio and video
        // sections into our offers (a receive-only recorder, an audio-only file).
        const auto receiveOnly = [this](const char* caps) {
            GstCaps* c = gst_caps_from_string(caps);
            GstWebRTCRTPTransceiver* t = nullptr;
            g_signal_emit_by_name(webrtc(), "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                                  c, &t);
            gst_caps_unref(c);
            if (t != nullptr) gst_object_unref(t);
        };
        if (!options.audio)
            receiveOnly(("application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=" +
                         std::to_string(kOpusPayloadType))
                            .c_str());
        if (!options.video)
            receiveOnly(("application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=" +
                         std::to_string(kVp8PayloadType))
                            .c_str());
        return true;
    }

    std::string mungeLocalDescription(core::SdpType, std::string sdp) override {
        return withMsid(sdp, options.streamId);
    }

    void releaseElements() override {
        if (channel != nullptr) {
            g_signal_handlers_disconnect_by_data(channel, this);
            gst_clear_object(&channel);
        }
        send.release();
    }

    void onIncomingPad(GstPad* pad) override {
        ReceiveChainOptions ro;
        ro.decrypt = options.e2ee;
        ro.recordPrefix = options.recordPrefix;
        ro.sinks = options.sinks;
        auto result = attachReceiveChain(pipeline(), pad, ro, [r = remote] { return r; });
        if (!result.error.empty()) fail(result.error);
    }

    void onDataChannel(GstWebRTCDataChannel* ch) override { attachDataChannel(ch); }

    void attachDataChannel(GstWebRTCDataChannel* ch) {
        if (channel != nullptr) return;
        channel = GST_WEBRTC_DATA_CHANNEL(gst_object_ref(ch));
        g_signal_connect(channel, "on-message-string", G_CALLBACK(onDataMessage), this);
    }

    void dataMessage(std::string text) {
        ++dataMessages;
        post([this, text = std::move(text)] {
            if (listener.onDataMessage) listener.onDataMessage(text);
        });
    }
};

namespace {

void onDataMessage(GstWebRTCDataChannel*, gchar* text, gpointer data) {
    static_cast<Peer::Impl*>(data)->dataMessage(text != nullptr ? text : "");
}

std::optional<Duration> since(SteadyClock::time_point origin, std::optional<SteadyClock::time_point> t) {
    if (!t) return std::nullopt;
    return std::chrono::duration_cast<Duration>(*t - origin);
}

}  // namespace

// ---- public API (Asio side) ------------------------------------------------------------------------

std::optional<core::SdpStreamMetadata> streamMetadata(const MediaOptions& options) {
    if (options.streamId.empty()) return std::nullopt;
    core::StreamMetadata stream;
    stream.purpose = core::StreamPurpose::UserMedia;
    stream.audioMuted = options.audioMuted;
    stream.videoMuted = options.videoMuted;
    return core::SdpStreamMetadata{{options.streamId, stream}};
}

Peer::Peer(MediaEngine& engine, MediaOptions options, Listener listener)
    : m_impl(std::make_shared<Impl>(engine, std::move(options), std::move(listener))) {
    IceOptions ice{m_impl->options.iceAddresses, m_impl->options.stunServer, m_impl->options.icePacingMs};
    m_impl->start(m_impl->description(), std::move(ice));
}

Peer::~Peer() {
    close();
}

void Peer::close() {
    m_impl->close();
}

void Peer::createOffer(bool iceRestart) {
    m_impl->whenBuilt([impl = m_impl.get(), iceRestart] {
        if (iceRestart) {
            impl->fail("ICE restart is not supported by webrtcbin 1.22");
            return;
        }
        if (impl->options.dataChannel && impl->channel == nullptr) {
            GstWebRTCDataChannel* ch = nullptr;
            g_signal_emit_by_name(impl->webrtc(), "create-data-channel", kDataChannelLabel, nullptr, &ch);
            if (ch != nullptr) {
                impl->attachDataChannel(ch);
                gst_object_unref(ch);
            }
        }
        impl->createDescription(core::SdpType::Offer);
    });
}

void Peer::createAnswer() {
    m_impl->whenBuilt([impl = m_impl.get()] { impl->createDescription(core::SdpType::Answer); });
}

void Peer::setRemoteDescription(const core::SessionDescription& description) {
    m_impl->whenBuilt([impl = m_impl.get(), description] {
        impl->setRemoteDescription(description.type, description.sdp);
    });
}

void Peer::addRemoteCandidates(const std::vector<core::IceCandidate>& candidates) {
    m_impl->whenBuilt([impl = m_impl.get(), candidates] { impl->addRemoteCandidates(candidates); });
}

void Peer::sendData(const std::string& text) {
    m_impl->whenBuilt([impl = m_impl.get(), text] {
        if (impl->channel == nullptr) return;
        GError* error = nullptr;
        if (!gst_webrtc_data_channel_send_string_full(impl->channel, text.c_str(), &error)) {
            impl->fail(std::string("data channel: ") + (error != nullptr ? error->message : "send failed"));
            g_clear_error(&error);
        }
    });
}

void Peer::setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    m_impl->send.setSendKey(keyIndex, raw);
}

void Peer::setReceiveKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    m_impl->remote->setKey(keyIndex, raw);
}

void Peer::setRemoteParticipant(const std::string& user, const std::string& device) {
    RemoteFrameInfo who;
    who.user = user;
    who.device = device;
    m_impl->remote->setParticipant(std::move(who));
}

PeerStats Peer::stats() const {
    const auto created = m_impl->createdAt();
    const ReceiveStats r = m_impl->remote->stats();
    PeerStats s;
    s.audioBuffersDecoded = r.audioBuffersDecoded;
    s.audioSamplesDecoded = r.audioSamplesDecoded;
    s.audioRms = r.audioRms;
    s.audioHz = r.audioHz;
    s.videoFramesDecoded = r.videoFramesDecoded;
    s.videoKeyFrames = r.videoKeyFrames;
    s.dataMessagesReceived = m_impl->dataMessages.load();
    s.framesEncrypted = m_impl->send.stats().framesEncrypted;
    s.framesDecrypted = r.framesDecrypted;
    s.decryptFailures = r.decryptFailures;
    s.iceConnectedAfter = since(created, m_impl->iceConnectedAt());
    s.firstAudioAfter = since(created, r.firstAudioAt);
    s.firstVideoAfter = since(created, r.firstVideoAt);
    s.firstDecryptedAfter = since(created, r.firstDecryptedAt);
    s.createdAt = created;
    return s;
}

}  // namespace mxrtc::rtc
