#include "mxrtc/rtc/mesh_session.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mxrtc/core/mesh_roster.hpp"
#include "random_id.hpp"

namespace mxrtc::rtc {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {}  // namespace

std::string describeMetadata(const core::SdpStreamMetadata& metadata) {
    std::string out;
    for (const auto& [id, m] : metadata) {
        if (!out.empty()) out += "; ";
        out += std::string(core::toString(m.purpose)) + " audio " +
               (m.audioMuted.value_or(false) ? "muted" : "on") + ", video " +
               (m.videoMuted.value_or(false) ? "muted" : "on");
    }
    return out.empty() ? "no streams" : out;
}

core::MeshCallConfig MeshSessionConfig::defaultMeshConfig() {
    core::MeshCallConfig c;
    c.peer.maxIceRestarts = 0;                  // webrtcbin 1.22 cannot restart ICE: re-place the call
    c.peer.firstCandidateDelay = Duration{10};  // host candidates are ready at once
    c.peer.calleeCandidateDelay = Duration{100};
    c.peer.callerCandidateDelay = Duration{200};
    return c;
}

MeshSession::MeshSession(matrix::Client& client, matrix::LoginSession self, SlotId slot, MediaEngine& engine,
                         MeshSessionConfig config, matrix::OlmTransport* olm, Listener listener)
    : m_client(client),
      m_self(std::move(self)),
      m_slot(std::move(slot)),
      m_config(std::move(config)),
      m_olm(olm),
      m_listener(std::move(listener)),
      m_timer(client.http().executor()),
      m_alive(std::make_shared<bool>(true)) {
    CallMedia::Events ev;
    ev.onLocalDescription = [this](const CallId& c, const core::SessionDescription& d) {
        if (m_mesh) execute(m_mesh->onLocalDescription(c, d, matrix::wallClockNow()));
    };
    ev.onLocalCandidate = [this](const CallId& c, const core::IceCandidate& cand) {
        if (m_mesh) execute(m_mesh->onLocalCandidate(c, cand, matrix::wallClockNow()));
    };
    ev.onIceState = [this](const CallId& c, core::IceConnectionState s) {
        if (m_mesh) execute(m_mesh->onIceState(c, s, matrix::wallClockNow()));
    };
    ev.onError = [this](const CallId& c, const std::string& what) {
        auto it = m_memberOf.find(c);
        warn(it != m_memberOf.end() ? it->second.first.str() : "",
             it != m_memberOf.end() ? it->second.second.str() : "", "media failed: " + what);
        if (m_mesh) execute(m_mesh->onMediaFailed(c, matrix::wallClockNow()));
    };
    m_media = std::make_unique<CallMedia>(engine, m_config.media, std::move(ev));
    if (m_config.prewarm) m_media->prewarm();
    m_timer.expires_at(std::chrono::steady_clock::time_point::max());
    asio::co_spawn(m_client.http().executor(), timerLoop(), asio::detached);
}

MeshSession::~MeshSession() {
    *m_alive = false;
    m_timer.cancel();
    if (m_media) m_media->closeAll();
}

void MeshSession::warn(const std::string& user, const std::string& device, std::string text) {
    if (m_listener) m_listener({MeshEvent::Kind::Warning, user, device, std::move(text)});
}

void MeshSession::onCallUpdate(const matrix::CallUpdate& u, const core::RoomCalls& calls) {
    using K = matrix::CallUpdate::Kind;
    switch (u.kind) {
        case K::OwnKey:
            if (u.key) {
                m_ownKey.emplace(u.key->index, u.key->key);
                m_media->setSendKey(u.key->index, u.key->key);
            }
            return;
        case K::KeyReceived:
            if (u.key) {
                const Key who{UserId(u.user), DeviceId(u.device)};
                m_remoteKeys[who][u.key->index] = u.key->key;
                applyKeys(who);
            }
            return;
        case K::MemberJoined:
        case K::MemberLeft:
            syncMembers(calls);
            return;
        default:
            return;
    }
}

void MeshSession::syncMembers(const core::RoomCalls& calls) {
    const auto now = std::chrono::steady_clock::now();
    const auto roster = core::meshRosterOf(calls.members(m_slot), m_self.userId, m_self.deviceId);
    std::map<Key, SteadyTime> seen;
    for (const auto& m : roster.members) {
        const Key k{m.user, m.device};
        auto it = m_memberSeenAt.find(k);
        seen[k] = it != m_memberSeenAt.end() ? it->second : now;
    }
    m_memberSeenAt = std::move(seen);
    if (!roster.ownSession) {  // not (or no longer) in the call ourselves
        if (m_mesh) leave();
        return;
    }
    const std::string& session = *roster.ownSession;
    const auto& members = roster.members;
    if (m_mesh && session == m_sessionId) {
        execute(m_mesh->onMembersChanged(members, matrix::wallClockNow()));
        return;
    }
    if (m_mesh) leave();  // we rejoined: a new session replaces every call of the old one
    m_sessionId = session;
    m_ownSeenAt = now;
    core::MeshSelf self{m_self.userId, m_self.deviceId, m_sessionId, m_slot.str()};
    m_mesh = std::make_unique<core::MeshCall>(self, randomToken, m_config.mesh);
    if (auto metadata = streamMetadata(m_config.media))
        execute(m_mesh->setLocalMetadata(*metadata, matrix::wallClockNow()));
    execute(m_mesh->join(members, matrix::wallClockNow()));
    auto early = std::move(m_early);
    m_early.clear();
    for (const auto& msg : early)
        onToDevice(msg);
}

void MeshSession::onToDevice(const matrix::ReceivedToDevice& msg) {
    const auto verdict =
        core::admitSignalling({msg.origin.sender, msg.origin.encrypted, msg.origin.senderDevice}, msg.type,
                              msg.content, m_olm != nullptr && m_config.requireEncryptedSignalling);
    if (verdict == core::SignallingVerdict::NotSignalling) return;
    if (verdict != core::SignallingVerdict::Accept) {
        warn(msg.origin.sender.str(), msg.origin.senderDevice.str(),
             msg.type + " dropped: " + std::string(core::toString(verdict)));
        return;
    }
    if (!m_mesh || m_mesh->state() != core::MeshCall::State::Joined) {
        if (m_early.size() < m_config.maxEarlyMessages) m_early.push_back(msg);
        return;
    }
    execute(m_mesh->onToDevice(msg.origin.sender, msg.type, msg.content, matrix::wallClockNow()));
}

void MeshSession::leave() {
    if (!m_mesh) return;
    execute(m_mesh->leave(matrix::wallClockNow()));
    m_mesh.reset();
    m_media->closeAll();
    m_memberOf.clear();
}

void MeshSession::execute(core::CallEffects effects) {
    std::vector<CallId> closed;  // forgotten after the batch, so CallEnded can still name the member
    for (auto& e : effects) {
        if (const auto* cp = std::get_if<core::ClosePeer>(&e)) closed.push_back(cp->call);
        if (m_media->perform(e)) continue;
        if (auto* s = std::get_if<core::SendToDevice>(&e)) {
            enqueue(std::move(*s));
        } else if (const auto* started = std::get_if<core::MeshPeerStarted>(&e)) {
            const Key who{started->user, started->device};
            m_memberOf[started->call] = who;
            if (m_ownKey) m_media->setSendKey(m_ownKey->first, m_ownKey->second);
            applyKeys(who);
            if (m_listener)
                m_listener({MeshEvent::Kind::PeerStarted, started->user.str(), started->device.str(),
                            started->direction == core::CallDirection::Outbound ? "outbound" : "inbound"});
        } else if (const auto* w = std::get_if<core::ScheduleWakeup>(&e)) {
            const auto delta = w->at - matrix::wallClockNow();
            m_timer.expires_after(delta > Duration{0} ? delta : Duration{0});
        } else if (const auto* st = std::get_if<core::CallStateChanged>(&e)) {
            auto it = m_memberOf.find(st->call);
            if (m_listener && it != m_memberOf.end())
                m_listener({MeshEvent::Kind::PeerState, it->second.first.str(), it->second.second.str(),
                            std::string(core::toString(st->state))});
        } else if (const auto* end = std::get_if<core::CallEnded>(&e)) {
            auto it = m_memberOf.find(end->call);
            if (m_listener)
                m_listener({MeshEvent::Kind::PeerEnded, it != m_memberOf.end() ? it->second.first.str() : "",
                            it != m_memberOf.end() ? it->second.second.str() : "",
                            std::string(core::toString(end->reason)) +
                                (end->by == core::EndedBy::Remote ? " (by them)" : " (by us)")});
        } else if (const auto* md = std::get_if<core::RemoteMetadataChanged>(&e)) {
            auto it = m_memberOf.find(md->call);
            if (m_listener && it != m_memberOf.end())
                m_listener({MeshEvent::Kind::RemoteMedia, it->second.first.str(), it->second.second.str(),
                            describeMetadata(md->metadata)});
        } else if (const auto* d = std::get_if<core::MessageDropped>(&e)) {
            if (m_listener)
                m_listener(
                    {MeshEvent::Kind::Dropped, "", "",
                     std::string(core::toString(d->reason)) + (d->detail.empty() ? "" : ": " + d->detail)});
        }
    }
    for (const auto& call : closed) {
        m_memberOf.erase(call);
    }
    if (m_mesh) {
        if (auto next = m_mesh->nextWakeup()) {
            const auto delta = *next - matrix::wallClockNow();
            m_timer.expires_after(delta > Duration{0} ? delta : Duration{0});
        }
    }
}

void MeshSession::applyKeys(const Key& member) {
    auto keys = m_remoteKeys.find(member);
    if (keys == m_remoteKeys.end()) return;
    for (const auto& [call, who] : m_memberOf) {
        if (who != member) continue;
        for (const auto& [index, raw] : keys->second)
            m_media->setReceiveKey(call, index, raw);
    }
}

void MeshSession::enqueue(core::SendToDevice message) {
    const Key to{message.user, message.device};
    m_outbox[to].push_back(Outgoing{std::move(message.type), std::move(message.content)});
    if (m_sending[to]) return;
    m_sending[to] = true;
    asio::co_spawn(m_client.http().executor(), drain(to), asio::detached);
}

// One device's messages go out one request at a time, in order (the receiver reorders by seq
// anyway, but in-order delivery avoids buffering and retries).
asio::awaitable<void> MeshSession::drain(Key to) {
    auto alive = m_alive;
    while (*alive) {
        auto& queue = m_outbox[to];
        if (queue.empty()) break;
        Outgoing next = std::move(queue.front());
        queue.pop_front();
        std::string failure;
        if (m_olm != nullptr) {
            std::vector<olm::DeviceRef> devices{olm::DeviceRef{to.first, to.second}};
            auto r = co_await m_olm->sendEncrypted(next.type, next.content, devices);
            if (!*alive) co_return;
            if (const auto* e = std::get_if<matrix::MatrixError>(&r)) {
                failure = e->message;
            } else if (!std::get<matrix::EncryptedSendReport>(r).skipped.empty()) {
                failure = std::get<matrix::EncryptedSendReport>(r).skipped.front().reason;
            }
        } else {
            Json messages = Json::object();
            messages[to.first.str()][to.second.str()] = next.content;
            auto r = co_await m_client.sendToDevice(next.type, messages);
            if (!*alive) co_return;
            if (const auto* e = std::get_if<matrix::MatrixError>(&r)) failure = e->message;
        }
        if (!failure.empty())
            warn(to.first.str(), to.second.str(), "sending " + next.type + " failed: " + failure);
    }
    if (*alive) m_sending[to] = false;
}

asio::awaitable<void> MeshSession::timerLoop() {
    auto alive = m_alive;
    while (*alive) {
        auto [ec] = co_await m_timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!*alive) co_return;
        if (ec == asio::error::operation_aborted) continue;  // re-armed
        m_timer.expires_at(std::chrono::steady_clock::time_point::max());
        if (m_mesh) execute(m_mesh->onWakeup(matrix::wallClockNow()));
    }
}

