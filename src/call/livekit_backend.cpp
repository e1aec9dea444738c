// The LiveKit backend: one rtc::LiveKitConnection per SFU the call's memberships ask for
// (core::planSfuConnections: publish on our transport, subscribe on every transport another member
// publishes on), re-planned whenever a member joins or leaves. Media keys go to every connection:
// ours to the publishing one, each member's under its LiveKit identity to every subscriber.
#include <chrono>
#include <map>

#include "backend.hpp"
#include "mxrtc/core/sfu_plan.hpp"
#include "mxrtc/rtc/livekit_connection.hpp"

namespace mxrtc::call::detail {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

class LiveKitBackend final : public MediaBackend {
  public:
    explicit LiveKitBackend(BackendContext c)
        : m_c(std::move(c)),
          m_audioMuted(m_c.config.media.muteAudio),
          m_videoMuted(m_c.config.media.muteVideo) {}

    ~LiveKitBackend() override { m_connections.clear(); }

    void onCallUpdate(const matrix::CallUpdate& u, const core::RoomCalls& calls) override {
        using K = matrix::CallUpdate::Kind;
        switch (u.kind) {
            case K::OwnKey:
                if (!u.key) return;
                m_ownKey.emplace(KeyIndex{u.key->index}, u.key->key);
                for (auto& [url, conn] : m_connections)
                    if (conn.publish) conn.connection->setSendKey(KeyIndex{u.key->index}, u.key->key);
                return;
            case K::KeyReceived:
                if (!u.key || u.identity.empty()) return;
                m_remoteKeys[u.identity][u.key->index] = u.key->key;
                for (auto& [url, conn] : m_connections)
                    conn.connection->setParticipantKey(u.identity, KeyIndex{u.key->index}, u.key->key);
                return;
            case K::MemberJoined: {
                if (!u.identity.empty()) {
                    m_members[u.identity] = {UserId(u.user), DeviceId(u.device)};
                    m_directory->set(u.identity, UserId(u.user), DeviceId(u.device));
                }
                const auto now = std::chrono::steady_clock::now();
                if (u.self) {
                    if (!m_ownSeenAt) m_ownSeenAt = now;
                } else if (!u.identity.empty() && !m_seenAt.contains(u.identity)) {
                    m_seenAt[u.identity] = now;
                }
                replan(calls);
                return;
            }
            case K::MemberLeft:
                if (!u.self) m_seenAt.erase(u.identity);
                replan(calls);
                return;
            case K::Status:
                // The server accepted our membership: connect now rather than when /sync brings
                // it back (Element Call connects in parallel with its membership too).
                if (u.status == core::MembershipStatus::Connected && !m_accepted) {
                    m_accepted = true;
                    if (!m_ownSeenAt) m_ownSeenAt = std::chrono::steady_clock::now();
                    replan(calls);
                }
                return;
            default:
                return;
        }
    }

    Result<void> setMuted(Call::Track track, bool muted) override {
        const auto kind = track == Call::Track::Audio ? rtc::TrackKind::Audio : rtc::TrackKind::Video;
        (track == Call::Track::Audio ? m_audioMuted : m_videoMuted) = muted;
        for (auto& [url, conn] : m_connections)
            if (conn.publish) conn.connection->setMuted(kind, muted);
        return Result<void>();
    }

    void leave() override {
        m_left = true;
        for (auto& [url, conn] : m_connections)
            conn.connection->leave();
    }

