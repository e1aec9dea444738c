// The SFU publisher: one webrtcbin (WebrtcEndpoint) with the mesh Peer's send chain, sendonly, our
// track ids written into the offer's msid lines (livekit::sdp::setMsid).
#include <sstream>

#include "mxrtc/livekit/sdp.hpp"
#include "mxrtc/rtc/sfu_peers.hpp"
#include "rtc/send_chain.hpp"
#include "rtc/webrtc_endpoint.hpp"

namespace mxrtc::rtc {

struct SfuPublisher::Impl : WebrtcEndpoint {
    Impl(MediaEngine& engine, SfuPublisherOptions o, const SfuPeerListener& l)
        : WebrtcEndpoint(engineImpl(engine), endpointEventsOf(l)),
          options(std::move(o)),
          send(SendOptions::from(options.media)) {}

    SfuPublisherOptions options;
    SendChain send;
    std::vector<GstWebRTCDataChannel*> channels;  // GLib thread

    std::string description() const {
        std::ostringstream d;
        d << "webrtcbin name=webrtc bundle-policy=max-bundle latency=" << options.media.jitterLatencyMs << " "
          << send.describe();
        return d.str();
    }

    bool attach() override {
        if (auto error = send.attach(pipeline())) {
            fail(*error);
            return false;
        }
        // We only send: the SFU's answer then carries no receive streams for us.
        GArray* transceivers = nullptr;
        g_signal_emit_by_name(webrtc(), "get-transceivers", &transceivers);
        if (transceivers != nullptr) {
            for (guint i = 0; i < transceivers->len; ++i) {
                auto* t = g_array_index(transceivers, GstWebRTCRTPTransceiver*, i);
                g_object_set(t, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
            }
            g_array_unref(transceivers);
        }
        return true;
    }

    std::string mungeLocalDescription(core::SdpType, std::string sdp) override {
        std::map<std::string, livekit::sdp::StreamTrack> tracks;
        if (!options.audioTrackId.empty()) tracks["audio"] = {options.streamId, options.audioTrackId};
        if (!options.videoTrackId.empty()) tracks["video"] = {options.streamId, options.videoTrackId};
        return tracks.empty() ? sdp : livekit::sdp::setMsid(sdp, tracks);
    }

    void releaseElements() override {
        for (auto* ch : channels)
            gst_object_unref(ch);
        channels.clear();
        send.release();
    }

    void createDataChannels() {
        if (!options.dataChannels || !channels.empty()) return;
        const auto make = [this](const char* label, GstStructure* init) {
            GstWebRTCDataChannel* ch = nullptr;
            g_signal_emit_by_name(webrtc(), "create-data-channel", label, init, &ch);
            if (init != nullptr) gst_structure_free(init);
            if (ch != nullptr) channels.push_back(ch);
        };
        make("_reliable", gst_structure_new("config", "ordered", G_TYPE_BOOLEAN, TRUE, nullptr));
        make("_lossy", gst_structure_new("config", "ordered", G_TYPE_BOOLEAN, FALSE, "max-retransmits",
                                         G_TYPE_INT, 0, nullptr));
    }
};

SfuPublisher::SfuPublisher(MediaEngine& engine, SfuPublisherOptions options, SfuPeerListener listener)
    : m_impl(std::make_shared<Impl>(engine, std::move(options), listener)) {
    const auto& m = m_impl->options.media;
    m_impl->start(m_impl->description(),
                  IceOptions{m.iceAddresses, m.stunServer, m.icePacingMs, m.relayOnly});
}

SfuPublisher::~SfuPublisher() {
    close();
}

void SfuPublisher::addTurnServers(std::vector<std::string> uris) {
    m_impl->addTurnServers(std::move(uris));
}

void SfuPublisher::close() {
    m_impl->close();
}

void SfuPublisher::createOffer() {
    m_impl->whenBuilt([impl = m_impl.get()] {
        impl->createDataChannels();
        impl->createDescription(core::SdpType::Offer);
    });
}

void SfuPublisher::setRemoteAnswer(const std::string& sdp) {
    m_impl->whenBuilt([impl = m_impl.get(), sdp] { impl->setRemoteDescription(core::SdpType::Answer, sdp); });
}

void SfuPublisher::addRemoteCandidates(const std::vector<core::IceCandidate>& candidates) {
    m_impl->whenBuilt([impl = m_impl.get(), candidates] { impl->addRemoteCandidates(candidates); });
}

void SfuPublisher::setSendKey(KeyIndex index, std::span<const std::uint8_t> raw) {
    m_impl->send.setSendKey(index.value, raw);
}

void SfuPublisher::setMuted(TrackKind kind, bool muted) {
    m_impl->whenBuilt([impl = m_impl.get(), kind, muted] {
        impl->send.setMuted(kind == TrackKind::Audio ? e2ee::MediaKind::Audio : e2ee::MediaKind::Video,
                            muted);
    });
}

SfuPublisherStats SfuPublisher::stats() const {
    const SendStats s = m_impl->send.stats();
    SfuPublisherStats out;
    out.framesEncrypted = s.framesEncrypted;
    out.videoFramesEncoded = s.videoFramesEncoded;
    out.keyFramesEncoded = s.keyFramesEncoded;
    out.keyFrameRequests = s.keyFrameRequests;
    out.keyFrameRequestsForwarded = s.keyFrameRequestsForwarded;
    out.lastKeyFrameAt = s.lastKeyFrameAt;
    out.iceConnectedAt = m_impl->iceConnectedAt();
    out.createdAt = m_impl->createdAt();
    return out;
}

}  // namespace mxrtc::rtc
