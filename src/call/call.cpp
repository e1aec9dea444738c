#include "mxrtc/call/call.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <mutex>
#include <shared_mutex>

#include "backend.hpp"
#include "mxrtc/common/encoding.hpp"
#include "mxrtc/core/mesh_roster.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/olm_transport.hpp"
#include "mxrtc/olm/profile.hpp"

namespace mxrtc::call {

namespace asio = boost::asio;
using Json = nlohmann::json;

struct Call::Impl {
    matrix::Client& client;
    matrix::LoginSession self;
    CallConfig config;
    EventHandler onEvent;
    std::optional<core::Transport> focus;
    olm::ProfileCrypto crypto;
    std::unique_ptr<matrix::OlmTransport> olm;
#ifdef MXRTC_HAVE_RTC
    std::unique_ptr<rtc::MediaEngine> engine;
    std::shared_ptr<rtc::MediaInput> input;  // File/Pipeline/App sources, shared by every peer
#endif
    // Frame callbacks pass through this gate: closed by ~Call, after which none runs (peers are
    // torn down asynchronously, so their last frames may come later).
    struct FrameGate {
        std::shared_mutex mutex;
        bool open = true;
    };
    std::shared_ptr<FrameGate> frameGate = std::make_shared<FrameGate>();
    std::unique_ptr<detail::MediaBackend> backend;  // after the engine: destroyed before it
    std::unique_ptr<matrix::CallShell> shell;
    bool leaving = false;
    bool failed = false;

    Impl(matrix::Client& c, matrix::LoginSession s, CallConfig cfg, EventHandler h)
        : client(c), self(std::move(s)), config(std::move(cfg)), onEvent(std::move(h)) {
        gateFrameCallbacks();
    }

    void gateFrameCallbacks() {
        auto& m = config.media;
        const auto gated = [gate = frameGate](auto callback) {
            return [gate, callback](const auto&... args) {
                std::shared_lock lock(gate->mutex);
                if (gate->open) callback(args...);
            };
        };
        if (m.onAudioFrame) m.onAudioFrame = gated(m.onAudioFrame);
        if (m.onVideoFrame) m.onVideoFrame = gated(m.onVideoFrame);
    }
    void closeFrameGate() {
        std::unique_lock lock(frameGate->mutex);  // waits for a callback in progress
        frameGate->open = false;
    }