    std::vector<ParticipantMedia> media() const override {
        // One entry per remote identity that publishes somewhere (a member subscribed to our SFU from
        // its own appears here without tracks: its media comes over the other connection).
        std::map<std::string, ParticipantMedia> byIdentity;
        for (const auto& [url, conn] : m_connections) {
            const auto state = std::string(livekit::toString(conn.connection->state()));
            for (const auto& r : conn.connection->remotes()) {
                if (r.tracks.empty()) continue;
                ParticipantMedia m;
                if (auto it = m_members.find(r.identity); it != m_members.end()) {
                    m.user = it->second.first;
                    m.device = it->second.second;
                } else {
                    m.user = UserId(r.identity);  // a LiveKit participant without a Matrix membership
                }
                m.identity = r.identity;
                m.state = state;
                const auto& s = r.stats;
                m.stats = MediaStats{.audioBuffers = s.audioBuffersDecoded,
                                     .audioRms = s.audioRms,
                                     .audioHz = s.audioHz,
                                     .videoFrames = s.videoFramesDecoded,
                                     .videoKeyFrames = s.videoKeyFrames,
                                     .framesDecrypted = s.framesDecrypted,
                                     .decryptFailures = s.decryptFailures};
                if (auto pub = conn.connection->publisherStats(); pub && conn.publish)
                    m.stats.framesEncrypted = pub->framesEncrypted;
                const auto first =
                    m_c.config.e2ee ? s.firstDecryptedAt : (s.firstAudioAt ? s.firstAudioAt : s.firstVideoAt);
                if (auto from = joinedAt(r.identity)) {
                    const auto since = [&](std::optional<SteadyTime> t) -> std::optional<Duration> {
                        if (!t) return std::nullopt;
                        return std::chrono::duration_cast<Duration>(*t - *from);
                    };
                    m.joinToFirstFrame = since(first);
                    m.joinToConnected = since(s.mappedAt);
                    m.joinToFirstVideo = since(s.firstVideoAt);
                }
                auto& slot = byIdentity[r.identity];
                if (slot.identity.empty() || m.stats.videoFrames + m.stats.audioBuffers >
                                                 slot.stats.videoFrames + slot.stats.audioBuffers)
                    slot = std::move(m);
            }
        }
        std::vector<ParticipantMedia> out;
        for (auto& [id, m] : byIdentity)
            out.push_back(std::move(m));
        return out;
    }

  private:
    struct Connection {
        std::unique_ptr<rtc::LiveKitConnection> connection;
        bool publish = false;
    };

    // Both memberships seen (ours and theirs): where join -> first frame counts from.
    std::optional<SteadyTime> joinedAt(const std::string& identity) const {
        if (!m_ownSeenAt) return std::nullopt;
        auto it = m_seenAt.find(identity);
        if (it == m_seenAt.end()) return m_ownSeenAt;
        return std::max(*m_ownSeenAt, it->second);
    }

    std::pair<UserId, DeviceId> memberOf(const std::string& identity) const {
        if (auto it = m_members.find(identity); it != m_members.end()) return it->second;
        return {UserId(identity), DeviceId()};
    }

    void replan(const core::RoomCalls& calls) {
        if (m_left) return;
        std::optional<core::JoiningAs> joining;
        if (m_accepted) joining = core::JoiningAs{m_c.ownFocus, m_c.config.focus.selection};
        const auto plan =
            core::planSfuConnections(calls, m_c.slot, m_c.self.userId, m_c.self.deviceId, joining);
        // Our own membership missing while we stay (the server fired our delayed leave, and the
        // membership manager is writing it again): keep the SFUs, the gap is the homeserver's.
        if (plan.empty() && !m_connections.empty()) return;
        // Drop connections that are no longer wanted, or whose role changed (the oldest member left
        // and we publish elsewhere now).
        for (auto it = m_connections.begin(); it != m_connections.end();) {
            const auto want = std::find_if(plan.begin(), plan.end(), [&](const core::SfuConnectionPlan& p) {
                return p.serviceUrl == it->first;
            });
            if (want == plan.end() || want->publish != it->second.publish) {
                m_c.emit(SfuStateChanged{
                    it->first, "leaving",
                    want == plan.end() ? "no member publishes there any more" : "the call's focus moved",
                    it->second.publish});
                it->second.connection->leave();
                it = m_connections.erase(it);
            } else {
                ++it;
            }
        }
        for (const auto& p : plan) {
            if (m_connections.contains(p.serviceUrl)) continue;
            open(p);
        }
    }

