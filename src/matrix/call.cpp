#include "mxrtc/matrix/call.hpp"

#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mxrtc/matrix/olm_transport.hpp"
#include "mxrtc/matrix/sync_loop.hpp"

namespace mxrtc::matrix {

namespace asio = boost::asio;
using Json = nlohmann::json;
using namespace core;

TimePoint wallClockNow() {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

namespace {

SessionMembershipData ownMembership(const LoginSession& self, const CallOptions& o) {
    SessionMembershipData d;
    d.user = self.userId;
    d.device = self.deviceId;
    d.application = o.application;
    d.callId = o.callId;
    d.fociPreferred = o.foci;
    d.focusSelection = o.focusSelection;
    // A mesh call announces a mesh focus (MSC3401 full mesh); everything else is a LiveKit call.
    if (!o.foci.empty() && o.foci.front().type == "mesh") d.focusType = "mesh";
    d.callIntent = o.callIntent;
    return d;
}

// Devices of the call's members other than ours (who must hold our outbound Megolm session).
std::vector<olm::DeviceRef> otherMemberDevices(const std::vector<e2ee::KeyMember>& members,
                                               const LoginSession& self) {
    std::vector<olm::DeviceRef> out;
    for (const auto& m : members) {
        if (m.user == self.userId && m.device == self.deviceId) continue;
        out.push_back({m.user, m.device});
    }
    return out;
}

CallUpdate warning(const std::string& user, std::string text) {
    return CallUpdate(CallUpdate::Kind::Warning, user, "", std::move(text), wallClockNow());
}

template <typename T>
RequestOutcome toOutcome(const MxResult<T>& r, std::optional<DelayId> delayId = std::nullopt) {
    if (const auto* e = std::get_if<MatrixError>(&r)) return e->toFailure();
    RequestSucceeded s;
    s.delayId = std::move(delayId);
    return s;
}

}  // namespace

CallShell::CallShell(Client& client, LoginSession self, CallOptions options, Listener listener)
    : m_client(client),
      m_self(std::move(self)),
      m_options(std::move(options)),
      m_listener(std::move(listener)),
      m_session(m_options.room, ownMembership(m_self, m_options),
                CallSessionConfig{m_options.membership, m_options.encryption != nullptr}),
      m_timer(client.http().executor()),
      m_stopSignal(client.http().executor()),
      m_alive(std::make_shared<bool>(true)) {
    m_timer.expires_at(std::chrono::steady_clock::time_point::max());
    m_stopSignal.expires_at(std::chrono::steady_clock::time_point::max());
    if (m_options.encryption != nullptr) {
        const std::string id = m_self.userId.str() + ":" + m_self.deviceId.str();
        e2ee::KeyMember self{m_self.userId, m_self.deviceId, id, TimePoint{}, id};
        m_keys = std::make_unique<e2ee::KeyManager>(
            self, [](std::span<std::uint8_t> out) { RAND_bytes(out.data(), static_cast<int>(out.size())); },
            m_options.keys);
    }
}

CallShell::~CallShell() {
    *m_alive = false;
}

void CallShell::stop() {
    if (m_stopping) return;
    m_stopping = true;
    apply(m_session.leave(wallClockNow()));
    if (m_session.status() == MembershipStatus::Disconnected ||
        m_session.status() == MembershipStatus::Error) {
        m_stopSignal.cancel();
    }
}

void CallShell::rearm() {
    std::optional<TimePoint> at = m_session.nextWakeup();
    if (m_keys) {
        if (auto k = m_keys->nextWakeup(); k && (!at || *k < *at)) at = k;
    }
    if (!at) {
        m_timer.expires_at(std::chrono::steady_clock::time_point::max());
    } else {
        const auto delta = *at - wallClockNow();
        m_timer.expires_after(delta > Duration{0} ? delta : Duration{0});
    }
}

void CallShell::apply(CallSessionOutput out) {
    for (const auto& bad : out.invalid) {
        notify({CallUpdate::Kind::Warning, bad.sender.str(), "",
                "ignored an invalid member event: " + bad.error.message, wallClockNow()});
    }
    report(out.changes);
    execute(std::move(out.membership));
    if (!m_keys || !out.keys) return;
    std::vector<e2ee::KeyMember> members;
    for (const auto& m : out.keys->members) {
        const std::string id = m.user.str() + ":" + m.device.str();
        members.push_back(e2ee::KeyMember{m.user, m.device, id, m.createdTs, m.liveKitIdentity()});
    }
    executeKeys(out.keys->start ? m_keys->join(members, wallClockNow())
                                : m_keys->onMembersChanged(members, wallClockNow()));
}

void CallShell::execute(Effects effects) {
    for (auto& effect : effects) {
        if (std::holds_alternative<ScheduleWakeup>(effect)) continue;  // rearm() below covers it
        if (const auto* s = std::get_if<StatusChanged>(&effect)) {
            CallUpdate up{CallUpdate::Kind::Status, m_self.userId.str(), m_self.deviceId.str(),
                          std::string(toString(s->status)), wallClockNow()};
            up.status = s->status;
            notify(std::move(up));
            if (m_stopping &&
                (s->status == MembershipStatus::Disconnected || s->status == MembershipStatus::Error)) {
                m_stopSignal.cancel();
            }
            continue;
        }
        if (const auto* p = std::get_if<ProbablyLeftChanged>(&effect)) {
            CallUpdate up{CallUpdate::Kind::ProbablyLeft, m_self.userId.str(), m_self.deviceId.str(),
                          p->probablyLeft ? "true" : "false", wallClockNow()};
            up.probablyLeft = p->probablyLeft;
            notify(std::move(up));
            continue;
        }
        if (const auto* d = std::get_if<DelayedLeaveUnavailable>(&effect)) {
            notify({CallUpdate::Kind::Warning, m_self.userId.str(), m_self.deviceId.str(),
                    "homeserver has no usable delayed events (" + std::string(toString(d->cause)) +
                        "): a crash would leave a stale membership until it expires",
                    wallClockNow()});
            continue;
        }
        if (const auto* g = std::get_if<GaveUp>(&effect)) {
            m_failed = true;
            notify({CallUpdate::Kind::GaveUp, m_self.userId.str(), m_self.deviceId.str(), g->reason,
                    wallClockNow()});
            if (!m_stopping) {
                m_stopping = true;
                m_stopSignal.cancel();
            }
            continue;
        }
        asio::co_spawn(m_client.http().executor(), perform(std::move(effect)), asio::detached);
    }
    rearm();
}

asio::awaitable<void> CallShell::perform(MembershipEffect effect) {
    auto alive = m_alive;
    RequestId id = 0;
    RequestOutcome outcome = RequestSucceeded{};
    const RoomId& room = m_options.room;
    if (auto* s = std::get_if<SendDelayedStateEvent>(&effect)) {
        id = s->id;
        auto r = co_await m_client.sendState(room, s->type, s->stateKey, s->content, s->delay);
        outcome = toOutcome(r, ok(r) ? std::get<SendResult>(r).delayId : std::nullopt);
    } else if (auto* s = std::get_if<SendStateEvent>(&effect)) {
        id = s->id;
        auto r = co_await m_client.sendState(room, s->type, s->stateKey, s->content);
        outcome = toOutcome(r);
    } else if (auto* s = std::get_if<RestartDelayedEvent>(&effect)) {
        id = s->id;
        outcome = toOutcome(co_await m_client.delayedEvent(s->delayId, DelayedAction::Restart, s->timeout));
    } else if (auto* s = std::get_if<SendDelayedEventNow>(&effect)) {
        id = s->id;
        outcome = toOutcome(co_await m_client.delayedEvent(s->delayId, DelayedAction::Send, Duration{5000}));
    } else if (auto* s = std::get_if<CancelDelayedEvent>(&effect)) {
        id = s->id;
        outcome =
            toOutcome(co_await m_client.delayedEvent(s->delayId, DelayedAction::Cancel, Duration{5000}));
    } else {
        co_return;
    }
    if (!*alive) co_return;
    if (const auto* f = std::get_if<RequestFailure>(&outcome); f && f->kind != FailureKind::NotFound) {
        notify({CallUpdate::Kind::Warning, m_self.userId.str(), m_self.deviceId.str(),
                "request failed: " + std::string(toString(f->kind)) +
                    (f->errcode.empty() ? "" : " " + f->errcode),
                wallClockNow()});
    }
    apply(m_session.onResponse(id, outcome, wallClockNow()));
}

std::vector<e2ee::KeyMember> CallShell::keyMembers() const {
    std::vector<e2ee::KeyMember> out;
    for (const auto* m : m_session.calls().members(m_session.slot())) {
        const std::string id = m->user.str() + ":" + m->device.str();
        out.push_back(e2ee::KeyMember{m->user, m->device, id, m->createdTs, m->liveKitIdentity()});
    }
    return out;
}

void CallShell::executeKeys(std::vector<e2ee::KeyEffect> effects) {
    for (auto& effect : effects) {
        if (auto* d = std::get_if<e2ee::DistributeKey>(&effect)) {
            asio::co_spawn(m_client.http().executor(), distribute(std::move(*d)), asio::detached);
        } else if (const auto* u = std::get_if<e2ee::UseOwnKey>(&effect)) {
            CallUpdate up{CallUpdate::Kind::OwnKey, m_self.userId.str(), m_self.deviceId.str(),
                          std::to_string(u->key.index), wallClockNow()};
            up.key = u->key;
            up.identity = m_self.userId.str() + ":" + m_self.deviceId.str();
            notify(std::move(up));
        } else if (const auto* r = std::get_if<e2ee::RemoteKeyReceived>(&effect)) {
            CallUpdate up{CallUpdate::Kind::KeyReceived, r->member.user.str(), r->member.device.str(),
                          std::to_string(r->key.index), wallClockNow()};
            up.key = r->key;
            up.identity = r->member.participantIdentity;
            notify(std::move(up));
        } else if (const auto* k = std::get_if<e2ee::KeyDropped>(&effect)) {
            notify({CallUpdate::Kind::Warning, k->sender.str(), k->device.str(),
                    "media key not used: " + k->reason, wallClockNow()});
        } else if (const auto* f = std::get_if<e2ee::DistributionFailed>(&effect)) {
            notify({CallUpdate::Kind::Warning, "", "",
                    "could not deliver media key " + std::to_string(f->keyIndex) + " to " +
                        std::to_string(f->recipients.size()) + " device(s): they cannot decrypt us",
                    wallClockNow()});
        }
    }
    rearm();
}

asio::awaitable<void> CallShell::distribute(e2ee::DistributeKey effect) {
    auto alive = m_alive;
    const std::string ownId = m_self.userId.str() + ":" + m_self.deviceId.str();
    MxResult<EncryptedSendReport> r = MatrixError{};
    if (m_options.keyTransport == CallOptions::KeyTransport::RoomEvent) {
        // Megolm: the room key goes to every member device, not only this effect's recipients.
        std::vector<olm::DeviceRef> members = otherMemberDevices(keyMembers(), m_self);
        r = co_await m_options.encryption->distributeKeyInRoom(effect, m_options.room, std::move(members),
                                                               wallClockNow());
    } else {
        r = co_await m_options.encryption->distributeKey(effect, m_options.room, ownId, wallClockNow());
    }
    if (!*alive || !m_keys) co_return;
    bool delivered = ok(r);
    if (const auto* e = std::get_if<MatrixError>(&r)) {
        notify({CallUpdate::Kind::Warning, "", "", "sending the media key failed: " + e->message,
                wallClockNow()});
    } else {
        for (const auto& s : std::get<EncryptedSendReport>(r).skipped) {
            notify({CallUpdate::Kind::Warning, s.user.str(), s.device.str(),
                    "media key not sent to this device: " + s.reason, wallClockNow()});
        }
    }
    executeKeys(m_keys->onDistributed(effect.id, delivered, wallClockNow()));
}

asio::awaitable<void> CallShell::handleCrypto(const Json& sync) {
    auto alive = m_alive;
    SyncCryptoResult crypto = co_await m_options.encryption->handleSync(sync, wallClockNow());
    if (!*alive || !m_keys) co_return;
    for (const auto& f : crypto.failures) {
        notify({CallUpdate::Kind::Warning, f.sender.str(), "", "to-device " + f.type + " dropped: " + f.error,
                wallClockNow()});
    }
    for (const auto& ev : crypto.events) {
        if (ev.type != e2ee::kEncryptionKeysType) {
            if (m_options.onToDevice) m_options.onToDevice(ev);
            continue;
        }
        auto key = e2ee::parseToDeviceKeyMessage(ev.content, ev.origin, m_options.room, wallClockNow());
        if (!key) {
            if (key.error().errcode == errcode::kWrongRoom)
                continue;  // another call's key: not ours to judge
            notify({CallUpdate::Kind::Warning, ev.origin.sender.str(), ev.origin.senderDevice.str(),
                    "media key refused: " + key.error().message, wallClockNow()});
            continue;
        }
        executeKeys(m_keys->onKeyReceived(*key, wallClockNow()));
    }
}

void CallShell::receiveRoomKeyEvents(const Json& timeline) {
    const TimePoint now = wallClockNow();
    std::vector<Json> fresh;
    if (timeline.is_array()) {
        for (const auto& ev : timeline) {
            if (ev.is_object() && ev.value("type", std::string()) == e2ee::kRoomEncryptedType)
                fresh.push_back(ev);
        }
    }
    for (auto& entry : m_keyBacklog.take(std::move(fresh), now)) {
        const std::string sender = entry.event.value("sender", std::string());
        const std::string what =
            "encrypted room event " + entry.event.value("event_id", std::string()) + " from " + sender;
        auto keys = m_options.encryption->receiveRoomKeyEvent(m_options.room, entry.event);
        if (!keys) {
            if (keys.error().errcode == olm::errcode::kUnknownGroupSession) {
                switch (m_keyBacklog.noRoomKey(std::move(entry), now)) {
                    case RoomKeyBacklog::Verdict::WaitingFirst:
                        notify(warning(sender,
                                       what + ": no room key yet (" + keys.error().message + "), waiting"));
                        continue;
                    case RoomKeyBacklog::Verdict::Waiting:
                        continue;
                    case RoomKeyBacklog::Verdict::Dropped:
                        break;
                }
            }
            notify(warning(sender, what + " not used: " + keys.error().message));
            continue;
        }
        for (const auto& k : *keys) {
            if (k.sender == m_self.userId && k.device == m_self.deviceId) continue;  // our own echo (K9)
            executeKeys(m_keys->onKeyReceived(k, now));
        }
    }
}

void CallShell::deliverPlainToDevice(const Json& sync) {
    const auto td = sync.find("to_device");
    if (td == sync.end() || !td->is_object()) return;
    const auto events = td->find("events");
    if (events == td->end() || !events->is_array()) return;
    for (const auto& ev : *events) {
        if (!ev.is_object() || !ev.contains("sender") || !ev["sender"].is_string()) continue;
        const UserId sender(ev["sender"].get<std::string>());
        ReceivedToDevice r;
        r.type = ev.value("type", std::string());
        r.content = ev.value("content", Json::object());
        r.origin = e2ee::ToDeviceOrigin{sender, false, DeviceId()};
        m_options.onToDevice(r);
    }
}

void CallShell::report(const std::vector<SessionChange>& changes) {
    for (const auto& c : changes) {
        if (const auto* j = std::get_if<MemberJoined>(&c)) {
            const bool self = m_session.isSelf(*j->member);
            CallUpdate up{CallUpdate::Kind::MemberJoined, j->member->user.str(), j->member->device.str(),
                          self ? "self" : "", j->member->createdTs};
            up.self = self;
            up.identity = j->member->liveKitIdentity();
            notify(std::move(up));
        } else if (const auto* l = std::get_if<MemberLeft>(&c)) {
            CallUpdate up{CallUpdate::Kind::MemberLeft, l->member->user.str(), l->member->device.str(),
                          std::string(toString(l->reason)), wallClockNow()};
            up.self = m_session.isSelf(*l->member);
            up.leaveReason = l->reason;
            up.identity = l->member->liveKitIdentity();
            notify(std::move(up));
        }
    }
}

void CallShell::applyEvents(const Json& events) {
    if (!events.is_array()) return;
    std::vector<RoomEvent> parsed;
    parsed.reserve(events.size());
    for (const auto& raw : events) {
        Json ev = raw;
        ev["room_id"] = m_options.room.str();
        if (auto p = parseRoomEvent(ev)) parsed.push_back(std::move(*p));
    }
    if (!parsed.empty()) apply(m_session.apply(parsed, wallClockNow()));
}

asio::awaitable<void> CallShell::timerLoop() {
    auto alive = m_alive;
    while (*alive) {
        auto [ec] = co_await m_timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!*alive) co_return;
        if (ec == asio::error::operation_aborted) {
            if (m_timer.expiry() == std::chrono::steady_clock::time_point::min()) co_return;
            continue;  // re-armed
        }
        const TimePoint now = wallClockNow();
        apply(m_session.onWakeup(now));
        if (m_keys) executeKeys(m_keys->onWakeup(now));
    }
}

asio::awaitable<void> CallShell::syncLoop() {
    auto alive = m_alive;
    SyncLoop::Options o;
    o.filter = SyncFilter::forRoom(m_options.room, 100).dump();
    o.since = m_options.initialSyncToken;
    o.timeout = m_options.syncTimeout;
    o.onToken = m_options.onSyncToken;
    o.onRetry = [this, alive](const MatrixError& e, Duration retryIn, int failures) {
        if (!*alive || m_stopping) return;
        notify({CallUpdate::Kind::Warning, "", "",
                "sync failed (" + e.message + "), retrying in " + formatSeconds(retryIn) + " (failure " +
                    std::to_string(failures) + ")",
                wallClockNow()});
    };
    o.onRecovered = [this, alive](Duration outage) {
        if (!*alive) return;
        notify({CallUpdate::Kind::Warning, "", "",
                "sync recovered after " + formatSeconds(outage) + " of failures", wallClockNow()});
    };
    SyncLoop sync(m_client, std::move(o));
    while (*alive) {
        auto r = co_await sync.poll();
        if (!*alive) co_return;
        if (auto* e = std::get_if<MatrixError>(&r)) {
            if (m_stopping) co_return;  // the sync was cancelled because we are leaving
            if (e->unknownToken) {
                m_failed = true;
                notify({CallUpdate::Kind::GaveUp, m_self.userId.str(), m_self.deviceId.str(),
                        "the access token is no longer valid: log in again", wallClockNow()});
                m_stopping = true;
                m_stopSignal.cancel();
                co_return;
            }
            continue;  // SyncLoop waited the backoff
        }
        const Json& body = std::get<Json>(r);
        if (m_options.encryption != nullptr) {
            co_await handleCrypto(body);
            if (!*alive) co_return;
        } else if (m_options.onToDevice) {
            deliverPlainToDevice(body);
        }
        // The timeline's events, read once: members from them, then the Megolm key events.
        if (const Json* st = roomEventsOf(body, m_options.room, "state")) applyEvents(*st);
        const Json* tl = roomEventsOf(body, m_options.room, "timeline");
        const Json timeline = tl != nullptr ? *tl : Json::array();
        applyEvents(timeline);
        if (m_keys && m_options.encryption != nullptr) receiveRoomKeyEvents(timeline);
        sync.commit();
    }
}

asio::awaitable<int> CallShell::run() {
    using namespace asio::experimental::awaitable_operators;
    auto alive = m_alive;
    // Current state first, so joiners see who is there before anything else happens.
    auto state = co_await m_client.roomState(m_options.room);
    if (auto* e = std::get_if<MatrixError>(&state)) {
        notify(
            {CallUpdate::Kind::GaveUp, "", "", "cannot read the room state: " + e->message, wallClockNow()});
        co_return 1;
    }
    apply(m_session.apply(std::get<std::vector<RoomEvent>>(state), wallClockNow()));
    if (m_options.encryption != nullptr) {
        auto up = co_await m_options.encryption->uploadKeys();
        if (const auto* e = std::get_if<MatrixError>(&up)) {
            notify({CallUpdate::Kind::GaveUp, "", "", "cannot upload the device keys for E2EE: " + e->message,
                    wallClockNow()});
            co_return 1;
        }
    }
    if (m_options.join) apply(m_session.join(wallClockNow()));

    auto executor = m_client.http().executor();
    asio::co_spawn(executor, timerLoop(), asio::detached);
    co_await (syncLoop() || m_stopSignal.async_wait(asio::as_tuple(asio::use_awaitable)));
    // Let the leave requests finish (stop() only signals once we are disconnected or failed).
    m_timer.expires_at(std::chrono::steady_clock::time_point::min());
    m_timer.cancel();
    co_return m_failed ? 1 : 0;
}

}  // namespace mxrtc::matrix
