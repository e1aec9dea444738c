#include "mxrtc/rtc/call_media.hpp"

#include <cctype>

namespace mxrtc::rtc {

CallMedia::CallMedia(MediaEngine& engine, MediaOptions options, Events events)
    : m_engine(engine), m_options(std::move(options)), m_events(std::move(events)) {}

CallMedia::~CallMedia() {
    closeAll();
}

std::unique_ptr<Peer> CallMedia::makePeer(const MediaOptions& options,
                                          std::shared_ptr<std::optional<CallId>> bound) {
    // Events name the call the peer is bound to; a prewarmed spare is bound when a call takes it
    // (until then it has no description or candidates to report; an error just discards it).
    Peer::Listener l;
    l.onLocalDescription = [this, bound](const core::SessionDescription& d) {
        if (*bound && m_events.onLocalDescription) m_events.onLocalDescription(**bound, d);
    };
    l.onLocalCandidate = [this, bound](const core::IceCandidate& cand) {
        if (*bound && m_events.onLocalCandidate) m_events.onLocalCandidate(**bound, cand);
    };
    l.onIceState = [this, bound](core::IceConnectionState s) {
        if (*bound && m_events.onIceState) m_events.onIceState(**bound, s);
    };
    l.onDataMessage = [this, bound](const std::string& text) {
        if (*bound && m_events.onDataMessage) m_events.onDataMessage(**bound, text);
    };
    l.onError = [this, bound](const std::string& what) {
        if (!*bound) {
            m_spare.reset();
            return;
        }
        if (m_events.onError) m_events.onError(**bound, what);
    };
    auto peer = std::make_unique<Peer>(m_engine, options, std::move(l));
    if (m_sendKey) peer->setSendKey(m_sendKey->first, m_sendKey->second);
    return peer;
}

void CallMedia::prewarm() {
    m_prewarmEnabled = true;
    if (m_spare || !m_options.recordDir.empty()) return;  // recordings are named per call: no spare
    m_spareBinding = std::make_shared<std::optional<CallId>>();
    m_spare = makePeer(m_options, m_spareBinding);
}

bool CallMedia::perform(const core::CallEffect& effect) {
    if (const auto* st = std::get_if<core::CallStateChanged>(&effect)) {
        // Build the next spare once a call is up (or over), not while it negotiates: the GLib
        // thread runs commands in order, so a build queued now would delay this call's answer.
        if (m_prewarmEnabled &&
            (st->state == core::CallState::Connected || st->state == core::CallState::Ended))
            prewarm();
        return false;  // the shell reports state changes
    }
    if (const auto* c = std::get_if<core::CreatePeer>(&effect)) {
        const CallId call = c->call;
        // Who frame callbacks name (a prewarmed spare learns it here).
        const auto named = [c](Peer& p) {
            p.setRemoteParticipant(c->remoteUser ? c->remoteUser->str() : "",
                                   c->remoteDevice ? c->remoteDevice->str() : "");
        };
        std::unique_ptr<Peer> peer;
        if (m_spare) {  // a pipeline already built and running: offers and answers come sooner
            *m_spareBinding = call;
            peer = std::move(m_spare);
            m_spareBinding.reset();
            named(*peer);
            if (auto keys = m_receiveKeys.find(call); keys != m_receiveKeys.end())
                for (const auto& [index, raw] : keys->second)
                    peer->setReceiveKey(index, raw);
            m_peers[call] = std::move(peer);
            return true;
        }
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
        peer = makePeer(options, std::make_shared<std::optional<CallId>>(call));
        named(*peer);
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
    if (m_spare) m_spare->setSendKey(keyIndex, raw);
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
    m_spare.reset();
    m_peers.clear();
    m_receiveKeys.clear();
}

}  // namespace mxrtc::rtc
