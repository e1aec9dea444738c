#include "mxrtc/rtc/direct_call.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mxrtc/matrix/call.hpp"
#include "mxrtc/rtc/mesh_session.hpp"
#include "random_id.hpp"

namespace mxrtc::rtc {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {}  // namespace

core::PeerCallConfig DirectCallOptions::defaultPeerConfig() {
    core::PeerCallConfig c;
    c.maxIceRestarts = 0;  // webrtcbin 1.22 cannot restart ICE: an ICE failure ends the call (ice_failed)
    c.firstCandidateDelay = Duration{10};
    return c;
}

DirectCall::DirectCall(matrix::Client& client, matrix::LoginSession self, MediaEngine& engine,
                       DirectCallOptions options, Listener listener)
    : m_client(client),
      m_self(std::move(self)),
      m_options(std::move(options)),
      m_listener(std::move(listener)),
      m_timer(client.http().executor()),
      m_done(client.http().executor()),
      m_alive(std::make_shared<bool>(true)) {
    CallMedia::Events ev;
    ev.onLocalDescription = [this](const CallId&, const core::SessionDescription& d) {
        if (m_call) execute(m_call->onLocalDescription(d, matrix::wallClockNow()));
    };
    ev.onLocalCandidate = [this](const CallId&, const core::IceCandidate& c) {
        if (m_call) execute(m_call->onLocalCandidate(c, matrix::wallClockNow()));
    };
    ev.onIceState = [this](const CallId&, core::IceConnectionState s) {
        if (m_call) execute(m_call->onIceState(s, matrix::wallClockNow()));
    };
    ev.onError = [this](const CallId&, const std::string& what) {
        emit(DirectCallEvent::Kind::Warning, "media failed: " + what);
        if (m_call) execute(m_call->onMediaFailed(matrix::wallClockNow()));
    };
    m_media = std::make_unique<CallMedia>(engine, m_options.media, std::move(ev));
    m_media->prewarm();  // the invite or answer goes out as soon as the call starts
    m_timer.expires_at(std::chrono::steady_clock::time_point::max());
    m_done.expires_at(std::chrono::steady_clock::time_point::max());
}

DirectCall::~DirectCall() {
    *m_alive = false;
    m_timer.cancel();
    m_done.cancel();
    if (m_media) m_media->closeAll();
}

void DirectCall::emit(DirectCallEvent::Kind kind, std::string detail) {
    if (!m_listener) return;
    std::string user;
    if (m_call && m_call->opponentUser()) user = m_call->opponentUser()->str();
    m_listener({kind, std::move(user), std::move(detail)});
}

std::optional<PeerStats> DirectCall::stats() const {
    if (!m_call) return std::nullopt;
    return m_media->stats(m_call->id());
}

std::optional<core::CallState> DirectCall::state() const {
    if (!m_call) return std::nullopt;
    return m_call->state();
}

std::optional<UserId> DirectCall::remote() const {
    if (!m_call) return std::nullopt;
    return m_call->opponentUser();
}

asio::awaitable<int> DirectCall::place() {
    co_return co_await run(Mode::Place, Duration{0});
}

asio::awaitable<int> DirectCall::answer(Duration wait) {
    co_return co_await run(Mode::Answer, wait);
}

void DirectCall::hangup() {
    if (m_call && m_call->state() != core::CallState::Ended) {
        execute(m_call->hangup(core::HangupReason::UserHangup, matrix::wallClockNow()));
        return;
    }
    m_hangupRequested = true;
    m_done.cancel();
}

void DirectCall::execute(core::CallEffects effects) {
    for (auto& e : effects) {
        if (m_media->perform(e)) continue;
        if (auto* s = std::get_if<core::SendCallMessage>(&e)) {
            m_outbox.push_back(Outgoing{std::string(core::sendEventType(s->message.type())),
                                        core::serializeCallMessage(s->message)});
        } else if (const auto* w = std::get_if<core::ScheduleWakeup>(&e)) {
            const auto delta = w->at - matrix::wallClockNow();
            m_timer.expires_after(delta > Duration{0} ? delta : Duration{0});
        } else if (const auto* st = std::get_if<core::CallStateChanged>(&e)) {
            if (st->state == core::CallState::Connected) m_connected = true;
            emit(DirectCallEvent::Kind::State, std::string(core::toString(st->state)));
        } else if (const auto* in = std::get_if<core::IncomingCall>(&e)) {
            if (m_listener) m_listener({DirectCallEvent::Kind::Incoming, in->caller.str(), "ringing"});
        } else if (const auto* end = std::get_if<core::CallEnded>(&e)) {
            m_ended = *end;
            emit(DirectCallEvent::Kind::Ended,
                 std::string(core::toString(end->reason)) + (end->rejected ? " (rejected)" : "") +
                     (end->by == core::EndedBy::Remote ? " (by them)" : " (by us)"));
        } else if (const auto* md = std::get_if<core::RemoteMetadataChanged>(&e)) {
            emit(DirectCallEvent::Kind::RemoteMedia, describeMetadata(md->metadata));
        } else if (const auto* d = std::get_if<core::MessageDropped>(&e)) {
            emit(DirectCallEvent::Kind::Dropped,
                 std::string(core::toString(d->reason)) + (d->detail.empty() ? "" : ": " + d->detail));
        }
    }
    if (!m_outbox.empty() && !m_sending) {
        m_sending = true;
        asio::co_spawn(m_client.http().executor(), drainOutbox(), asio::detached);
    }
    if (m_ended && m_outbox.empty() && !m_sending) m_done.cancel();
}

// Room events go out one at a time, in the order PeerCall produced them (invite before its
// candidates, the hangup last).
asio::awaitable<void> DirectCall::drainOutbox() {
    auto alive = m_alive;
    while (*alive && !m_outbox.empty()) {
        Outgoing next = std::move(m_outbox.front());
        m_outbox.pop_front();
        auto r = co_await m_client.sendEvent(m_options.room, next.type, next.content);
        if (!*alive) co_return;
        if (const auto* e = std::get_if<matrix::MatrixError>(&r)) {
            emit(DirectCallEvent::Kind::Warning, "sending " + next.type + " failed: " + e->message);
            if (m_call && m_call->state() != core::CallState::Ended) {
                auto effects = m_call->onSendFailed(next.type, matrix::wallClockNow());
                if (!effects.empty()) m_outbox.clear();  // the call ended: only its hangup goes out
                execute(std::move(effects));
            }
        }
    }
    m_sending = false;
    if (m_ended) m_done.cancel();
}

asio::awaitable<void> DirectCall::timerLoop() {
    auto alive = m_alive;
    while (*alive) {
        auto [ec] = co_await m_timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!*alive) co_return;
        if (ec == asio::error::operation_aborted) {
            if (m_timer.expiry() == std::chrono::steady_clock::time_point::min()) co_return;
            continue;  // re-armed
        }
        m_timer.expires_at(std::chrono::steady_clock::time_point::max());
        if (m_call) execute(m_call->onWakeup(matrix::wallClockNow()));
    }
}