    void emit(const CallEvent& e) {
        if (onEvent) onEvent(e);
    }
    void onUpdate(const matrix::CallUpdate& u);
    void leave();
    void fail(const std::string& reason) {
        if (failed) return;
        failed = true;
        emit(CallFailed{reason});
        leave();
    }
};

namespace {

std::string keyFingerprint(const e2ee::MediaKey& key) {
    return hexEncode(sha256(key.key));
}

std::optional<UserId> optUser(const std::string& s) {
    return s.empty() ? std::nullopt : std::optional(UserId(s));
}
std::optional<DeviceId> optDevice(const std::string& s) {
    return s.empty() ? std::nullopt : std::optional(DeviceId(s));
}

#ifdef MXRTC_HAVE_RTC
static_assert(std::string_view(kMediaQueueFull) == std::string_view(rtc::kQueueFullErrcode));

// The shared source for File/Pipeline/App (null for Test), checked before the call is joined, and
// the sink descriptions checked too. Its end and failures become events.
Result<std::shared_ptr<rtc::MediaInput>> openMediaInput(rtc::MediaEngine& engine, const MediaConfig& m,
                                                        Call::Impl* call) {
    for (const auto* sink : {&m.audioSinkPipeline, &m.videoSinkPipeline}) {
        if (sink->empty()) continue;
        if (auto ok = rtc::checkSinkPipeline(engine, *sink); !ok) return ok.error();
    }
    rtc::MediaInputSpec spec;
    switch (m.source) {
        case MediaSource::None:
        case MediaSource::Test:
        case MediaSource::Receive:
            return std::shared_ptr<rtc::MediaInput>();
        case MediaSource::File:
            spec.kind = rtc::MediaInputSpec::Kind::File;
            spec.path = m.file;
            spec.loop = m.loop;
            break;
        case MediaSource::Pipeline:
            spec.kind = rtc::MediaInputSpec::Kind::Pipeline;
            spec.audioPipeline = m.audioPipeline;
            spec.videoPipeline = m.videoPipeline;
            break;
        case MediaSource::App:
            spec.kind = rtc::MediaInputSpec::Kind::App;
            spec.audio = m.appAudio;
            spec.video = m.appVideo;
            spec.maxQueued = m.appMaxQueued;
            break;
    }
    spec.width = m.width;
    spec.height = m.height;
    spec.framerate = m.framerate;
    const std::string source = m.source == MediaSource::File  ? "file " + m.file
                               : m.source == MediaSource::App ? std::string("application media")
                                                              : std::string("media pipeline");
    rtc::MediaInputListener listener;
    listener.onEnded = [call, source] { call->emit(MediaEnded{source}); };
    listener.onError = [call](const std::string& text) {
        call->emit(Warning{std::nullopt, std::nullopt, text});
    };
    return rtc::MediaInput::create(engine, std::move(spec), std::move(listener));
}
#endif

}  // namespace

void Call::Impl::onUpdate(const matrix::CallUpdate& u) {
    using K = matrix::CallUpdate::Kind;
    switch (u.kind) {
        case K::MemberJoined:
            emit(MemberJoined{UserId(u.user), DeviceId(u.device), u.self, u.at});
            break;
        case K::MemberLeft:
            emit(MemberLeft{UserId(u.user), DeviceId(u.device), u.self, u.leaveReason, u.at});
            break;
        case K::Status:
            emit(MembershipStatusChanged{u.status});
            break;
        case K::ProbablyLeft:
            emit(ProbablyLeftChanged{u.probablyLeft});
            break;
        case K::Warning:
            emit(Warning{optUser(u.user), optDevice(u.device), u.detail});
            break;
        case K::GaveUp:
            emit(CallFailed{u.detail});
            break;
        case K::KeyReceived:
            if (u.key)
                emit(KeyReceived{UserId(u.user), DeviceId(u.device), KeyIndex{u.key->index}, u.identity,
                                 keyFingerprint(*u.key)});
            break;
        case K::OwnKey:
            if (u.key) emit(OwnKeyChanged{KeyIndex{u.key->index}, u.identity, keyFingerprint(*u.key)});
            break;
    }
    if (backend && shell) backend->onCallUpdate(u, shell->calls());
}

asio::awaitable<std::optional<core::Transport>> discoverLiveKitTransport(matrix::Client& client) {
    auto t = co_await client.rtcTransports();
    if (matrix::ok(t)) {
        for (const auto& tr : std::get<Json>(t).value("rtc_transports", Json::array())) {
            if (tr.is_object() && tr.value("type", std::string()) == "livekit")
                co_return core::Transport{"livekit", tr};
        }
    }
    // Older servers: the rtc_foci advertised in .well-known/matrix/client.
    auto wk = co_await matrix::Client::wellKnown(client.http(), client.homeserver());
    if (matrix::ok(wk)) {
        for (const auto& tr : std::get<Json>(wk).value("org.matrix.msc4143.rtc_foci", Json::array())) {
            if (tr.is_object() && tr.value("type", std::string()) == "livekit")
                co_return core::Transport{"livekit", tr};
        }
    }
    co_return std::nullopt;
}

asio::awaitable<Result<std::unique_ptr<Call>>> Call::create(matrix::Client& client, matrix::LoginSession self,
                                                            CallConfig config, EventHandler onEvent) {
    auto impl = std::make_unique<Impl>(client, std::move(self), std::move(config), std::move(onEvent));
    const CallConfig& cfg = impl->config;

    // 1. The focus our membership announces.
    switch (cfg.focus.kind) {
        case FocusConfig::Kind::Mesh:
            impl->focus = core::meshTransport();
            break;
        case FocusConfig::Kind::LiveKit:
            impl->focus = core::Transport{
                "livekit", Json{{"type", "livekit"}, {"livekit_service_url", cfg.focus.liveKitServiceUrl}}};
            break;
        case FocusConfig::Kind::Auto:
            impl->focus = co_await discoverLiveKitTransport(client);
            break;
    }
    // Legacy memberships name the LiveKit room after the Matrix room (livekit_alias), as EC does.
    if (impl->focus && impl->focus->type == "livekit" && !impl->focus->raw.contains("livekit_alias"))
        impl->focus->raw["livekit_alias"] = cfg.room.str();

    const bool wantsMedia = cfg.media.source != MediaSource::None;
    if (wantsMedia && cfg.watchOnly)
        co_return makeError(errcode::kInvalidParam, "media needs a joined call, not a watch");
    if (wantsMedia && !impl->focus)
        co_return makeError(errcode::kNotFound,
                            "media needs a focus: the homeserver advertises no LiveKit transport (give a "
                            "LiveKit service URL, or use a mesh call)");

    // 2. E2EE: the profile's Olm account.
    if (cfg.e2ee) {
        auto crypto = olm::ProfileCrypto::open(cfg.profileDir.empty() ? std::string(".") : cfg.profileDir,
                                               impl->self.userId, impl->self.deviceId);
        if (!crypto) co_return crypto.error();
        impl->crypto = std::move(crypto.value());
        impl->olm = std::make_unique<matrix::OlmTransport>(client, impl->self, *impl->crypto.machine);
    }

    // 3. The call shell (membership, members, keys).
    matrix::CallOptions opts;
    opts.room = cfg.room;
    opts.join = !cfg.watchOnly;
    opts.membership.delayedLeaveDelay = cfg.delayedLeave;
    opts.callIntent = cfg.intent;
    if (impl->focus) opts.foci.push_back(*impl->focus);
    opts.focusSelection = cfg.focus.selection;
    opts.initialSyncToken = cfg.initialSyncToken;
    opts.onSyncToken = cfg.onSyncToken;
    opts.encryption = impl->olm.get();
    if (cfg.keyTransport == CallConfig::KeyTransport::RoomEvent)
        opts.keyTransport = matrix::CallOptions::KeyTransport::RoomEvent;

    // 4. The media backend the focus asks for.
    if (wantsMedia) {
#ifdef MXRTC_HAVE_RTC
        auto engine = rtc::MediaEngine::create(client.http().executor());
        if (!engine)
            co_return makeError(engine.error().errcode,
                                "cannot start the media engine: " + engine.error().message);
        impl->engine = std::move(engine).value();
        Impl* raw = impl.get();
        auto input = openMediaInput(*impl->engine, cfg.media, raw);
        if (!input) co_return input.error();
        impl->input = std::move(input).value();
        detail::BackendContext context{
            client,
            impl->self,
            impl->config,
            core::slotIdFor(opts.application, opts.callId),
            *impl->focus,
            *impl->engine,
            impl->olm.get(),
            [raw](CallEvent e) { raw->emit(e); },
            [raw]() -> std::optional<DelayId> { return raw->shell ? raw->shell->delayId() : std::nullopt; },
            [raw](const std::string& reason) { raw->fail(reason); },
            impl->input};
        if (impl->focus->type == "mesh") {
            impl->backend = detail::makeMeshBackend(std::move(context));
        } else {
            impl->backend = detail::makeLiveKitBackend(std::move(context));
        }
        opts.onToDevice = [raw](const matrix::ReceivedToDevice& m) {
            if (raw->backend) raw->backend->onToDevice(m);
        };
#else
        co_return makeError(errcode::kUnsupported,
                            "this mxrtc was built without GStreamer (module rtc): media is not available");
#endif
    }

    Impl* raw = impl.get();
    impl->shell = std::make_unique<matrix::CallShell>(
        client, impl->self, std::move(opts), [raw](const matrix::CallUpdate& u) { raw->onUpdate(u); });
    co_return std::unique_ptr<Call>(new Call(std::move(impl)));
}

Call::Call(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Call::~Call() {
    // Media first (it may still reference the shell's view), then the shell.
#ifdef MXRTC_HAVE_RTC
    if (m_impl->input) m_impl->input->stop();  // no MediaEnded/Warning after this
#endif
    m_impl->closeFrameGate();
    m_impl->backend.reset();
    m_impl->shell.reset();
}

asio::awaitable<int> Call::run() {
    const int rc = co_await m_impl->shell->run();
    co_return m_impl->failed ? 1 : rc;
}

void Call::Impl::leave() {
    if (leaving) return;
    leaving = true;
    if (backend) backend->leave();  // peers hang up before the membership goes
#ifdef MXRTC_HAVE_RTC
    if (input) input->stop();  // the file/device closes; pushes fail from now on
#endif
    if (shell) shell->stop();
}

void Call::leave() {
    m_impl->leave();
}

Result<void> Call::setMuted(Track track, bool muted) {
    if (!m_impl->backend) return makeError(errcode::kUnsupported, "this call has no media");
    return m_impl->backend->setMuted(track, muted);
}

Result<void> Call::pushAudio(std::span<const std::int16_t> pcm, int channels, int sampleRate) {
#ifdef MXRTC_HAVE_RTC
    if (m_impl->config.media.source == MediaSource::App && m_impl->input)
        return m_impl->input->pushAudio(pcm, channels, sampleRate);
#else
    (void)pcm, (void)channels, (void)sampleRate;
#endif
    return makeError(errcode::kUnsupported, "pushAudio needs MediaSource::App");
}

Result<void> Call::pushVideo(const I420Frame& f, std::optional<std::chrono::microseconds> timestamp) {
#ifdef MXRTC_HAVE_RTC
    if (m_impl->config.media.source == MediaSource::App && m_impl->input) {
        rtc::I420View view;
        view.width = f.width;
        view.height = f.height;
        view.planes = {f.y, f.u, f.v};
        view.strides = {f.strideY, f.strideU, f.strideV};
        return m_impl->input->pushVideo(view, timestamp);
    }
#else
    (void)f, (void)timestamp;
#endif
    return makeError(errcode::kUnsupported, "pushVideo needs MediaSource::App");
}

std::vector<ParticipantMedia> Call::media() const {
    return m_impl->backend ? m_impl->backend->media() : std::vector<ParticipantMedia>{};
}

const core::RoomCalls& Call::calls() const {
    return m_impl->shell->calls();
}

std::optional<core::Transport> Call::focus() const {
    return m_impl->focus;
}

}  // namespace mxrtc::call
