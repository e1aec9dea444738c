#include "mxrtc/rtc/livekit_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <nlohmann/json.hpp>

#include "mxrtc/livekit/codec.hpp"
#include "mxrtc/livekit/url.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/net/websocket.hpp"
#include "random_id.hpp"
#include "rtc/engine_impl.hpp"

namespace mxrtc::rtc {

namespace asio = boost::asio;
namespace lk = mxrtc::livekit;
using Json = nlohmann::json;

namespace {

template <typename... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

lk::PeerConnectionState toSession(ConnectionState s) {
    switch (s) {
        case ConnectionState::New:
            return lk::PeerConnectionState::New;
        case ConnectionState::Connecting:
            return lk::PeerConnectionState::Connecting;
        case ConnectionState::Connected:
            return lk::PeerConnectionState::Connected;
        case ConnectionState::Disconnected:
            return lk::PeerConnectionState::Disconnected;
        case ConnectionState::Failed:
            return lk::PeerConnectionState::Failed;
        case ConnectionState::Closed:
            return lk::PeerConnectionState::Closed;
    }
    return lk::PeerConnectionState::New;
}

// RTCIceCandidateInit as livekit-client sends it in TrickleRequest.candidateInit.
std::string candidateInit(const core::IceCandidate& c) {
    if (c.endOfCandidates()) return "";
    Json j{{"candidate", c.candidate}, {"usernameFragment", nullptr}};
    j["sdpMid"] = c.sdpMid ? Json(*c.sdpMid) : Json(nullptr);
    j["sdpMLineIndex"] = c.sdpMLineIndex ? Json(*c.sdpMLineIndex) : Json(nullptr);
    return j.dump();
}

std::optional<core::IceCandidate> parseCandidateInit(const std::string& text) {
    const Json j = Json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("candidate") || !j["candidate"].is_string()) return std::nullopt;
    core::IceCandidate c;
    c.candidate = j["candidate"].get<std::string>();
    if (c.candidate.starts_with("a=")) c.candidate.erase(0, 2);
    if (j.contains("sdpMid") && j["sdpMid"].is_string()) c.sdpMid = j["sdpMid"].get<std::string>();
    if (j.contains("sdpMLineIndex") && j["sdpMLineIndex"].is_number_unsigned())
        c.sdpMLineIndex = j["sdpMLineIndex"].get<std::uint32_t>();
    if (!c.sdpMLineIndex) c.sdpMLineIndex = 0;  // BUNDLE: one transport
    return c;
}

std::string socketFailureText(const std::string& url, const net::WsError& e) {
    if (e.httpStatus != 0) {
        std::string body = e.httpBody;
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
            body.pop_back();
        if (body.size() > 200) body.resize(200);
        return "the SFU " + url + " refused the connection (HTTP " + std::to_string(e.httpStatus) +
               (body.empty() ? "" : ": " + body) + ")";
    }
    return "the SFU " + url + " is unreachable: " + e.message;
}

const char* requestName(const lk::SignalRequest& r) {
    static constexpr const char* kNames[] = {"offer",        "answer", "trickle",    "add_track", "mute",
                                             "subscription", "leave",  "sync_state", "ping",      "ping_req"};
    return kNames[r.index()];
}
const char* responseName(const lk::SignalResponse& r) {
    static constexpr const char* kNames[] = {"join",
                                             "answer",
                                             "offer",
                                             "trickle",
                                             "update",
                                             "track_published",
                                             "leave",
                                             "mute",
                                             "refresh_token",
                                             "track_unpublished",
                                             "pong",
                                             "reconnect",
                                             "pong_resp",
                                             "request_response",
                                             "track_subscribed",
                                             "stream_state_update",
                                             "subscription_response",
                                             "unhandled"};
    return kNames[r.index()];
}

// MXRTC_LIVEKIT_TRACE=1: one line per signal message on stderr (types only, never contents).
bool traceSignal() {
    static const bool on = [] {
        const char* v = std::getenv("MXRTC_LIVEKIT_TRACE");
        return v != nullptr && *v != '\0' && *v != '0';
    }();
    return on;
}

}  // namespace

