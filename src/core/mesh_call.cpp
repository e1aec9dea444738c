#include "mxrtc/core/mesh_call.hpp"

#include <algorithm>
#include <set>

namespace mxrtc::core {

namespace {

constexpr std::size_t kMaxCallsTrackedPerSender = 8;

// UTF-8 -> UTF-16 code units; false on invalid UTF-8.
bool toUtf16(std::string_view s, std::u16string& out) {
    out.clear();
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = 0;
        std::size_t len = 0;
        if (b0 < 0x80) {
            cp = b0;
            len = 1;
        } else if ((b0 & 0xE0) == 0xC0) {
            cp = b0 & 0x1F;
            len = 2;
        } else if ((b0 & 0xF0) == 0xE0) {
            cp = b0 & 0x0F;
            len = 3;
        } else if ((b0 & 0xF8) == 0xF0) {
            cp = b0 & 0x07;
            len = 4;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp > 0x10FFFF) return false;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
            out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
        } else {
            out.push_back(static_cast<char16_t>(cp));
        }
        i += len;
    }
    return true;
}

}  // namespace

int compareAsUtf16(std::string_view a, std::string_view b) {
    std::u16string ua;
    std::u16string ub;
    if (!toUtf16(a, ua) || !toUtf16(b, ub)) return a < b ? -1 : (a == b ? 0 : 1);
    return ua < ub ? -1 : (ua == ub ? 0 : 1);
}

bool shouldPlaceCall(const UserId& myUser, const DeviceId& myDevice, const UserId& theirUser,
                     const DeviceId& theirDevice) {
    const int users = compareAsUtf16(theirUser.str(), myUser.str());
    return users > 0 || (users == 0 && compareAsUtf16(theirDevice.str(), myDevice.str()) > 0);
}

std::string_view toString(MeshCall::State s) {
    switch (s) {
        case MeshCall::State::Idle:
            return "idle";
        case MeshCall::State::Joined:
            return "joined";
        case MeshCall::State::Left:
            return "left";
    }
    return "?";
}

struct MeshCall::Peer {
    MeshMember member;
    PeerCall call;
    std::uint64_t sendSeq = 0;
};

std::size_t MeshCall::Inbox::held() const {
    std::size_t n = early.size();
    for (const auto& c : calls)
        n += c.held.size();
    return n;
}

MeshCall::MeshCall(MeshSelf self, std::function<std::string()> random, MeshCallConfig config)
    : m_self(std::move(self)), m_random(std::move(random)), m_config(std::move(config)) {}

MeshCall::~MeshCall() = default;

std::vector<MeshPeerInfo> MeshCall::peers() const {
    std::vector<MeshPeerInfo> out;
    for (const auto& [key, p] : m_peers)
        out.push_back({p->member, p->call.id(), p->call.direction(), p->call.state()});
    return out;
}

std::optional<TimePoint> MeshCall::nextWakeup() const {
    std::optional<TimePoint> next;
    auto consider = [&](TimePoint t) {
        if (!next || t < *next) next = t;
    };
    for (const auto& [key, p] : m_peers)
        if (auto w = p->call.nextWakeup()) consider(*w);
    for (const auto& [key, at] : m_retryAt)
        consider(at);
    for (const auto& [key, inbox] : m_inbox)
        for (const auto& [at, m] : inbox.early)
            consider(at + m_config.unknownSenderGrace);
    return next;
}

MeshCall::Peer* MeshCall::peerByCall(const CallId& call) {
    for (auto& [key, p] : m_peers)
        if (p->call.id() == call) return p.get();
    return nullptr;
}

void MeshCall::reap(TimePoint /*now*/) {
    for (auto it = m_peers.begin(); it != m_peers.end();) {
        if (it->second->call.state() == CallState::Ended) {
            it = m_peers.erase(it);
        } else {
            ++it;
        }
    }
}

CallEffects MeshCall::finish(CallEffects out) {
    reap(TimePoint{});
    const auto next = nextWakeup();
    if (next && next != m_announcedWakeup) out.emplace_back(ScheduleWakeup{*next});
    m_announcedWakeup = next;
    return out;
}

