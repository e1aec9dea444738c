// The SFU subscriber: one webrtcbin (WebrtcEndpoint) without sources. Each incoming pad gets the
// shared receive chain; its frames are accounted to (and decrypted with the keys of) whoever its mid
// is mapped to at that moment, looked up per frame in a table the caller updates on every offer.
#include <atomic>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "mxrtc/livekit/sdp.hpp"
#include "mxrtc/rtc/sfu_peers.hpp"
#include "rtc/receive_chain.hpp"
#include "rtc/webrtc_endpoint.hpp"

namespace mxrtc::rtc {

namespace {

// A file name part from an identity or mid: [A-Za-z0-9._-], the rest as '_'.
std::string fileSafe(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
    return out;
}

// <dir>/<owner>_<mid>_<n>: mids are reused for later tracks (a participant who rejoins, a new
// subscriber connection), so n, counted per process and skipping names already on disk, keeps every
// track's files apart: a recording never overwrites an earlier one.
std::string recordPrefix(const std::string& dir, const std::string& owner, const TrackMid& mid) {
    static std::atomic<std::uint64_t> counter{0};
    for (;;) {
        const std::string prefix =
            dir + "/" + fileSafe(owner) + "_" + fileSafe(mid.str()) + "_" + std::to_string(++counter);
        std::error_code ec;
        if (!std::filesystem::exists(prefix + ".opus.ogg", ec) &&
            !std::filesystem::exists(prefix + ".vp8.webm", ec))
            return prefix;
    }
}

// Participants and the mid -> identity table (streaming threads read, the Asio side writes).
class Participants {
  public:
    std::shared_ptr<RemoteMedia> participant(const ParticipantIdentity& identity) {
        std::lock_guard lock(m_mutex);
        return entryLocked(identity).media;
    }
    // True if the mid changes owner.
    bool map(const TrackMid& mid, const ParticipantIdentity& identity) {
        std::lock_guard lock(m_mutex);
        auto& e = entryLocked(identity);
        if (!e.mappedAt) e.mappedAt = SteadyClock::now();
        auto [it, inserted] = m_owner.try_emplace(mid, identity);
        if (inserted) return true;
        const bool changed = it->second != identity;
        it->second = identity;
        return changed;
    }
    void unmap(const TrackMid& mid) {
        std::lock_guard lock(m_mutex);
        m_owner.erase(mid);
    }
    std::optional<ParticipantIdentity> ownerOf(const TrackMid& mid) const {
        std::lock_guard lock(m_mutex);
        auto it = m_owner.find(mid);
        if (it == m_owner.end()) return std::nullopt;
        return it->second;
    }
    // Per frame: the current owner's media, or nullptr.
    std::shared_ptr<RemoteMedia> resolve(const TrackMid& mid) const {
        std::lock_guard lock(m_mutex);
        auto it = m_owner.find(mid);
        if (it == m_owner.end()) return nullptr;
        return m_entries.at(it->second).media;
    }
    void unownedFrameDropped() {
        std::lock_guard lock(m_mutex);
        ++m_unmappedFrames;
    }
    void setServerInjectedTrailer(std::span<const std::uint8_t> trailer) {
        std::lock_guard lock(m_mutex);
        m_sif.assign(trailer.begin(), trailer.end());
        for (auto& [id, e] : m_entries)
            e.media->setServerInjectedTrailer(m_sif);
    }
    void fill(SfuSubscriberStats& out) const {
        std::lock_guard lock(m_mutex);
        out.unmappedFrames = m_unmappedFrames;
        for (const auto& [id, e] : m_entries) {
            const ReceiveStats r = e.media->stats();
            SfuParticipantStats p;
            p.audioBuffersDecoded = r.audioBuffersDecoded;
            p.audioSamplesDecoded = r.audioSamplesDecoded;
            p.audioRms = r.audioRms;
            p.audioHz = r.audioHz;
            p.videoFramesDecoded = r.videoFramesDecoded;
            p.videoKeyFrames = r.videoKeyFrames;
            p.framesDecrypted = r.framesDecrypted;
            p.framesPassedThrough = r.framesPassedThrough;
            p.decryptFailures = r.decryptFailures;
            p.callbackExceptions = r.callbackExceptions;
            p.mappedAt = e.mappedAt;
            p.firstAudioAt = r.firstAudioAt;
            p.firstVideoAt = r.firstVideoAt;
            p.firstDecryptedAt = r.firstDecryptedAt;
            out.participants[id] = p;
        }
    }