struct LiveKitConnection::Impl : std::enable_shared_from_this<LiveKitConnection::Impl> {
    MediaEngine& engine;
    asio::any_io_executor executor;
    LiveKitConnectionConfig config;
    CredentialsProvider credentials;
    LiveKitConnectionListener listener;
    lk::SignalSession session;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    // The socket of the last OpenSocket; `gen` tells its reports from an older one's.
    struct Socket {
        std::shared_ptr<net::WebSocket> ws;
        std::deque<std::string> outbox;
        bool writing = false;
        bool closeWhenDrained = false;
    };
    std::shared_ptr<Socket> socket;
    std::uint64_t socketGen = 0;
    std::optional<SfuCredentials> creds;
    std::string credsError;  // the last credentials failure, for the closing report

    std::unique_ptr<SfuPublisher> publisher;
    std::unique_ptr<SfuSubscriber> subscriber;
    std::uint64_t peersGen = 0;
    bool peersPrebuilt = false;  // the pair made at start(), not yet claimed by the first join

    std::string audioCid = "TA_" + randomToken();
    std::string videoCid = "TV_" + randomToken();
    std::optional<std::pair<KeyIndex, std::vector<std::uint8_t>>> sendKey;
    std::map<std::string, std::map<std::uint8_t, std::vector<std::uint8_t>>> participantKeys;
    std::vector<std::uint8_t> sifTrailer;
    std::map<std::string, lk::ParticipantInfo> remotes;  // by sid, as last reported
    std::map<std::string, std::string> midOwner;         // mid -> identity mapped on the subscriber
    bool stopped = false;

    Impl(MediaEngine& e, LiveKitConnectionConfig c, CredentialsProvider p, LiveKitConnectionListener l)
        : engine(e),
          executor(engineImpl(e)->executor),
          config(std::move(c)),
          credentials(std::move(p)),
          listener(std::move(l)),
          session(signalConfig(config)),
          timer(executor) {}

    static TimePoint now() { return matrix::wallClockNow(); }
    static lk::SignalSessionConfig signalConfig(const LiveKitConnectionConfig& c) {
        auto s = c.signal;
        s.publish = c.publish;
        return s;
    }

    void warn(const std::string& text) {
        if (listener.onWarning) listener.onWarning(text);
    }

    void execute(lk::SignalEffects effects);
    void perform(lk::SignalEffect& effect);
    void rearm();

    // socket
    asio::awaitable<void> openSocket(lk::OpenSocket open, std::uint64_t gen);
    asio::awaitable<void> readLoop(std::shared_ptr<Socket> s, std::uint64_t gen);
    asio::awaitable<void> writeLoop(std::shared_ptr<Socket> s);
    void send(const lk::SignalRequest& message);
    void closeSocket();

    // peers
    void createPeers(bool withPublisher);
    void useTurnServers(const std::vector<lk::IceServer>& servers);
    void closePeers();
    SfuPeerListener peerListener(lk::SignalTarget target);
    void applyKeys();
    void mapTracks(const std::map<std::string, lk::RemoteTrack>& byMid);
    void participantChanged(const lk::ParticipantInfo& now, bool joined);
};

void LiveKitConnection::Impl::execute(lk::SignalEffects effects) {
    auto self = shared_from_this();  // a listener may destroy the owning LiveKitConnection
    for (auto& e : effects) {
        if (stopped) break;
        perform(e);
    }
    rearm();
}