std::vector<MeshPeerReport> MeshSession::peers() const {
    std::vector<MeshPeerReport> out;
    if (!m_mesh) return out;
    for (const auto& p : m_mesh->peers()) {
        MeshPeerReport r{p.member.user, p.member.device, p.call,      p.state, {},
                         std::nullopt,  std::nullopt,    std::nullopt};
        if (auto s = m_media->stats(p.call)) r.stats = *s;
        const auto first = m_config.media.e2ee ? r.stats.firstDecryptedAfter : r.stats.firstAudioAfter;
        auto seen = m_memberSeenAt.find({p.member.user, p.member.device});
        if (seen != m_memberSeenAt.end() && m_ownSeenAt) {
            // Both memberships must be known before anything can happen; durations of a peer
            // count from its creation (a prewarmed one was created earlier).
            const auto from = std::max(seen->second, *m_ownSeenAt);
            const auto since = [&](std::optional<Duration> d) -> std::optional<Duration> {
                if (!d) return std::nullopt;
                return std::chrono::duration_cast<Duration>(r.stats.createdAt + *d - from);
            };
            r.memberSeenToFirstFrame = since(first);
            r.memberSeenToConnected = since(r.stats.iceConnectedAfter);
            r.memberSeenToFirstVideo = since(r.stats.firstVideoAfter);
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace mxrtc::rtc
