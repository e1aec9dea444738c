// Call history from room history (spec §10): feed the room's events in timeline order and get
// one record per device membership interval and one record per call (a maximal union of
// overlapping intervals in a slot). Pure: `now` is an input to finish().
//
// Rules:
//   * join: a membership appears for (source, device, slot); update: same created ts; a changed
//     created ts (gen 2) = leave + rejoin; sticky refreshes (gen 3) keep their interval;
//   * leave: the membership disappears ({} / leave marker / device removed from an array);
//     `unsigned["org.matrix.msc4140.delay_id"]` (sender's view only) marks a delayed leave;
//   * memberships also end silently at their expiry, and when the user leaves the room;
//   * when history starts mid-call, `unsigned.prev_content` (or the event's own created_ts)
//     gives the start of a membership whose join event is not in the sequence.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/core/event.hpp"
#include "mxrtc/core/membership.hpp"

namespace mxrtc::core {

enum class IntervalEnd {
    Ongoing,       // still valid at `now`
    Left,          // explicit leave event
    DelayedLeave,  // leave written by the server from a scheduled delayed event (MSC4140)
    Expired,       // never left: ended at created + expires
    RoomLeft,      // user left / was kicked from the room
    Rejoined,      // replaced by a new membership with another created ts
};
std::string_view toString(IntervalEnd end);

struct MembershipInterval {
    SlotId slot;
    UserId user;
    DeviceId device;
    MembershipKind kind = MembershipKind::SessionState;
    TimePoint start{};
    std::optional<TimePoint> end;  // nullopt while ongoing
    IntervalEnd endReason = IntervalEnd::Ongoing;
    EventId joinEvent;
    std::optional<EventId> endEvent;
    std::optional<std::string> callIntent;

    Duration duration(TimePoint now) const { return (end ? *end : now) - start; }
};

struct CallRecord {
    SlotId slot;
    TimePoint start{};
    std::optional<TimePoint> end;               // nullopt while the call is ongoing
    std::vector<UserId> participants;           // distinct users, in order of first join
    std::vector<MembershipInterval> intervals;  // the device memberships that made up the call
    std::optional<std::string> callIntent;      // if all intervals that state one agree

    Duration duration(TimePoint now) const { return (end ? *end : now) - start; }
    bool ongoing() const { return !end.has_value(); }
};

struct CallHistory {
    std::vector<MembershipInterval> intervals;  // by start time
    std::vector<CallRecord> calls;              // by start time
};

class CallHistoryBuilder {
  public:
    CallHistoryBuilder();
    ~CallHistoryBuilder();
    CallHistoryBuilder(CallHistoryBuilder&&) noexcept;
    CallHistoryBuilder& operator=(CallHistoryBuilder&&) noexcept;

    // Feed events in timeline order (member events of every generation and m.room.member;
    // anything else is ignored). Returns a validation error for an invalid member event (which
    // still counts as "no membership" for its source, like the session model does).
    std::optional<Error> add(const RoomEvent& event);

    // Close what has expired by `now` and build the records.
    CallHistory finish(TimePoint now) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Convenience: the whole history of a sequence of events.
CallHistory buildCallHistory(const std::vector<RoomEvent>& events, TimePoint now);

}  // namespace mxrtc::core