void LiveKitConnection::Impl::perform(lk::SignalEffect& effect) {
    std::visit(
        Overloaded{
            [&](lk::OpenSocket& o) {
                closeSocket();
                const std::uint64_t gen = ++socketGen;
                asio::co_spawn(executor, openSocket(std::move(o), gen), asio::detached);
            },
            [&](lk::CloseSocket&) { closeSocket(); },
            [&](lk::SendSignal& s) { send(s.message); },
            [&](lk::CreatePeerConnections& c) {
                if (peersPrebuilt) {  // built at start() while the JWT and the join were on their way
                    peersPrebuilt = false;
                    if (!(c.publisher && config.publish) && publisher) {
                        publisher->close();
                        publisher.reset();
                    }
                } else {
                    createPeers(c.publisher && config.publish);
                }
                useTurnServers(c.iceServers);
            },
            [&](lk::ClosePeerConnections&) { closePeers(); },
            [&](lk::ApplySubscriberOffer& o) {
                if (subscriber) subscriber->setRemoteOffer(o.description.sdp);
            },
            [&](lk::ApplyPublisherAnswer& a) {
                if (publisher) publisher->setRemoteAnswer(a.description.sdp);
            },
            [&](lk::AddRemoteCandidate& c) {
                auto cand = parseCandidateInit(c.candidateInit);
                if (!cand) return warn("ignored a malformed ICE candidate from the SFU");
                if (c.target == lk::SignalTarget::Publisher) {
                    if (publisher) publisher->addRemoteCandidates({*cand});
                } else if (subscriber) {
                    subscriber->addRemoteCandidates({*cand});
                }
            },
            [&](lk::CreatePublisherOffer&) {
                if (publisher) publisher->createOffer();
            },
            [&](lk::SubscriberTracksMapped& m) { mapTracks(m.byMid); },
            [&](lk::ServerInjectedTrailer& t) {
                sifTrailer = t.trailer;
                if (subscriber) subscriber->setServerInjectedTrailer(sifTrailer);
            },
            [&](lk::ParticipantJoined& p) { participantChanged(p.participant, true); },
            [&](lk::ParticipantChanged& p) { participantChanged(p.participant, true); },
            [&](lk::ParticipantLeft& p) {
                remotes.erase(p.participant.sid);
                if (listener.onParticipantLeft) listener.onParticipantLeft(p.participant);
            },
            [&](lk::LocalTrackPublished&) {},
            [&](lk::LocalTrackRejected& r) { warn("the SFU refused our track " + r.cid + ": " + r.reason); },
            [&](lk::MuteLocalTrack& m) {
                if (publisher)
                    publisher->setMuted(m.cid == audioCid ? TrackKind::Audio : TrackKind::Video, m.muted);
                warn(std::string("the SFU ") + (m.muted ? "muted" : "unmuted") + " our " +
                     (m.cid == audioCid ? "audio" : "video"));
            },
            [&](lk::StateChanged& s) {
                if (listener.onState) listener.onState(s.state, s.detail);
            },
            [&](lk::Closed& c) {
                stopped = true;
                closePeers();
                closeSocket();
                timer.cancel();
                std::string detail = c.detail;
                if (!credsError.empty() && c.error) detail = credsError;
                if (listener.onClosed) listener.onClosed(detail, c.error);
            },
        },
        effect);
}

void LiveKitConnection::Impl::rearm() {
    if (stopped) return;
    const auto next = session.nextWakeup();
    if (!next) {
        timer.cancel();
        return;
    }
    const auto delta = *next - now();
    timer.expires_after(delta > Duration{0} ? delta : Duration{0});
    timer.async_wait([weak = weak_from_this(), at = *next](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped) return;
        if (self->session.nextWakeup() != at) return;  // re-armed since
        self->execute(self->session.onWakeup(now()));
    });
}

// ---- socket -----------------------------------------------------------------------------------

asio::awaitable<void> LiveKitConnection::Impl::openSocket(lk::OpenSocket open, std::uint64_t gen) {
    auto self = shared_from_this();
    if (!creds || open.freshToken) {
        auto c = co_await credentials(open.freshToken);
        if (gen != socketGen || stopped) co_return;
        if (!c) {
            credsError = c.error().message;
            // 401/403 from the service: terminal on the first join, like the SFU refusing the token.
            const int status = c.error().errcode == errcode::kUnauthorized ? 401 : 0;
            execute(session.onSocketFailed({status, c.error().message}, now()));
            co_return;
        }
        credsError.clear();
        creds = std::move(c.value());
    }
    lk::SignalUrlOptions options;
    options.accessToken = creds->jwt;
    options.reconnect = open.resume;
    options.participantSid = open.participantSid;
    options.reconnectReason = open.reconnectReason;
    auto s = std::make_shared<Socket>();
    s->ws = std::make_shared<net::WebSocket>(executor);
    socket = s;
    auto err = co_await s->ws->connect(lk::signalUrl(creds->url, options));
    if (gen != socketGen || stopped) co_return;
    if (err) {
        execute(session.onSocketFailed({err->httpStatus, socketFailureText(creds->url, *err)}, now()));
        co_return;
    }
    execute(session.onSocketOpened(now()));
    asio::co_spawn(executor, readLoop(s, gen), asio::detached);
}