// Turns one peer's effects into mesh effects: call messages become to-device messages with the
// MSC3401 fields and the next seq of that call; per-peer wakeups fold into ours.
void MeshCall::absorb(Peer& peer, CallEffects in, TimePoint now, CallEffects& out) {
    const Key key{peer.member.user, peer.member.device};
    for (auto& e : in) {
        if (auto* send = std::get_if<SendCallMessage>(&e)) {
            CallMessage m = std::move(send->message);
            GroupCallFields g;
            g.confId = m_self.confId;
            g.deviceId = m_self.device;
            g.senderSessionId = m_self.sessionId;
            g.destSessionId = peer.member.sessionId;
            g.seq = peer.sendSeq++;
            if (m_config.sendMsgId && m_random) g.msgId = m_random();
            m.group = std::move(g);
            out.emplace_back(SendToDevice{peer.member.user, peer.member.device,
                                          std::string(sendEventType(m.type())), serializeCallMessage(m)});
            continue;
        }
        if (std::holds_alternative<ScheduleWakeup>(e)) continue;
        if (auto* create = std::get_if<CreatePeer>(&e)) {
            create->remoteUser = peer.member.user;
            create->remoteDevice = peer.member.device;
        }
        if (auto* changed = std::get_if<CallStateChanged>(&e);
            changed && changed->state == CallState::Connected)
            m_retries.erase(key);
        if (auto* ended = std::get_if<CallEnded>(&e)) {
            const bool retryable =
                ended->by == EndedBy::Local &&
                (ended->reason == HangupReason::InviteTimeout || ended->reason == HangupReason::IceFailed);
            if (retryable && m_state == State::Joined && peer.call.direction() == CallDirection::Outbound &&
                m_members.contains(key) && m_retries[key] < m_config.maxCallRetries) {
                ++m_retries[key];
                m_retryAt[key] = now + m_config.retryDelay;
            }
        }
        out.push_back(std::move(e));
    }
}

void MeshCall::startOutgoing(const MeshMember& member, TimePoint now, CallEffects& out) {
    const Key key{member.user, member.device};
    m_retryAt.erase(key);
    auto peer = std::make_unique<Peer>(Peer{
        member, PeerCall(CallId(m_random()), m_self.user, PartyId(m_self.device.str()), m_config.peer), 0});
    out.emplace_back(MeshPeerStarted{peer->call.id(), member.user, member.device, CallDirection::Outbound});
    auto effects = peer->call.placeCall(member.user, m_localMetadata, now);
    Peer& ref = *peer;
    m_peers[key] = std::move(peer);
    absorb(ref, std::move(effects), now, out);
}

void MeshCall::acceptInvite(const Key& from, const CallMessage& m, TimePoint now, CallEffects& out) {
    const MeshMember& member = m_members.at(from);
    m_retryAt.erase(from);
    auto peer = std::make_unique<Peer>(
        Peer{member, PeerCall(m.callId, m_self.user, PartyId(m_self.device.str()), m_config.peer), 0});
    out.emplace_back(MeshPeerStarted{m.callId, member.user, member.device, CallDirection::Inbound});
    Peer& ref = *peer;
    m_peers[from] = std::move(peer);
    absorb(ref, ref.call.onInvite(member.user, m, Duration{0}, now), now, out);
    // Group calls answer automatically.
    if (ref.call.state() == CallState::Ringing) absorb(ref, ref.call.answer(m_localMetadata, now), now, out);
}

void MeshCall::dispatch(const Key& from, const CallMessage& m, TimePoint now, CallEffects& out) {
    auto it = m_peers.find(from);
    Peer* existing = it == m_peers.end() ? nullptr : it->second.get();
    if (m.type() != CallEventType::Invite) {
        if (existing != nullptr && existing->call.id() == m.callId) {
            absorb(*existing, existing->call.onMessage(from.first, m, now), now, out);
        } else {
            out.emplace_back(
                MessageDropped{m.callId, DropReason::UnknownCall, std::string(toString(m.type()))});
        }
        return;
    }
    if (existing != nullptr) {
        if (existing->call.id() == m.callId) {
            out.emplace_back(MessageDropped{m.callId, DropReason::Duplicate, "invite"});
            return;
        }
        switch (
            decideGlare(existing->call.state(), existing->call.direction(), existing->call.id(), m.callId)) {
            case GlareDecision::RejectIncoming: {
                // Keep ours (smaller call_id); tell them their call was replaced. First message
                // we send in their call: seq 0.
                CallMessage h;
                h.callId = m.callId;
                h.partyId = PartyId(m_self.device.str());
                Hangup hangup;
                hangup.reason = HangupReason::Replaced;
                h.body = hangup;
                h.group = GroupCallFields{
                    m_self.confId,
                    m_self.device,
                    m_self.sessionId,
                    existing->member.sessionId,
                    0,
                    m_config.sendMsgId && m_random ? std::optional(m_random()) : std::nullopt};
                out.emplace_back(SendToDevice{from.first, from.second, std::string(call_wire::kHangup),
                                              serializeCallMessage(h)});
                return;
            }
            case GlareDecision::AnswerIncoming:
            case GlareDecision::ReplaceOurs:
            case GlareDecision::NotGlare:
                // Ours is dropped (silently if nothing was sent yet); an established call the
                // remote replaced with a new invite (e.g. after it restarted) ends as "replaced".
                absorb(*existing, existing->call.hangup(HangupReason::Replaced, now), now, out);
                m_peers.erase(from);
                break;
        }
    }
    acceptInvite(from, m, now, out);
}