    void open(const core::SfuConnectionPlan& p) {
        rtc::LiveKitConnectionConfig config;
        config.name = p.serviceUrl;
        config.publish = p.publish;
        config.media = mediaOptions(m_c.config, m_c.self.deviceId, m_c.input, m_directory);
        // An SFU connection has one or two candidate pairs: checking them 5 ms apart instead of
        // libnice's 20 ms costs nothing and connects ~45 ms sooner.
        if (config.media.icePacingMs == 0) config.media.icePacingMs = 5;
        config.media.audioMuted = m_audioMuted;  // as the app last set it
        config.media.videoMuted = m_videoMuted;
        config.publish = p.publish && (config.media.audio || config.media.video);  // receive-only: no tracks
        config.recordDir = m_c.config.media.recordDir;
        config.streamId = "mxrtc-" + m_c.self.deviceId.str();
        rtc::SfuTokenRequest request;
        request.serviceUrl = p.serviceUrl;
        request.room = m_c.config.room;
        request.slot = m_c.slot;
        request.user = m_c.self.userId;
        request.device = m_c.self.deviceId;
        request.member = MemberId(m_c.self.userId.str() + ":" + m_c.self.deviceId.str());
        request.publishing = p.publish;
        if (p.publish && m_c.delayId) {
            request.delayId = m_c.delayId();
            request.delayTimeout = m_c.config.delayedLeave;
        }
        matrix::Client* client = &m_c.client;
        auto credentials = [client, request](bool) { return rtc::fetchSfuCredentials(*client, request); };

        const std::string url = p.serviceUrl;
        const bool publish = p.publish;
        rtc::LiveKitConnectionListener l;
        l.onState = [this, url, publish](livekit::SignalState s, const std::string& detail) {
            m_c.emit(SfuStateChanged{url, std::string(livekit::toString(s)), detail, publish});
        };
        l.onParticipantJoined = [this](const livekit::ParticipantInfo& info) {
            const auto [user, device] = memberOf(info.identity);
            m_c.emit(PeerStarted{user, device, "sfu " + info.identity});
        };
        l.onParticipantLeft = [this](const livekit::ParticipantInfo& info) {
            const auto [user, device] = memberOf(info.identity);
            m_c.emit(
                PeerEnded{user, device,
                          "left the SFU (" + std::string(livekit::toString(info.disconnectReason)) + ")"});
        };
        l.onTrack = [this](const std::string& identity, const livekit::TrackInfo& t,
                           const std::string& change) {
            const auto [user, device] = memberOf(identity);
            m_c.emit(
                RemoteMediaChanged{user, device,
                                   std::string(livekit::toString(t.type)) + " " + change +
                                       (t.encryption == livekit::EncryptionType::Gcm ? " (encrypted)" : "")});
        };
        l.onWarning = [this, url](const std::string& text) {
            m_c.emit(Warning{std::nullopt, std::nullopt, url + ": " + text});
        };
        l.onClosed = [this, url, publish](const std::string& detail, bool error) {
            if (!error || m_left) return;
            if (publish && m_c.fail) {
                m_c.fail(detail);
            } else {
                m_c.emit(Warning{std::nullopt, std::nullopt, url + ": " + detail});
            }
        };
        auto conn = std::make_unique<rtc::LiveKitConnection>(m_c.engine, std::move(config),
                                                             std::move(credentials), std::move(l));
        if (publish && m_ownKey) conn->setSendKey(m_ownKey->first, m_ownKey->second);
        for (const auto& [identity, keys] : m_remoteKeys)
            for (const auto& [index, raw] : keys)
                conn->setParticipantKey(identity, KeyIndex{index}, raw);
        auto* raw = conn.get();
        m_connections[url] = Connection{std::move(conn), publish};
        raw->start();
    }

    BackendContext m_c;
    std::map<std::string, Connection> m_connections;  // by service URL
    std::optional<std::pair<KeyIndex, std::vector<std::uint8_t>>> m_ownKey;
    std::map<std::string, std::map<std::uint8_t, std::vector<std::uint8_t>>> m_remoteKeys;  // by identity
    std::map<std::string, std::pair<UserId, DeviceId>> m_members;  // identity -> member
    // The same, for frame callbacks on media threads.
    std::shared_ptr<MemberDirectory> m_directory = std::make_shared<MemberDirectory>();
    std::map<std::string, SteadyTime> m_seenAt;
    std::optional<SteadyTime> m_ownSeenAt;
    bool m_left = false;
    bool m_accepted = false;  // the homeserver accepted our membership (we may not see it yet)
    bool m_audioMuted;
    bool m_videoMuted;
};

}  // namespace

std::unique_ptr<MediaBackend> makeLiveKitBackend(BackendContext context) {
    return std::make_unique<LiveKitBackend>(std::move(context));
}

}  // namespace mxrtc::call::detail