asio::awaitable<void> LiveKitConnection::Impl::readLoop(std::shared_ptr<Socket> s, std::uint64_t gen) {
    auto self = shared_from_this();
    while (true) {
        auto r = co_await s->ws->receive();
        if (gen != socketGen || stopped) co_return;
        if (const auto* e = std::get_if<net::WsError>(&r)) {
            std::string why = e->message;
            if (e->kind == net::NetErrorKind::Closed)
                why = "closed by the SFU (" + std::to_string(e->closeCode) +
                      (e->closeReason.empty() ? "" : " " + e->closeReason) + ")";
            execute(session.onSocketFailed({0, why}, now()));
            co_return;
        }
        const auto& msg = std::get<net::WsMessage>(r);
        if (!msg.binary) {
            warn("ignored a text message on the LiveKit signal socket");
            continue;
        }
        auto decoded = lk::decodeResponse(
            std::span(reinterpret_cast<const std::uint8_t*>(msg.data.data()), msg.data.size()));
        if (!decoded) {
            warn("ignored a LiveKit signal message: " + decoded.error().message);
            continue;
        }
        if (traceSignal())
            std::fprintf(stderr, "livekit %s < %s\n", config.name.c_str(), responseName(decoded.value()));
        execute(session.onMessage(decoded.value(), now()));
    }
}

void LiveKitConnection::Impl::send(const lk::SignalRequest& message) {
    if (!socket || !socket->ws) return;
    if (traceSignal()) std::fprintf(stderr, "livekit %s > %s\n", config.name.c_str(), requestName(message));
    const auto bytes = lk::encodeRequest(message);
    socket->outbox.emplace_back(bytes.begin(), bytes.end());
    if (!socket->writing) {
        socket->writing = true;
        asio::co_spawn(executor, writeLoop(socket), asio::detached);
    }
}

// One writer per socket, in order; a close asked for meanwhile waits until what was queued (a
// LeaveRequest) has gone out.
asio::awaitable<void> LiveKitConnection::Impl::writeLoop(std::shared_ptr<Socket> s) {
    auto self = shared_from_this();
    while (!s->outbox.empty()) {
        std::string next = std::move(s->outbox.front());
        s->outbox.pop_front();
        auto err = co_await s->ws->send(std::move(next), true);
        if (err) {
            s->outbox.clear();
            break;
        }
    }
    s->writing = false;
    if (s->closeWhenDrained) s->ws->close();
}

void LiveKitConnection::Impl::closeSocket() {
    if (!socket) return;
    ++socketGen;  // nothing more is reported about this socket
    if (socket->writing) {
        socket->closeWhenDrained = true;
    } else {
        socket->ws->close();
    }
    socket.reset();
}

// ---- peers ------------------------------------------------------------------------------------

SfuPeerListener LiveKitConnection::Impl::peerListener(lk::SignalTarget target) {
    SfuPeerListener l;
    const std::uint64_t gen = peersGen;
    const auto current = [weak = weak_from_this(), gen]() -> std::shared_ptr<Impl> {
        auto self = weak.lock();
        if (!self || self->stopped || self->peersGen != gen) return nullptr;
        return self;
    };
    l.onLocalDescription = [current, target](const std::string& sdp) {
        if (auto self = current()) {
            lk::SessionDescription d;
            d.type = target == lk::SignalTarget::Publisher ? "offer" : "answer";
            d.sdp = sdp;
            self->execute(self->session.onLocalDescription(target, std::move(d), now()));
        }
    };
    l.onLocalCandidate = [current, target](const core::IceCandidate& c) {
        if (auto self = current())
            self->execute(self->session.onLocalCandidate(target, candidateInit(c), now()));
    };
    l.onConnectionState = [current, target](ConnectionState s) {
        if (auto self = current())
            self->execute(self->session.onPeerConnectionState(target, toSession(s), now()));
    };
    l.onError = [current, target](const std::string& what) {
        if (auto self = current()) {
            self->warn(std::string(target == lk::SignalTarget::Publisher ? "publisher" : "subscriber") +
                       " media failed: " + what);
            self->execute(
                self->session.onPeerConnectionState(target, lk::PeerConnectionState::Failed, now()));
        }
    };
    return l;
}