void DirectCall::handleTimeline(const Json& events, bool initial) {
    const TimePoint now = matrix::wallClockNow();
    for (const auto& ev : events) {
        if (!ev.is_object()) continue;
        const std::string type = ev.value("type", std::string());
        const std::string senderText = ev.value("sender", std::string());
        const Json content = ev.value("content", Json::object());
        auto parsed = core::parseCallMessage(type, content, core::CallTransport::Room);
        if (!parsed) {
            if (!initial)
                emit(DirectCallEvent::Kind::Dropped, "malformed " + type + ": " + parsed.error().message);
            continue;
        }
        const UserId sender(senderText);
        const core::CallMessage& msg = *parsed;
        if (sender == m_self.userId && msg.partyId.str() == m_self.deviceId.str()) continue;  // our echo
        if (std::holds_alternative<core::Invite>(msg.body)) {
            if (m_mode != Mode::Answer || m_call) continue;  // placing, or busy with a call already
            const auto& invite = std::get<core::Invite>(msg.body);
            if (invite.invitee && *invite.invitee != m_self.userId) continue;
            Duration age{0};
            if (auto u = ev.find("unsigned");
                u != ev.end() && u->is_object() && (*u)["age"].is_number_integer())
                age = Duration{(*u)["age"].get<std::int64_t>()};
            m_call = std::make_unique<core::PeerCall>(msg.callId, m_self.userId,
                                                      PartyId(m_self.deviceId.str()), m_options.peer);
            execute(m_call->onInvite(sender, msg, age, now));
        } else if (m_call && msg.callId == m_call->id()) {
            execute(m_call->onMessage(sender, msg, now));
        }
        // An invite that ended before we answered it (hung up, expired): keep waiting for the next.
        if (m_mode == Mode::Answer && m_call && m_call->state() == core::CallState::Ended && !m_connected &&
            m_ended && m_ended->by == core::EndedBy::Remote) {
            m_call.reset();
            m_ended.reset();
        }
    }
    // Answer only after the whole batch (MSC2746: an invite followed by its hangup never rings).
    if (m_mode == Mode::Answer && m_call && m_call->state() == core::CallState::Ringing)
        execute(m_call->answer(streamMetadata(m_options.media), now));
}

