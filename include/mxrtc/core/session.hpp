// The calls of one room (spec §2): who is in which slot right now, oldest first, and which
// transport (focus) each member uses. Incremental: every event is applied in O(log n) and
// returns what changed; nothing is ever rebuilt from scratch.
//
// Rules (spec §2.2, with the C++ recommendations taken):
//   * memberships come from gen-0..gen-3 member events; content is authoritative, not state keys;
//   * a source (state key, or sticky (sender, type, sticky_key)) only moves forward: an event
//     older than the newest seen for its source — by (origin_server_ts, event_id) — is ignored,
//     so replays and out-of-order delivery never resurrect a member who left;
//   * expired memberships are dropped at an explicit `now` (no clock is read here);
//   * senders whose m.room.member is known and not "join" are excluded (R6); unknown = joined;
//   * order: created ts ascending, ties by event id, user id, device id (deterministic).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "mxrtc/core/event.hpp"
#include "mxrtc/core/membership.hpp"

namespace mxrtc::core {

enum class LeaveReason {
    Left,      // the member's event said so ({} / leave marker / device removed from array)
    Expired,   // expiry passed at `now`
    RoomLeft,  // the user left / was kicked from the room
    Invalid,   // replaced by content that does not validate
};
std::string_view toString(LeaveReason reason);

// Memberships are immutable once parsed and shared between the session and the changes it reports.
using MembershipPtr = std::shared_ptr<const CallMembership>;

struct MemberJoined {
    SlotId slot;
    MembershipPtr member;
};
struct MemberUpdated {  // same (user, device) in the slot, new event (e.g. a refresh)
    SlotId slot;
    MembershipPtr member;
};
struct MemberLeft {
    SlotId slot;
    MembershipPtr member;
    LeaveReason reason = LeaveReason::Left;
};
struct SessionStarted {  // slot went from 0 to >= 1 members
    SlotId slot;
    TimePoint at;
};
struct SessionEnded {  // slot went from >= 1 to 0 members
    SlotId slot;
    TimePoint at;
};
using SessionChange = std::variant<MemberJoined, MemberUpdated, MemberLeft, SessionStarted, SessionEnded>;

// Why an event did not change anything (for diagnostics / `mxrtc doctor`).
enum class IgnoredBecause { NotRelevant, Stale, Duplicate, Invalid };

struct ApplyResult {
    std::vector<SessionChange> changes;
    std::optional<IgnoredBecause> ignored;
    std::optional<Error> error;  // validation error of an invalid member event
};

class RoomCalls {
  public:
    explicit RoomCalls(RoomId room);
    ~RoomCalls();
    RoomCalls(RoomCalls&&) noexcept;
    RoomCalls& operator=(RoomCalls&&) noexcept;

    const RoomId& room() const noexcept { return m_room; }

    // Apply one event (member events of every generation and m.room.member; others are
    // ignored). Expiries due at `now` are processed first. `now` doubles as the receive time.
    ApplyResult apply(const RoomEvent& event, TimePoint now);

    // Drop every membership whose expiry is <= now.
    std::vector<SessionChange> expire(TimePoint now);

    // The earliest expiry among current memberships: arm one timer for it.
    std::optional<TimePoint> nextExpiry() const;

    // Current members of a slot, oldest first.
    std::vector<const CallMembership*> members(const SlotId& slot) const;
    std::size_t memberCount(const SlotId& slot) const;
    std::size_t totalMemberCount() const;
    const CallMembership* oldest(const SlotId& slot) const;
    std::vector<SlotId> activeSlots() const;

    // Spec §2.3: the transport `member` publishes on (sticky: rtc_transports[0]; multi_sfu: its
    // own foci_preferred[0]; oldest_membership: the oldest member's foci_preferred[0]).
    std::optional<Transport> transportOf(const CallMembership& member) const;
    // The focus a client joining `slot` with oldest_membership selection would use: the oldest
    // member's transport, or `ownPreferred` when the slot is empty.
    std::optional<Transport> focusForJoiner(const SlotId& slot,
                                            const std::optional<Transport>& ownPreferred) const;
    // Distinct transports in use (multi-SFU: one subscription per distinct transport).
    std::vector<Transport> transportsInUse(const SlotId& slot) const;
    // §2.4: the call's intent if every member stating one agrees, else nullopt.
    std::optional<std::string> callIntent(const SlotId& slot) const;

  private:
    struct Impl;
    RoomId m_room;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace mxrtc::core