void LiveKitConnection::Impl::useTurnServers(const std::vector<lk::IceServer>& servers) {
    auto uris = lk::turnServerUris(servers);
    if (uris.empty()) {
        if (config.media.relayOnly) warn("relay-only, but the SFU offers no TURN server: ICE will fail");
        return;
    }
    if (publisher) publisher->addTurnServers(uris);
    if (subscriber) subscriber->addTurnServers(std::move(uris));
}

void LiveKitConnection::Impl::createPeers(bool withPublisher) {
    closePeers();
    ++peersGen;
    SfuSubscriberOptions sub;
    sub.iceAddresses = config.media.iceAddresses;
    sub.stunServer = config.media.stunServer;
    sub.relayOnly = config.media.relayOnly;
    sub.icePacingMs = config.media.icePacingMs;
    sub.jitterLatencyMs = config.media.jitterLatencyMs;
    sub.e2ee = config.media.e2ee;
    sub.recordDir = config.recordDir;
    sub.sinks = config.media.sinks;  // frame callbacks / sink pipelines per subscribed track
    subscriber =
        std::make_unique<SfuSubscriber>(engine, std::move(sub), peerListener(lk::SignalTarget::Subscriber));
    if (!sifTrailer.empty()) subscriber->setServerInjectedTrailer(sifTrailer);
    midOwner.clear();
    if (withPublisher) {
        SfuPublisherOptions pub;
        pub.media = config.media;
        pub.streamId = config.streamId;
        pub.audioTrackId = audioCid;
        pub.videoTrackId = videoCid;
        publisher =
            std::make_unique<SfuPublisher>(engine, std::move(pub), peerListener(lk::SignalTarget::Publisher));
    }
    applyKeys();
}

void LiveKitConnection::Impl::closePeers() {
    ++peersGen;
    peersPrebuilt = false;
    if (publisher) publisher->close();
    if (subscriber) subscriber->close();
    publisher.reset();
    subscriber.reset();
}

void LiveKitConnection::Impl::applyKeys() {
    if (publisher && sendKey) publisher->setSendKey(sendKey->first, sendKey->second);
    if (!subscriber) return;
    for (const auto& [identity, keys] : participantKeys)
        for (const auto& [index, raw] : keys)
            subscriber->setParticipantKey(ParticipantIdentity(identity), KeyIndex{index}, raw);
}