  private:
    struct Entry {
        std::shared_ptr<RemoteMedia> media;
        std::optional<SteadyClock::time_point> mappedAt;
    };
    Entry& entryLocked(const ParticipantIdentity& identity) {
        auto [it, inserted] = m_entries.try_emplace(identity);
        if (inserted) {
            it->second.media = std::make_shared<RemoteMedia>();
            RemoteFrameInfo who;
            who.identity = identity.str();
            it->second.media->setParticipant(std::move(who));
            if (!m_sif.empty()) it->second.media->setServerInjectedTrailer(m_sif);
        }
        return it->second;
    }

    mutable std::mutex m_mutex;
    std::map<ParticipantIdentity, Entry> m_entries;
    std::map<TrackMid, ParticipantIdentity> m_owner;
    std::vector<std::uint8_t> m_sif;
    std::uint64_t m_unmappedFrames = 0;
};

void onDataMessageData(GstWebRTCDataChannel*, GBytes*, gpointer data);
void onDataMessageString(GstWebRTCDataChannel*, gchar*, gpointer data);

}  // namespace

struct SfuSubscriber::Impl : WebrtcEndpoint {
    Impl(MediaEngine& engine, SfuSubscriberOptions o, const SfuPeerListener& l)
        : WebrtcEndpoint(engineImpl(engine), endpointEventsOf(l)), options(std::move(o)) {}

    SfuSubscriberOptions options;
    std::shared_ptr<Participants> participants = std::make_shared<Participants>();

    std::mutex padsMutex;  // pad-added runs on webrtcbin's threads
    struct Track {
        TrackMid mid;
        std::string encoding;
        GstPad* pad = nullptr;  // webrtcbin src pad (ref)
    };
    std::vector<Track> pads;
    std::vector<GstWebRTCDataChannel*> channels;
    std::atomic<std::uint64_t> tracksStarted{0};
    std::atomic<std::uint64_t> dataMessages{0};

    std::string description() const {
        std::ostringstream d;
        d << "webrtcbin name=webrtc bundle-policy=max-bundle latency=" << options.jitterLatencyMs;
        return d.str();
    }

    void onIncomingPad(GstPad* pad) override {
        TrackMid mid;
        GstWebRTCRTPTransceiver* transceiver = nullptr;
        g_object_get(pad, "transceiver", &transceiver, nullptr);
        if (transceiver != nullptr) {
            gchar* text = nullptr;
            g_object_get(transceiver, "mid", &text, nullptr);
            if (text != nullptr) mid = TrackMid(text);
            g_free(text);
            gst_object_unref(transceiver);
        }
        ++tracksStarted;
        ReceiveChainOptions ro;
        ro.decrypt = options.e2ee;
        ro.requestKeyFrames = options.requestKeyFrames;
        ro.onUnownedFrameDropped = [p = participants] { p->unownedFrameDropped(); };
        ro.sinks = options.sinks;
        if (!options.recordDir.empty()) {
            const auto owner = participants->ownerOf(mid);
            ro.recordPrefix = recordPrefix(options.recordDir, owner ? owner->str() : "unknown", mid);
        }
        auto result =
            attachReceiveChain(pipeline(), pad, ro, [p = participants, mid] { return p->resolve(mid); });
        if (!result.error.empty()) {
            fail(result.error);
            return;
        }
        {
            std::lock_guard lock(padsMutex);
            pads.push_back({mid, result.encoding, GST_PAD(gst_object_ref(pad))});
        }
        // A new video stream starts decoding at a key frame: ask for one now rather than wait for
        // the sender's next periodic one (the SFU asks too when it adds a subscriber).
        if (result.encoding == "VP8" && options.requestKeyFrames)
            whenBuilt([this, mid] { requestKeyFrame(mid); });
    }

    void onDataChannel(GstWebRTCDataChannel* ch) override {
        std::lock_guard lock(padsMutex);
        channels.push_back(GST_WEBRTC_DATA_CHANNEL(gst_object_ref(ch)));
        g_signal_connect(ch, "on-message-data", G_CALLBACK(onDataMessageData), this);
        g_signal_connect(ch, "on-message-string", G_CALLBACK(onDataMessageString), this);
    }