void MeshCall::sequence(const Key& from, Inbox& inbox, CallMessage m, TimePoint now, CallEffects& out) {
    const std::uint64_t seq = m.group->seq;
    auto st = std::find_if(inbox.calls.begin(), inbox.calls.end(),
                           [&](const SeqState& s) { return s.call == m.callId; });
    if (st == inbox.calls.end()) {
        if (inbox.calls.size() >= kMaxCallsTrackedPerSender) inbox.calls.erase(inbox.calls.begin());
        inbox.calls.push_back(SeqState{m.callId, 0, {}});
        st = std::prev(inbox.calls.end());
    }
    if (seq < st->next || st->held.contains(seq)) {
        out.emplace_back(MessageDropped{m.callId, DropReason::Duplicate, "seq " + std::to_string(seq)});
        return;
    }
    if (seq > st->next) {
        if (inbox.held() >= m_config.maxBufferedPerSender) {
            out.emplace_back(MessageDropped{m.callId, DropReason::BufferFull, "seq " + std::to_string(seq)});
            return;
        }
        st->held.emplace(seq, std::move(m));
        return;
    }
    // In order: deliver it and everything held behind it (collected first: dispatch may touch the inbox).
    std::vector<CallMessage> ready;
    ready.push_back(std::move(m));
    ++st->next;
    for (auto h = st->held.find(st->next); h != st->held.end(); h = st->held.find(st->next)) {
        ready.push_back(std::move(h->second));
        st->held.erase(h);
        ++st->next;
    }
    for (const auto& msg : ready)
        dispatch(from, msg, now, out);
}

void MeshCall::replayEarly(const Key& from, TimePoint now, CallEffects& out) {
    auto it = m_inbox.find(from);
    auto member = m_members.find(from);
    if (it == m_inbox.end() || member == m_members.end()) return;
    std::vector<CallMessage> ready;
    auto& early = it->second.early;
    for (auto e = early.begin(); e != early.end();) {
        if (e->second.group->senderSessionId == member->second.sessionId) {
            ready.push_back(std::move(e->second));
            e = early.erase(e);
        } else {
            ++e;
        }
    }
    for (auto& m : ready)
        sequence(from, m_inbox[from], std::move(m), now, out);
}

void MeshCall::setMembers(const std::vector<MeshMember>& members, TimePoint now, CallEffects& out) {
    std::map<Key, MeshMember> next;
    for (const auto& m : members) {
        if (m.user == m_self.user && m.device == m_self.device) continue;
        next.emplace(Key{m.user, m.device}, m);
    }
    // Gone, or back with a new session: end what we had with them.
    for (auto it = m_members.begin(); it != m_members.end();) {
        auto n = next.find(it->first);
        if (n != next.end() && n->second.sessionId == it->second.sessionId) {
            ++it;
            continue;
        }
        if (auto p = m_peers.find(it->first); p != m_peers.end()) {
            absorb(*p->second, p->second->call.hangup(HangupReason::UserHangup, now), now, out);
            m_peers.erase(p);
        }
        m_retries.erase(it->first);
        m_retryAt.erase(it->first);
        if (auto in = m_inbox.find(it->first); in != m_inbox.end()) in->second.calls.clear();
        it = m_members.erase(it);
    }
    std::vector<Key> added;
    for (auto& [key, m] : next) {
        if (m_members.emplace(key, m).second) added.push_back(key);
    }
    for (const auto& key : added) {
        replayEarly(key, now, out);  // an invite may have arrived before their membership did
        if (!m_peers.contains(key) && shouldPlaceCall(m_self.user, m_self.device, key.first, key.second))
            startOutgoing(m_members.at(key), now, out);
    }
}

