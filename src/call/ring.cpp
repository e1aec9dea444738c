#include "mxrtc/call/ring.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "mxrtc/core/membership.hpp"
#include "mxrtc/core/membership_wire.hpp"
#include "mxrtc/core/notification.hpp"
#include "mxrtc/core/session.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/sync_loop.hpp"

namespace mxrtc::call {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {

const SlotId kRoomCall("m.call#ROOM");

Error toError(const std::string& what, const matrix::MatrixError& e) {
    return makeError(e.errcode.empty() ? std::string(errcode::kUnknown) : e.errcode, what + ": " + e.message);
}

// Follows one room with /sync: the room's state and timeline events of each response, parsed, in
// order. Transient failures are retried by matrix::SyncLoop; an invalid token ends it.
class RoomFollower {
  public:
    RoomFollower(matrix::Client& client, RoomId room)
        : m_room(std::move(room)), m_sync(client, optionsFor(m_room)) {}

    // From now on (history is skipped).
    asio::awaitable<Result<void>> start() {
        auto r = co_await m_sync.poll();
        if (auto* e = std::get_if<matrix::MatrixError>(&r)) co_return toError("cannot sync", *e);
        co_return Result<void>();
    }

    // The room's events of the next sync (waiting at most `wait`); empty on a timeout or a failure
    // that is retried.
    asio::awaitable<Result<std::vector<core::RoomEvent>>> next(Duration wait) {
        auto r = co_await m_sync.poll(wait);
        if (auto* e = std::get_if<matrix::MatrixError>(&r)) {
            if (e->unknownToken) co_return toError("sync failed (log in again)", *e);
            co_return std::vector<core::RoomEvent>{};
        }
        const Json& body = std::get<Json>(r);
        std::vector<core::RoomEvent> out;
        for (const char* section : {"state", "timeline"}) {
            const Json* events = matrix::roomEventsOf(body, m_room, section);
            if (events == nullptr) continue;
            for (const auto& raw : *events) {
                if (!raw.is_object()) continue;
                Json ev = raw;
                ev["room_id"] = m_room.str();
                if (auto parsed = core::parseRoomEvent(ev)) out.push_back(std::move(parsed.value()));
            }
        }
        co_return out;
    }

  private:
    static matrix::SyncLoop::Options optionsFor(const RoomId& room) {
        matrix::SyncLoop::Options o;
        o.filter = matrix::SyncFilter::forRoom(room, 50).dump();
        return o;
    }