    void releaseElements() override {
        std::lock_guard lock(padsMutex);
        for (auto& t : pads)
            gst_object_unref(t.pad);
        pads.clear();
        for (auto* ch : channels) {
            g_signal_handlers_disconnect_by_data(ch, this);
            gst_object_unref(ch);
        }
        channels.clear();
    }

    // Upstream force-key-unit on the mid's video pads: webrtcbin's rtpsession sends a PLI.
    void requestKeyFrame(const TrackMid& mid) {
        std::lock_guard lock(padsMutex);
        for (auto& t : pads)
            if (t.mid == mid && t.encoding == "VP8") requestKeyUnit(t.pad);
    }
};

namespace {

void onDataMessageData(GstWebRTCDataChannel*, GBytes*, gpointer data) {
    ++static_cast<SfuSubscriber::Impl*>(data)->dataMessages;
}
void onDataMessageString(GstWebRTCDataChannel*, gchar*, gpointer data) {
    ++static_cast<SfuSubscriber::Impl*>(data)->dataMessages;
}

}  // namespace

SfuSubscriber::SfuSubscriber(MediaEngine& engine, SfuSubscriberOptions options, SfuPeerListener listener)
    : m_impl(std::make_shared<Impl>(engine, std::move(options), listener)) {
    const auto& o = m_impl->options;
    m_impl->start(m_impl->description(),
                  IceOptions{o.iceAddresses, o.stunServer, o.icePacingMs, o.relayOnly});
}

SfuSubscriber::~SfuSubscriber() {
    close();
}

void SfuSubscriber::addTurnServers(std::vector<std::string> uris) {
    m_impl->addTurnServers(std::move(uris));
}

void SfuSubscriber::close() {
    m_impl->close();
}

void SfuSubscriber::setRemoteOffer(const std::string& sdp) {
    std::string restricted = livekit::sdp::restrictCodecs(sdp, m_impl->options.codecs);
    m_impl->whenBuilt([impl = m_impl.get(), restricted = std::move(restricted)] {
        impl->setRemoteDescription(core::SdpType::Offer, restricted);
        impl->createDescription(core::SdpType::Answer);
    });
}

void SfuSubscriber::addRemoteCandidates(const std::vector<core::IceCandidate>& candidates) {
    m_impl->whenBuilt([impl = m_impl.get(), candidates] { impl->addRemoteCandidates(candidates); });
}

void SfuSubscriber::mapMid(const TrackMid& mid, const ParticipantIdentity& identity) {
    // A new owner means new keys: frames before it did not reach the decoder, which needs a key frame.
    if (m_impl->participants->map(mid, identity)) requestKeyFrame(mid);
}

void SfuSubscriber::unmapMid(const TrackMid& mid) {
    m_impl->participants->unmap(mid);
}

void SfuSubscriber::setParticipantKey(const ParticipantIdentity& identity, KeyIndex index,
                                      std::span<const std::uint8_t> raw) {
    m_impl->participants->participant(identity)->setKey(index.value, raw);
}

void SfuSubscriber::setParticipantEncrypted(const ParticipantIdentity& identity, bool encrypted) {
    m_impl->participants->participant(identity)->setEncryptionEnabled(encrypted);
}

void SfuSubscriber::setServerInjectedTrailer(std::span<const std::uint8_t> trailer) {
    m_impl->participants->setServerInjectedTrailer(trailer);
}

void SfuSubscriber::requestKeyFrame(const TrackMid& mid) {
    m_impl->whenBuilt([impl = m_impl.get(), mid] { impl->requestKeyFrame(mid); });
}

SfuSubscriberStats SfuSubscriber::stats() const {
    SfuSubscriberStats s;
    m_impl->participants->fill(s);
    s.tracksStarted = m_impl->tracksStarted.load();
    {
        std::lock_guard lock(m_impl->padsMutex);
        s.dataChannels = m_impl->channels.size();
    }
    s.dataMessages = m_impl->dataMessages.load();
    s.iceConnectedAt = m_impl->iceConnectedAt();
    s.createdAt = m_impl->createdAt();
    return s;
}

}  // namespace mxrtc::rtc