void LiveKitConnection::Impl::mapTracks(const std::map<std::string, lk::RemoteTrack>& byMid) {
    if (!subscriber) return;
    for (auto it = midOwner.begin(); it != midOwner.end();) {
        if (byMid.find(it->first) == byMid.end()) {
            subscriber->unmapMid(TrackMid(it->first));
            it = midOwner.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [mid, track] : byMid) {
        if (track.identity.empty()) continue;  // the participant is not known yet: mapped later
        subscriber->mapMid(TrackMid(mid), ParticipantIdentity(track.identity));
        subscriber->setParticipantEncrypted(ParticipantIdentity(track.identity),
                                            track.info.encryption != lk::EncryptionType::None);
        midOwner[mid] = track.identity;
    }
}

void LiveKitConnection::Impl::participantChanged(const lk::ParticipantInfo& info, bool /*joined*/) {
    auto it = remotes.find(info.sid);
    const bool isNew = it == remotes.end();
    std::map<std::string, lk::TrackInfo> before;
    if (!isNew)
        for (const auto& t : it->second.tracks)
            before[t.sid] = t;
    remotes[info.sid] = info;
    if (isNew && listener.onParticipantJoined) listener.onParticipantJoined(info);
    if (!listener.onTrack) return;
    std::map<std::string, lk::TrackInfo> after;
    for (const auto& t : info.tracks) {
        after[t.sid] = t;
        auto b = before.find(t.sid);
        if (b == before.end()) {
            listener.onTrack(info.identity, t, "published");
            if (t.muted) listener.onTrack(info.identity, t, "muted");
        } else if (b->second.muted != t.muted) {
            listener.onTrack(info.identity, t, t.muted ? "muted" : "unmuted");
        }
    }
    for (const auto& [sid, t] : before)
        if (after.find(sid) == after.end()) listener.onTrack(info.identity, t, "unpublished");
}

// ---- public -----------------------------------------------------------------------------------

LiveKitConnection::LiveKitConnection(MediaEngine& engine, LiveKitConnectionConfig config,
                                     CredentialsProvider credentials, LiveKitConnectionListener listener)
    : m_impl(std::make_shared<Impl>(engine, std::move(config), std::move(credentials), std::move(listener))) {
}

LiveKitConnection::~LiveKitConnection() {
    auto& i = *m_impl;
    if (!i.stopped) {
        i.stopped = true;
        i.closePeers();
        i.closeSocket();
    }
    i.timer.cancel();
    i.listener = {};
}

void LiveKitConnection::start() {
    auto& i = *m_impl;
    const auto t = Impl::now();
    lk::SignalEffects effects;
    if (i.config.publish) {
        const auto& m = i.config.media;
        if (m.audio) {
            lk::LocalTrack a;
            a.cid = i.audioCid;
            a.type = lk::TrackType::Audio;
            a.source = lk::TrackSource::Microphone;
            a.name = "microphone";
            a.muted = m.audioMuted;
            a.encrypted = m.e2ee;
            for (auto& e : i.session.publish(a, t))
                effects.push_back(std::move(e));
        }
        if (m.video) {
            lk::LocalTrack v;
            v.cid = i.videoCid;
            v.type = lk::TrackType::Video;
            v.source = lk::TrackSource::Camera;
            v.name = "camera";
            v.width = static_cast<std::uint32_t>(m.videoWidth);
            v.height = static_cast<std::uint32_t>(m.videoHeight);
            v.muted = m.videoMuted;
            v.encrypted = m.e2ee;
            for (auto& e : i.session.publish(v, t))
                effects.push_back(std::move(e));
        }
    }
    for (auto& e : i.session.connect(t))
        effects.push_back(std::move(e));
    // Build both pipelines now: they get ready (encoders running, webrtcbin in PLAYING) while the
    // JWT is fetched and the SFU answers the join, instead of after the JoinResponse.
    i.createPeers(i.config.publish);
    i.peersPrebuilt = true;
    i.execute(std::move(effects));
}

void LiveKitConnection::leave() {
    auto& i = *m_impl;
    if (i.stopped) return;
    i.execute(i.session.leave(Impl::now()));
}

void LiveKitConnection::setSendKey(KeyIndex index, std::span<const std::uint8_t> raw) {
    auto& i = *m_impl;
    i.sendKey.emplace(index, std::vector<std::uint8_t>(raw.begin(), raw.end()));
    if (i.publisher) i.publisher->setSendKey(index, raw);
}

void LiveKitConnection::setParticipantKey(const std::string& identity, KeyIndex index,
                                          std::span<const std::uint8_t> raw) {
    auto& i = *m_impl;
    i.participantKeys[identity][index.value].assign(raw.begin(), raw.end());
    if (i.subscriber) i.subscriber->setParticipantKey(ParticipantIdentity(identity), index, raw);
}

void LiveKitConnection::setMuted(TrackKind kind, bool muted) {
    auto& i = *m_impl;
    if (i.publisher) i.publisher->setMuted(kind, muted);
    i.execute(i.session.setMuted(kind == TrackKind::Audio ? i.audioCid : i.videoCid, muted, Impl::now()));
}

livekit::SignalState LiveKitConnection::state() const {
    return m_impl->session.state();
}

std::string LiveKitConnection::identity() const {
    if (!m_impl->session.identity().empty()) return m_impl->session.identity();
    return m_impl->creds ? m_impl->creds->identity : std::string();
}

std::vector<LiveKitRemote> LiveKitConnection::remotes() const {
    std::vector<LiveKitRemote> out;
    const auto stats = m_impl->subscriber ? std::optional(m_impl->subscriber->stats()) : std::nullopt;
    for (const auto& [sid, p] : m_impl->remotes) {
        LiveKitRemote r{p.identity, sid, p.tracks, {}};
        if (stats) {
            auto it = stats->participants.find(ParticipantIdentity(p.identity));
            if (it != stats->participants.end()) r.stats = it->second;
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<SfuPublisherStats> LiveKitConnection::publisherStats() const {
    if (!m_impl->publisher) return std::nullopt;
    return m_impl->publisher->stats();
}

std::chrono::steady_clock::time_point LiveKitConnection::startedAt() const {
    return m_impl->started;
}

}  // namespace mxrtc::rtc