    RoomId m_room;
    matrix::SyncLoop m_sync;
};

}  // namespace

std::string_view toString(RingOutcome o) {
    switch (o) {
        case RingOutcome::Sent:
            return "sent";
        case RingOutcome::Answered:
            return "answered";
        case RingOutcome::Declined:
            return "declined";
        case RingOutcome::TimedOut:
            return "timed_out";
    }
    return "unknown";
}

asio::awaitable<Result<RingResult>> ring(matrix::Client& client, const matrix::LoginSession& self,
                                         const RoomId& room, RingOptions options) {
    if (options.lifetime <= Duration{0} || options.lifetime > Duration{120'000})
        co_return makeError(errcode::kInvalidParam, "a ring's lifetime must be within 1..120000 ms");
    // Who is in the call now, and our own membership (the notification relates to it).
    auto state = co_await client.roomState(room);
    if (auto* e = std::get_if<matrix::MatrixError>(&state)) co_return toError("cannot read the room", *e);
    core::RoomCalls calls(room);
    std::optional<EventId> ownMembership;
    const std::string ownKey = core::sessionStateKey(self.userId, self.deviceId, "m.call", "");
    const TimePoint now = matrix::wallClockNow();
    for (const auto& ev : std::get<std::vector<core::RoomEvent>>(state)) {
        (void)calls.apply(ev, now);
        if (ev.type == core::membership_wire::kCallMemberType && ev.stateKey && *ev.stateKey == ownKey &&
            !ev.content.empty())
            ownMembership = ev.eventId;
    }
    RoomFollower follow(client, room);
    if (options.waitForOutcome) {
        if (auto started = co_await follow.start(); !started) co_return started.error();
    }

    core::OutgoingRing ringing(self.userId);
    RingResult result;
    for (const auto& effect :
         ringing.start(ownMembership, options.to, options.intent, options.lifetime, matrix::wallClockNow())) {
        const auto* send = std::get_if<core::SendRoomEvent>(&effect);
        if (send == nullptr) continue;
        auto sent = co_await client.sendEvent(room, send->type, send->content);
        if (auto* e = std::get_if<matrix::MatrixError>(&sent)) co_return toError("cannot ring", *e);
        result.notification = std::get<matrix::SendResult>(sent).eventId.value_or(EventId(""));
        (void)ringing.onNotificationSent(result.notification, matrix::wallClockNow());
    }
    if (!options.waitForOutcome) co_return result;

    // Callees already in the call have answered.
    for (const auto* m : calls.members(kRoomCall))
        (void)ringing.onMemberJoined(m->user, matrix::wallClockNow());
    const auto until = matrix::wallClockNow() + options.lifetime;
    while (ringing.state() != core::OutgoingRing::State::Finished) {
        const auto left = std::chrono::duration_cast<Duration>(until - matrix::wallClockNow());
        auto events = co_await follow.next(std::min(left, Duration{10'000}));
        if (!events) co_return events.error();
        const TimePoint t = matrix::wallClockNow();
        for (const auto& ev : events.value()) {
            if (core::isDeclineEventType(ev.type)) {
                (void)ringing.onDecline(ev, t);
                continue;
            }
            for (const auto& change : calls.apply(ev, t).changes)
                if (const auto* j = std::get_if<core::MemberJoined>(&change); j && j->slot == kRoomCall)
                    (void)ringing.onMemberJoined(j->member->user, t);
        }
        (void)ringing.onWakeup(matrix::wallClockNow());
    }
    result.outcome = RingOutcome::TimedOut;
    for (const auto& [user, outcome] : ringing.outcomes()) {
        if (outcome == core::OutgoingRing::Outcome::Accepted) {
            result.outcome = RingOutcome::Answered;
            result.by = user;
            break;
        }
        if (outcome == core::OutgoingRing::Outcome::Declined && result.outcome != RingOutcome::Declined) {
            result.outcome = RingOutcome::Declined;
            result.by = user;
        }
    }
    co_return result;
}

asio::awaitable<Result<std::optional<core::RingStopReason>>> waitForRing(matrix::Client& client,
                                                                         const matrix::LoginSession& self,
                                                                         const RoomId& room,
                                                                         WaitForRingOptions options) {
    RoomFollower follow(client, room);
    if (auto started = co_await follow.start(); !started) co_return started.error();
    core::RoomCalls calls(room);
    core::IncomingRing ringing(self.userId, self.deviceId);
    std::optional<TimePoint> wake;
    bool rang = false;
    std::optional<core::RingStopReason> stopped;
    // Performs what the ring decides; false when sending a decline failed.
    auto perform = [&](const std::vector<core::RingEffect>& effects) -> asio::awaitable<Result<void>> {
        for (const auto& e : effects) {
            if (const auto* s = std::get_if<core::RingStarted>(&e)) {
                rang = true;
                if (options.onRing)
                    options.onRing(IncomingCall{s->notification, s->caller, s->callIntent, s->until});
            } else if (const auto* s = std::get_if<core::RingStopped>(&e)) {
                stopped = s->reason;
            } else if (const auto* w = std::get_if<core::ScheduleWakeup>(&e)) {
                wake = w->at;
            } else if (const auto* send = std::get_if<core::SendRoomEvent>(&e)) {
                auto r = co_await client.sendEvent(room, send->type, send->content);
                if (auto* err = std::get_if<matrix::MatrixError>(&r))
                    co_return toError("cannot send " + send->type, *err);
            }
        }
        co_return Result<void>();
    };
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    while (!stopped) {
        auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
        if (!rang && left <= Duration{0}) co_return std::optional<core::RingStopReason>{};
        if (rang) left = Duration{10'000};  // a ring in progress ends by itself (its lifetime)
        if (wake) left = std::min(left, std::max(Duration{0}, *wake - matrix::wallClockNow()));
        auto events = co_await follow.next(left);
        if (!events) co_return events.error();
        const TimePoint now = matrix::wallClockNow();
        for (const auto& ev : events.value()) {
            std::vector<core::RingEffect> effects;
            if (core::isNotificationEventType(ev.type) || core::isLegacyNotifyEventType(ev.type)) {
                const auto members = calls.members(kRoomCall);  // one vector: begin and end of the same
                const bool inCall =
                    std::any_of(members.begin(), members.end(), [&](const core::CallMembership* m) {
                        return m->user == self.userId && m->device == self.deviceId;
                    });
                effects = ringing.onNotification(ev, inCall, now);
                if (options.decline && ringing.state() == core::IncomingRing::State::Ringing) {
                    auto more = ringing.decline(now);
                    effects.insert(effects.end(), more.begin(), more.end());
                }
            } else if (core::isDeclineEventType(ev.type)) {
                effects = ringing.onDecline(ev, now);
            } else {
                for (const auto& change : calls.apply(ev, now).changes) {
                    if (const auto* j = std::get_if<core::MemberJoined>(&change); j && j->slot == kRoomCall) {
                        auto more = ringing.onMemberJoined(j->member->user, j->member->device, now);
                        effects.insert(effects.end(), more.begin(), more.end());
                    } else if (const auto* s = std::get_if<core::SessionEnded>(&change);
                               s && s->slot == kRoomCall) {
                        auto more = ringing.onSessionEnded(now);
                        effects.insert(effects.end(), more.begin(), more.end());
                    }
                }
            }
            if (auto r = co_await perform(effects); !r) co_return r.error();
        }
        if (wake && matrix::wallClockNow() >= *wake) {
            wake.reset();
            if (auto r = co_await perform(ringing.onWakeup(matrix::wallClockNow())); !r) co_return r.error();
        }
    }
    co_return stopped;
}

}  // namespace mxrtc::call