CallEffects MeshCall::join(const std::vector<MeshMember>& members, TimePoint now) {
    CallEffects out;
    if (m_state != State::Idle) return out;
    m_state = State::Joined;
    setMembers(members, now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::onMembersChanged(const std::vector<MeshMember>& members, TimePoint now) {
    CallEffects out;
    if (m_state != State::Joined) return out;
    setMembers(members, now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::leave(TimePoint now) {
    CallEffects out;
    if (m_state != State::Joined) return out;
    for (auto& [key, p] : m_peers)
        absorb(*p, p->call.hangup(HangupReason::UserHangup, now), now, out);
    m_state = State::Left;
    m_peers.clear();
    m_members.clear();
    m_inbox.clear();
    m_retries.clear();
    m_retryAt.clear();
    return finish(std::move(out));
}

CallEffects MeshCall::onToDevice(const UserId& sender, std::string_view type, const nlohmann::json& content,
                                 TimePoint now) {
    CallEffects out;
    auto callIdOf = [&]() {
        if (content.is_object()) {
            auto it = content.find(call_wire::kCallId);
            if (it != content.end() && it->is_string()) return CallId(it->get<std::string>());
        }
        return CallId();
    };
    if (m_state != State::Joined) {
        out.emplace_back(MessageDropped{callIdOf(), DropReason::WrongState, "not in the call"});
        return out;
    }
    auto parsed = parseCallMessage(type, content, CallTransport::ToDevice);
    if (!parsed) {
        out.emplace_back(MessageDropped{callIdOf(), DropReason::Malformed, parsed.error().message});
        return out;
    }
    CallMessage m = std::move(parsed).value();
    const GroupCallFields& g = *m.group;
    if (g.confId != m_self.confId) {
        out.emplace_back(MessageDropped{m.callId, DropReason::WrongConf, g.confId});
        return out;
    }
    if (g.destSessionId != m_self.sessionId) {
        out.emplace_back(MessageDropped{m.callId, DropReason::WrongSession, g.destSessionId});
        return out;
    }
    if (sender == m_self.user && g.deviceId == m_self.device) {
        out.emplace_back(MessageDropped{m.callId, DropReason::OwnEcho, {}});
        return out;
    }
    const Key key{sender, g.deviceId};
    Inbox& inbox = m_inbox[key];
    auto member = m_members.find(key);
    if (member == m_members.end() || member->second.sessionId != g.senderSessionId) {
        // Their membership may not have reached us yet: keep it for a while.
        if (inbox.held() >= m_config.maxBufferedPerSender) {
            out.emplace_back(MessageDropped{m.callId, DropReason::BufferFull, "early message"});
            return out;
        }
        inbox.early.emplace_back(now, std::move(m));
        return finish(std::move(out));
    }
    sequence(key, inbox, std::move(m), now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::onLocalDescription(const CallId& call, const SessionDescription& description,
                                         TimePoint now) {
    CallEffects out;
    if (Peer* p = peerByCall(call)) absorb(*p, p->call.onLocalDescription(description, now), now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::onLocalCandidate(const CallId& call, const IceCandidate& candidate, TimePoint now) {
    CallEffects out;
    if (Peer* p = peerByCall(call)) absorb(*p, p->call.onLocalCandidate(candidate, now), now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::onIceState(const CallId& call, IceConnectionState state, TimePoint now) {
    CallEffects out;
    if (Peer* p = peerByCall(call)) absorb(*p, p->call.onIceState(state, now), now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::onMediaFailed(const CallId& call, TimePoint now) {
    CallEffects out;
    if (Peer* p = peerByCall(call)) absorb(*p, p->call.onMediaFailed(now), now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::setLocalMetadata(const SdpStreamMetadata& metadata, TimePoint now) {
    CallEffects out;
    m_localMetadata = metadata;
    for (auto& [key, p] : m_peers)
        absorb(*p, p->call.setLocalMetadata(metadata, now), now, out);
    return finish(std::move(out));
}

CallEffects MeshCall::onWakeup(TimePoint now) {
    CallEffects out;
    for (auto& [key, p] : m_peers) {
        if (auto w = p->call.nextWakeup(); w && *w <= now) absorb(*p, p->call.onWakeup(now), now, out);
    }
    reap(now);
    // Retries of failed outgoing calls.
    std::vector<Key> due;
    for (const auto& [key, at] : m_retryAt)
        if (at <= now) due.push_back(key);
    for (const auto& key : due) {
        m_retryAt.erase(key);
        auto member = m_members.find(key);
        if (m_state == State::Joined && member != m_members.end() && !m_peers.contains(key))
            startOutgoing(member->second, now, out);
    }
    // Early messages whose sender never became a member (with that session).
    for (auto& [key, inbox] : m_inbox) {
        for (auto e = inbox.early.begin(); e != inbox.early.end();) {
            if (e->first + m_config.unknownSenderGrace <= now) {
                const bool knownDevice = m_members.contains(key);
                out.emplace_back(MessageDropped{
                    e->second.callId, knownDevice ? DropReason::StaleSession : DropReason::NotAMember,
                    e->second.group->senderSessionId});
                e = inbox.early.erase(e);
            } else {
                ++e;
            }
        }
    }
    m_announcedWakeup.reset();
    return finish(std::move(out));
}

}  // namespace mxrtc::core
