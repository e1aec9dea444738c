// Ringing (MSC4075 rtc.notification, MSC4310 decline) for applications: ring a room and learn how it
// ended, or wait for a ring and decline it. The decisions are core::OutgoingRing / core::IncomingRing;
// these functions follow the room with /sync and perform what those decide.
//
//   auto r = co_await call::ring(client, session, room, {.to = {UserId("@bob:hs")}, .lifetime = 30s});
//   if (r && r->outcome == call::RingOutcome::Answered) …   // bob joined the room's call
//
// Like Call, everything runs on the matrix::Client's executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/ring.hpp"
#include "mxrtc/matrix/client.hpp"

namespace mxrtc::call {

struct RingOptions {
    std::vector<UserId> to;             // empty: the whole room (@room)
    Duration lifetime{30'000};          // how long it rings (capped at 120 s)
    std::optional<std::string> intent;  // m.call.intent: "audio" | "video"
    bool waitForOutcome = true;         // false: send the ring and return at once (outcome Sent)
};

enum class RingOutcome {
    Sent,      // not followed (waitForOutcome = false)
    Answered,  // a callee joined the room's call
    Declined,  // every callee declined (MSC4310) — for a room ring: someone declined, nobody joined
    TimedOut,  // the lifetime ran out without an answer
};
std::string_view toString(RingOutcome o);

struct RingResult {
    RingOutcome outcome = RingOutcome::Sent;
    EventId notification;
    std::optional<UserId> by;  // who answered / declined
};

// Rings `room`, relating the notification to our call membership when we are in the call, and (by
// default) follows the room until a callee joins the call, declines, or the ring times out.
boost::asio::awaitable<Result<RingResult>> ring(matrix::Client& client, const matrix::LoginSession& self,
                                                const RoomId& room, RingOptions options);

struct IncomingCall {
    EventId notification;
    UserId caller;
    std::optional<std::string> intent;
    TimePoint until;  // when it stops ringing by itself
};

struct WaitForRingOptions {
    Duration timeout{60'000};  // give up when no ring starts within this
    bool decline = false;      // decline the ring as soon as it starts (MSC4310)
    // Called when a ring starts (on the client's executor); the function then follows it until it
    // stops and returns why.
    std::function<void(const IncomingCall&)> onRing;
};

// Waits for a ring in `room` addressed to us. nullopt: no ring within the timeout; otherwise why it
// stopped (answered or declined here or on another of our devices, timed out, cancelled).
boost::asio::awaitable<Result<std::optional<core::RingStopReason>>> waitForRing(
    matrix::Client& client, const matrix::LoginSession& self, const RoomId& room, WaitForRingOptions options);

}  // namespace mxrtc::call
