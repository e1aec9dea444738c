#include "mxrtc/rtc/call_media.hpp"

#include <cctype>

namespace mxrtc::rtc {

CallMedia::CallMedia(MediaEngine& engine, MediaOptions options, Events events)
    : m_engine(engine), m_options(std::move(options)), m_events(std::move(events)) {}

CallMedia::~CallMedia() {
    closeAll();
}

bool CallMedia::perform(const core::CallEffect& effect) {
    if (const auto* c = std::get_if<core::CreatePeer>(&effect)) {
        const CallId call = c->call;
        Peer::Listener l;
        l.onLocalDescription = [this, call](const core::SessionDescription& d) {
            if (m_events.onLocalDescription) m_events.onLocalDescription(call, d);
        };
        l.onLocalCandidate = [this, call](const core::IceCandidate& cand) {
            if (m_events.onLocalCandidate) m_events.onLocalCandidate(call, cand);
        };
        l.onIceState = [this, call](core::IceConnectionState s) {
            if (m_events.onIceState) m_events.onIceState(call, s);
        };
        l.onDataMessage = [this, call](const std::string& text) {
            if (m_events.onDataMessage) m_events.onDataMessage(call, text);
        };
        l.onError = [this, call](const std::string& what) {
            if (m_events.onError) m_events.onError(call, what);
        };
        MediaOptions options = m_options;
        if (!options.recordDir.empty()) {
            // <dir>/<user>_<device>_<call>: one file pair per peer call, named after who sent it.
            std::string user = c->remoteUser ? c->remoteUser->str() : std::string("unknown");
            if (user.starts_with('@')) user.erase(0, 1);
            std::string name = user + "_" +
                               (c->remoteDevice ? c->remoteDevice->str() : std::string("unknown")) + "_" +
                               call.str();
            for (char& ch : name)
                if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') ch = '_';
            options.recordPrefix = options.recordDir + "/" + name;
        }
        auto peer = std::make_unique<Peer>(m_engine, options, std::move(l));
        if (m_sendKey) peer->setSendKey(m_sendKey->first, m_sendKey->second);
        if (auto keys = m_receiveKeys.find(call); keys != m_receiveKeys.end())
            for (const auto& [index, raw] : keys->second)
                peer->setReceiveKey(index, raw);
        m_peers[call] = std::move(peer);  // replacing closes an old peer of the same call
        return true;
    }
    if (const auto* o = std::get_if<core::CreateOffer>(&effect)) {
        if (auto* p = peer(o->call)) p->createOffer(o->iceRestart);
        return true;
    }
    if (const auto* a = std::get_if<core::CreateAnswer>(&effect)) {
        if (auto* p = peer(a->call)) p->createAnswer();
        return true;
    }
    if (const auto* r = std::get_if<core::SetRemoteDescription>(&effect)) {
        if (auto* p = peer(r->call)) p->setRemoteDescription(r->description);
        return true;
    }
    if (const auto* rc = std::get_if<core::AddRemoteCandidates>(&effect)) {
        if (auto* p = peer(rc->call)) p->addRemoteCandidates(rc->candidates);
        return true;
    }
    if (const auto* cp = std::get_if<core::ClosePeer>(&effect)) {
        m_peers.erase(cp->call);  // ~Peer closes
        m_receiveKeys.erase(cp->call);
        return true;
    }
    return false;
}

void CallMedia::setSendKey(std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    m_sendKey.emplace(keyIndex, std::vector<std::uint8_t>(raw.begin(), raw.end()));
    for (auto& [call, p] : m_peers)
        p->setSendKey(keyIndex, raw);
}

void CallMedia::setReceiveKey(const CallId& call, std::uint8_t keyIndex, std::span<const std::uint8_t> raw) {
    // Kept for a peer created later (the key may arrive before the call's CreatePeer).
    m_receiveKeys[call][keyIndex].assign(raw.begin(), raw.end());
    if (auto* p = peer(call)) p->setReceiveKey(keyIndex, raw);
}

Peer* CallMedia::peer(const CallId& call) {
    auto it = m_peers.find(call);
    return it == m_peers.end() ? nullptr : it->second.get();
}

std::vector<CallId> CallMedia::calls() const {
    std::vector<CallId> out;
    for (const auto& [call, p] : m_peers)
        out.push_back(call);
    return out;
}

std::optional<PeerStats> CallMedia::stats(const CallId& call) const {
    auto it = m_peers.find(call);
    if (it == m_peers.end()) return std::nullopt;
    return it->second->stats();
}

void CallMedia::sendData(const std::string& text) {
    for (auto& [call, p] : m_peers)
        p->sendData(text);
}

void CallMedia::closeAll() {
    m_peers.clear();
    m_receiveKeys.clear();
}

}  // namespace mxrtc::rtc
