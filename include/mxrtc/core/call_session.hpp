// One call as this device takes part in it: who is in the room's calls (RoomCalls), our own
// membership (MembershipManager), and the rules that tie the two together, which the call shell
// used to decide inline:
//   * our own membership seen in the room (joined or refreshed) confirms the manager's join;
//   * our membership disappearing while we mean to stay (kicked, overwritten, the delayed leave
//     fired after a network loss) makes the manager join again; after leave() or a give-up it
//     does not;
//   * media-key exchange starts once our own membership is in the room and the slot changed,
//     and from then on follows every change of the slot's members (the key-start rule). The key
//     manager lives in e2ee (which depends on core), so the session says when and with whom
//     (KeyRoster) and the shell hands that to it.
// Sans-I/O like its parts: events, request outcomes and time in, effects out.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "mxrtc/core/membership_manager.hpp"
#include "mxrtc/core/session.hpp"

namespace mxrtc::core {

// Key exchange must follow these members: the slot's current members, oldest first, us included.
struct KeyRoster {
    bool start = false;  // the first roster: the key manager joins (later ones: members changed)
    std::vector<CallMembership> members;
};

struct InvalidMemberEvent {
    UserId sender;
    Error error;
};

struct CallSessionOutput {
    std::vector<MembershipEffect> membership;  // execute like MembershipManager's effects
    std::vector<SessionChange> changes;        // of our slot only
    std::optional<KeyRoster> keys;             // only when E2EE is on
    std::vector<InvalidMemberEvent> invalid;   // member events that did not validate (ignored)

    bool empty() const { return membership.empty() && changes.empty() && !keys && invalid.empty(); }
};

struct CallSessionConfig {
    MembershipManagerConfig membership;
    bool e2ee = false;  // emit KeyRoster
};

class CallSession {
  public:
    using Output = CallSessionOutput;

    // `own` describes the membership we publish (see MembershipManager); its application and call
    // id pick the slot this session follows.
    CallSession(RoomId room, SessionMembershipData own, CallSessionConfig config = {});

    // Room state read at start and every later event (state or timeline), in order.
    Output apply(const RoomEvent& event, TimePoint now);
    Output apply(const std::vector<RoomEvent>& events, TimePoint now);
    Output join(TimePoint now);
    Output leave(TimePoint now);
    Output onResponse(RequestId id, const RequestOutcome& outcome, TimePoint now);
    // Expired memberships and the membership manager's timers.
    Output onWakeup(TimePoint now);
    std::optional<TimePoint> nextWakeup() const;

    bool isSelf(const CallMembership& m) const noexcept {
        return m.user == m_own.user && m.device == m_own.device;
    }
    bool ownSeen() const noexcept { return m_ownSeen; }
    bool keysStarted() const noexcept { return m_keysStarted; }
    bool leaving() const noexcept { return m_leaving; }
    const SlotId& slot() const noexcept { return m_slot; }
    const RoomCalls& calls() const noexcept { return m_calls; }
    const MembershipManager& membership() const noexcept { return m_manager; }
    MembershipStatus status() const noexcept { return m_manager.status(); }
    const std::optional<DelayId>& delayId() const noexcept { return m_manager.delayId(); }

  private:
    void take(std::vector<MembershipEffect> effects, Output& out);
    void handle(std::vector<SessionChange> changes, TimePoint now, Output& out);

    SessionMembershipData m_own;
    CallSessionConfig m_config;
    RoomCalls m_calls;
    MembershipManager m_manager;
    SlotId m_slot;
    bool m_ownSeen = false;
    bool m_keysStarted = false;
    bool m_leaving = false;  // leave() called or the manager gave up: no rejoin
};

// Legacy media keys travel in Megolm-encrypted room events (spec §5.2) whose room key comes over
// to-device and may arrive a sync later. Such events wait here: each for at most `maxWait` after
// it was first seen, at most `maxEvents` at a time (beyond that an event is dropped at once, so a
// flood of undecryptable events cannot grow memory).
class RoomKeyBacklog {
  public:
    struct Config {
        Duration maxWait{30'000};
        std::size_t maxEvents = 64;
    };
    struct Entry {
        nlohmann::json event;
        TimePoint firstSeen;
    };
    enum class Verdict {
        WaitingFirst,  // newly waiting: worth one line in the log
        Waiting,       // still waiting (already reported)
        Dropped,       // waited long enough, or the backlog is full
    };

    RoomKeyBacklog() = default;
    explicit RoomKeyBacklog(Config config) : m_config(config) {}

    // Everything to try now: the waiting events first (oldest first), then `fresh` (seen now).
    // The backlog is empty afterwards; put back what still lacks its key with noRoomKey().
    std::vector<Entry> take(std::vector<nlohmann::json> fresh, TimePoint now);
    // `entry` could not be decrypted because its room key is missing.
    Verdict noRoomKey(Entry entry, TimePoint now);
    std::size_t size() const noexcept { return m_waiting.size(); }

  private:
    Config m_config;
    std::vector<Entry> m_waiting;
};

}  // namespace mxrtc::core
