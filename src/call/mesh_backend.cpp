// The mesh backend: rtc::MeshSession (MSC3401 full mesh over to-device signalling) behind the
// MediaBackend interface, its events turned into typed CallEvents.
#include <tuple>

#include "backend.hpp"
#include "mxrtc/rtc/mesh_session.hpp"

namespace mxrtc::call::detail {

namespace {

class MeshBackend final : public MediaBackend {
  public:
    explicit MeshBackend(BackendContext c) : m_emit(std::move(c.emit)) {
        rtc::MeshSessionConfig config;
        // What we do not send (an audio-only file, receive-only) still gets a section in our offers:
        // the Peer adds recvonly transceivers, so the other side can send it to us.
        config.media = mediaOptions(c.config, c.self.deviceId, c.input);
        config.media.streamId = "mxrtc-" + c.self.deviceId.str();
        m_session = std::make_unique<rtc::MeshSession>(c.client, c.self, c.slot, c.engine, std::move(config),
                                                       c.olm, [this](const rtc::MeshEvent& e) { report(e); });
    }

    void onCallUpdate(const matrix::CallUpdate& update, const core::RoomCalls& calls) override {
        m_session->onCallUpdate(update, calls);
    }
    void onToDevice(const matrix::ReceivedToDevice& message) override { m_session->onToDevice(message); }
    void leave() override { m_session->leave(); }
    Result<void> setMuted(Call::Track, bool) override {
        return makeError(errcode::kUnsupported, "muting during a mesh call is not implemented yet");
    }

    std::vector<ParticipantMedia> media() const override {
        std::vector<ParticipantMedia> out;
        for (const auto& p : m_session->peers()) {
            ParticipantMedia m;
            m.user = p.user;
            m.device = p.device;
            m.state = std::string(core::toString(p.state));
            m.stats = MediaStats{.audioBuffers = p.stats.audioBuffersDecoded,
                                 .audioRms = p.stats.audioRms,
                                 .audioHz = p.stats.audioHz,
                                 .videoFrames = p.stats.videoFramesDecoded,
                                 .videoKeyFrames = p.stats.videoKeyFrames,
                                 .framesEncrypted = p.stats.framesEncrypted,
                                 .framesDecrypted = p.stats.framesDecrypted,
                                 .decryptFailures = p.stats.decryptFailures};
            m.joinToFirstFrame = p.memberSeenToFirstFrame;
            m.joinToConnected = p.memberSeenToConnected;
            m.joinToFirstVideo = p.memberSeenToFirstVideo;
            out.push_back(std::move(m));
        }
        return out;
    }

  private:
    void report(const rtc::MeshEvent& e) {
        using K = rtc::MeshEvent::Kind;
        const UserId user(e.user);
        const DeviceId device(e.device);
        switch (e.kind) {
            case K::PeerStarted:
                m_emit(PeerStarted{user, device, e.detail});
                return;
            case K::PeerState:
                m_emit(PeerStateChanged{user, device, e.detail});
                return;
            case K::PeerEnded:
                m_emit(PeerEnded{user, device, e.detail});
                return;
            case K::Dropped:
                m_emit(SignallingDropped{user, device, e.detail});
                return;
            case K::Warning:
                m_emit(Warning{e.user.empty() ? std::nullopt : std::optional(user),
                               e.device.empty() ? std::nullopt : std::optional(device), e.detail});
                return;
            case K::RemoteMedia:
                m_emit(RemoteMediaChanged{user, device, e.detail});
                return;
        }
    }

    Emit m_emit;
    std::unique_ptr<rtc::MeshSession> m_session;
};

}  // namespace

namespace {

ParticipantFrameInfo frameInfo(const rtc::RemoteFrameInfo& r, const MemberDirectory* members) {
    ParticipantFrameInfo info;
    info.identity = r.identity;
    info.pts = r.pts;
    if (!r.user.empty()) {  // mesh: the peer's member
        info.user = UserId(r.user);
        info.device = DeviceId(r.device);
    } else if (members != nullptr) {
        std::tie(info.user, info.device) = members->find(r.identity);
    } else {
        info.user = UserId(r.identity);
    }
    return info;
}

// The application's frame callbacks and sink descriptions as the rtc peers take them.
rtc::MediaSinks mediaSinks(const MediaConfig& m, std::shared_ptr<const MemberDirectory> members) {
    rtc::MediaSinks sinks;
    sinks.audioPipeline = m.audioSinkPipeline;
    sinks.videoPipeline = m.videoSinkPipeline;
    if (m.onAudioFrame)
        sinks.onAudio = [cb = m.onAudioFrame, members](const rtc::RemoteFrameInfo& r,
                                                       std::span<const std::int16_t> pcm) {
            cb(frameInfo(r, members.get()), pcm);
        };
    if (m.onVideoFrame)
        sinks.onVideo = [cb = m.onVideoFrame, members](const rtc::RemoteFrameInfo& r,
                                                       const rtc::I420View& v) {
            cb(frameInfo(r, members.get()), I420Frame{v.width, v.height, v.planes[0], v.planes[1],
                                                      v.planes[2], v.strides[0], v.strides[1], v.strides[2]});
        };
    return sinks;
}

}  // namespace

rtc::MediaOptions mediaOptions(const CallConfig& config, const DeviceId& device,
                               const std::shared_ptr<rtc::MediaInput>& input,
                               std::shared_ptr<const MemberDirectory> members) {
    const MediaConfig& m = config.media;
    rtc::MediaOptions o;
    o.input = input;
    if (input) {  // send what the source has (a LiveKit participant publishes only those tracks)
        o.audio = input->hasAudio();
        o.video = input->hasVideo();
    }
    if (m.source == MediaSource::Receive) o.audio = o.video = false;  // receive only
    o.sinks = mediaSinks(m, std::move(members));
    o.e2ee = config.e2ee;
    o.recordDir = m.recordDir;
    o.videoWidth = m.width;
    o.videoHeight = m.height;
    o.videoFramerate = m.framerate;
    o.keyFrameInterval = m.keyFrameInterval;
    if (!m.iceAddresses.empty()) o.iceAddresses = m.iceAddresses;
    o.stunServer = m.stunServer;
    o.relayOnly = m.relayOnly;
    o.audioMuted = m.muteAudio;
    o.videoMuted = m.muteVideo;
    if (m.lowLatency) {
        o.jitterLatencyMs = 10;
        o.icePacingMs = 5;
    }
    // A tone per device (300..900 Hz) unless asked: recordings tell the participants apart.
    const std::size_t h = std::hash<std::string>{}(device.str());
    o.toneFrequency = m.toneHz > 0 ? m.toneHz : 300.0 + static_cast<double>(h % 601);
    return o;
}

std::unique_ptr<MediaBackend> makeMeshBackend(BackendContext context) {
    return std::make_unique<MeshBackend>(std::move(context));
}

}  // namespace mxrtc::call::detail