asio::awaitable<void> DirectCall::syncInto(matrix::SyncLoop& sync, Duration timeout,
                                           std::optional<matrix::MxResult<Json>>& out) {
    out = co_await sync.poll(timeout);
}

asio::awaitable<int> DirectCall::run(Mode mode, Duration wait) {
    using namespace asio::experimental::awaitable_operators;
    auto alive = m_alive;
    m_mode = mode;
    // Only the room's call events: no state, no other timeline events.
    auto filter = matrix::SyncFilter::forRoom(m_options.room, 50);
    filter.timelineTypes = {"m.call.*", "org.matrix.call.*"};
    filter.roomState = false;
    matrix::SyncLoop::Options o;
    o.filter = filter.dump();
    o.timeout = m_options.syncTimeout;
    o.onRetry = [this, alive](const matrix::MatrixError& e, Duration retryIn, int) {
        if (*alive)
            emit(DirectCallEvent::Kind::Warning,
                 "sync failed: " + e.message + ", retrying in " + formatSeconds(retryIn));
    };
    matrix::SyncLoop sync(m_client, std::move(o));
    asio::co_spawn(m_client.http().executor(), timerLoop(), asio::detached);
    const auto waitUntil = std::chrono::steady_clock::now() + wait;

    auto first = co_await sync.poll();
    if (!*alive) co_return 1;
    if (const auto* e = std::get_if<matrix::MatrixError>(&first)) {
        emit(DirectCallEvent::Kind::Warning, "cannot read the room: " + e->message);
        co_return 1;
    }
    if (mode == Mode::Answer) {
        if (const Json* tl = matrix::roomEventsOf(std::get<Json>(first), m_options.room, "timeline"))
            handleTimeline(*tl, true);
    } else {
        m_call = std::make_unique<core::PeerCall>(CallId(randomToken()), m_self.userId,
                                                  PartyId(m_self.deviceId.str()), m_options.peer);
        execute(
            m_call->placeCall(m_options.invitee, streamMetadata(m_options.media), matrix::wallClockNow()));
    }

    while (*alive && !m_hangupRequested && !(m_ended && m_outbox.empty() && !m_sending)) {
        Duration timeout = m_options.syncTimeout;
        if (mode == Mode::Answer && !m_call) {
            const auto left =
                std::chrono::duration_cast<Duration>(waitUntil - std::chrono::steady_clock::now());
            if (left <= Duration{0}) {
                emit(DirectCallEvent::Kind::Warning, "no call came in");
                break;
            }
            timeout = std::min(timeout, left);
        }
        std::optional<matrix::MxResult<Json>> synced;
        auto r = co_await (syncInto(sync, timeout, synced) ||
                           m_done.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (!*alive) co_return 1;
        if (r.index() == 1 || !synced) {  // done (ended, hangup requested)
            m_done.expires_at(std::chrono::steady_clock::time_point::max());
            continue;
        }
        auto& result = *synced;
        if (const auto* e = std::get_if<matrix::MatrixError>(&result)) {
            if (e->unknownToken) {
                emit(DirectCallEvent::Kind::Warning, "the access token is no longer valid: log in again");
                break;
            }
            continue;  // SyncLoop reported it and waited the backoff
        }
        const Json& body = std::get<Json>(result);
        if (const Json* tl = matrix::roomEventsOf(body, m_options.room, "timeline"))
            handleTimeline(*tl, false);
    }
    m_timer.expires_at(std::chrono::steady_clock::time_point::min());
    m_timer.cancel();
    m_media->closeAll();
    co_return m_connected&& m_ended ? 0 : 1;
}

}  // namespace mxrtc::rtc
