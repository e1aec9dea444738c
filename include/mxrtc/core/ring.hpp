// Ring state machines (sans-I/O): the callee's IncomingRing and the caller's OutgoingRing.
// Inputs are events, `now` and user commands; outputs are effects (events to send, a wakeup to
// arm) and facts with an explicit outcome, so a UI can always say why a ring stopped.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mxrtc/core/effects.hpp"
#include "mxrtc/core/notification.hpp"

namespace mxrtc::core {

enum class RingStopReason {
    Answered,           // I joined on this device
    Declined,           // I declined on this device
    TimedOut,           // the lifetime elapsed
    AnsweredElsewhere,  // one of my other devices joined
    DeclinedElsewhere,  // one of my other devices declined
    Cancelled,          // the caller's session ended / app cancelled
};
std::string_view toString(RingStopReason r);

struct RingStarted {
    EventId notification;
    UserId caller;
    std::optional<std::string> callIntent;
    TimePoint until;
};
struct RingStopped {
    RingStopReason reason;
};
using RingEffect = std::variant<SendRoomEvent, ScheduleWakeup, RingStarted, RingStopped>;

// Callee side: one instance per incoming notification.
class IncomingRing {
  public:
    enum class State { Idle, Ringing, Stopped };

    IncomingRing(UserId me, DeviceId myDevice, RingPolicy policy = {});

    // A notification (or legacy notify) event arrived. Starts ringing if decideRing says so.
    std::vector<RingEffect> onNotification(const RoomEvent& event, bool meInCall, TimePoint now);
    // Someone's membership appeared in the session the notification is for.
    std::vector<RingEffect> onMemberJoined(const UserId& user, const DeviceId& device, TimePoint now);
    // A decline event arrived (from any device of mine, relating to this notification).
    std::vector<RingEffect> onDecline(const RoomEvent& event, TimePoint now);
    // The caller's session ended before anyone answered.
    std::vector<RingEffect> onSessionEnded(TimePoint now);
    std::vector<RingEffect> onWakeup(TimePoint now);

    // User commands.
    std::vector<RingEffect> decline(TimePoint now);  // sends the MSC4310 decline
    std::vector<RingEffect> answer(TimePoint now);   // the app joins the call itself

    State state() const noexcept { return m_state; }
    std::optional<RingDecision> lastDecision() const noexcept { return m_decision; }
    std::optional<RingStopReason> stopReason() const noexcept { return m_stopReason; }
    const std::optional<EventId>& notification() const noexcept { return m_notification; }

  private:
    std::vector<RingEffect> stop(RingStopReason reason);

    UserId m_me;
    DeviceId m_myDevice;
    RingPolicy m_policy;
    State m_state = State::Idle;
    std::optional<RingDecision> m_decision;
    std::optional<RingStopReason> m_stopReason;
    std::optional<EventId> m_notification;
    TimePoint m_until{};
};

// Caller side: the first joiner rings the room (spec §2.4) and tracks each recipient's answer.
class OutgoingRing {
  public:
    enum class State { Idle, Sending, Ringing, Finished };
    enum class Outcome { Pending, Accepted, Declined, TimedOut };

    OutgoingRing(UserId me, RingPolicy policy = {});

    // Ring `recipients` (empty = the whole room via an @room mention), relating the notification to
    // our membership event when we are in the call (nullopt: we ring without being in it).
    std::vector<RingEffect> start(const std::optional<EventId>& ownMembershipEvent,
                                  std::vector<UserId> recipients, std::optional<std::string> callIntent,
                                  Duration lifetime, TimePoint now);
    // The homeserver accepted our notification event and gave it this id.
    std::vector<RingEffect> onNotificationSent(const EventId& notification, TimePoint now);
    std::vector<RingEffect> onMemberJoined(const UserId& user, TimePoint now);
    std::vector<RingEffect> onDecline(const RoomEvent& event, TimePoint now);
    std::vector<RingEffect> onWakeup(TimePoint now);

    State state() const noexcept { return m_state; }
    // Per recipient (for a room ring: everyone who answered or declined so far).
    const std::map<UserId, Outcome>& outcomes() const noexcept { return m_outcomes; }

  private:
    void finishIfDecided();

    UserId m_me;
    RingPolicy m_policy;
    State m_state = State::Idle;
    bool m_roomRing = false;
    std::optional<EventId> m_notification;
    TimePoint m_until{};
    std::map<UserId, Outcome> m_outcomes;
};

std::string_view toString(OutgoingRing::Outcome o);

}  // namespace mxrtc::core
