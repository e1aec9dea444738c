// MembershipManager: our own call membership as a deterministic state machine (spec §2.4, §2.5,
// §3.3). join -> schedule a delayed leave (MSC4140) -> send the membership -> restart the delayed
// leave periodically -> refresh the membership before it expires -> leave (fire the delayed leave,
// falling back to writing the leave directly).
//
// Sans-I/O: inputs are commands (join/leave), request outcomes (classified errors, never message
// text), wakeups and observations of the room state, each with `now`; outputs are effects the
// shell performs (HTTP requests carry a RequestId to report back with) and facts for the app.
// The state is stored explicitly and only changed on transitions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/effects.hpp"
#include "mxrtc/core/membership.hpp"

namespace mxrtc::core {

using RequestId = std::uint64_t;

// How a request failed, classified once at the transport edge.
enum class FailureKind {
    RateLimited,       // 429 M_LIMIT_EXCEEDED (retryAfter from Retry-After / retry_after_ms)
    Forbidden,         // 403 (e.g. power levels forbid the state event)
    NotFound,          // 404 M_NOT_FOUND (unknown delay id)
    Unrecognized,      // 400/404 M_UNRECOGNIZED: endpoint or feature not supported
    MaxDelayExceeded,  // org.matrix.msc4140.errcode M_MAX_DELAY_EXCEEDED (maxDelay)
    Timeout,
    Network,
    Server,  // 5xx
    Other,
};
std::string_view toString(FailureKind k);

struct RequestFailure {
    FailureKind kind = FailureKind::Other;
    Duration retryAfter{0};  // RateLimited: 0 = not given
    Duration maxDelay{0};    // MaxDelayExceeded
    std::string errcode;     // for logs / reporting only
};

struct RequestSucceeded {
    std::optional<DelayId> delayId;  // scheduling a delayed event
    std::optional<EventId> eventId;  // sending a state event
};

using RequestOutcome = std::variant<RequestSucceeded, RequestFailure>;

// ---- effects ---------------------------------------------------------------------------------
struct SendDelayedStateEvent {  // PUT …/state/{type}/{stateKey}?org.matrix.msc4140.delay=…
    RequestId id;
    std::string type;
    std::string stateKey;
    nlohmann::json content;
    Duration delay;
};
struct SendStateEvent {
    RequestId id;
    std::string type;
    std::string stateKey;
    nlohmann::json content;
};
struct RestartDelayedEvent {  // POST …/delayed_events/{id}/restart, raced against `timeout`
    RequestId id;
    DelayId delayId;
    Duration timeout;
};
struct SendDelayedEventNow {  // POST …/delayed_events/{id}/send
    RequestId id;
    DelayId delayId;
};
struct CancelDelayedEvent {  // POST …/delayed_events/{id}/cancel (fire and forget)
    RequestId id;
    DelayId delayId;
};

enum class MembershipStatus { Disconnected, Connecting, Connected, Reconnecting, Disconnecting, Error };
std::string_view toString(MembershipStatus s);

struct StatusChanged {
    MembershipStatus status;
};
// "You probably dropped out": restarting the delayed leave kept failing past the moment the
// server would have fired it.
struct ProbablyLeftChanged {
    bool probablyLeft;
};
// The homeserver does not support delayed events: we stay joined, but a crash leaves a ghost
// membership until it expires.
struct DelayedLeaveUnavailable {
    FailureKind cause;
};
struct GaveUp {  // retries exhausted or a permanent error: the app must join again
    std::string reason;
};

using MembershipEffect = std::variant<SendDelayedStateEvent, SendStateEvent, RestartDelayedEvent,
                                      SendDelayedEventNow, CancelDelayedEvent, ScheduleWakeup, StatusChanged,
                                      ProbablyLeftChanged, DelayedLeaveUnavailable, GaveUp>;

struct MembershipManagerConfig {
    Duration delayedLeaveDelay{8'000};
    Duration restartInterval{5'000};
    Duration restartTimeout{2'000};
    Duration membershipExpiry{14'400'000};  // 4 h
    Duration refreshInterval{3'600'000};    // refresh every min(expiry, 1 h)
    Duration expiryHeadroom{5'000};
    Duration networkRetryDelay{3'000};
    Duration rateLimitFallback{5'000};
    int maxRateLimitRetries = 10;
    int maxNetworkRetries = 10;
    bool delayedEventsSupported = true;  // from /versions unstable_features["org.matrix.msc4140"]
    std::string roomVersion;             // for the state key (owned-state room versions)
};

class MembershipManager {
  public:
    // `membership` describes what we publish (user, device, application, call id, foci, intent);
    // its createdTs/expires are managed here.
    MembershipManager(SessionMembershipData membership, MembershipManagerConfig config = {});

    std::vector<MembershipEffect> join(TimePoint now);
    std::vector<MembershipEffect> leave(TimePoint now);
    std::vector<MembershipEffect> onResponse(RequestId id, const RequestOutcome& outcome, TimePoint now);
    std::vector<MembershipEffect> onWakeup(TimePoint now);
    // The session saw our membership (created ts as the server recorded it).
    std::vector<MembershipEffect> onOwnMembershipSeen(TimePoint createdTs, TimePoint now);
    // The session no longer shows our membership while we intend to be joined (kicked, overwritten,
    // delayed leave fired after a network loss): join again (spec §2.4).
    std::vector<MembershipEffect> onOwnMembershipMissing(TimePoint now);

    MembershipStatus status() const noexcept { return m_status; }
    bool probablyLeft() const noexcept { return m_probablyLeft; }
    const std::optional<DelayId>& delayId() const noexcept { return m_delayId; }
    const std::string& stateKey() const noexcept { return m_stateKey; }
    std::optional<TimePoint> nextWakeup() const;

  private:
    enum class Purpose { ScheduleLeave, Join, Refresh, Restart, LeaveNow, LeaveFallback, Cancel };
    enum class Timer { ScheduleLeave, Join, Refresh, Restart, Leave };

    using Effects = std::vector<MembershipEffect>;

    RequestId nextId() { return ++m_lastRequestId; }
    Duration restartInterval() const;
    void setStatus(MembershipStatus s, Effects& out);
    void arm(Timer t, TimePoint at);
    void disarm(Timer t);
    void emitWakeup(Effects& out);
    bool inFlight(Purpose p) const;

    void sendScheduleLeave(Effects& out);
    void sendJoin(Purpose purpose, TimePoint now, Effects& out);
    void sendRestart(TimePoint now, Effects& out);
    void sendLeave(TimePoint now, Effects& out);
    void becomeDisconnected(Effects& out);
    void giveUp(const std::string& reason, Effects& out);
    // Retry bookkeeping: returns the delay before the next try, or nullopt when exhausted.
    std::optional<Duration> retryDelay(const RequestFailure& f);
    void resetRetries();

    void onScheduleLeave(const RequestOutcome& o, TimePoint now, Effects& out);
    void onJoin(Purpose purpose, const RequestOutcome& o, TimePoint now, Effects& out);
    void onRestart(const RequestOutcome& o, TimePoint now, Effects& out);
    void onLeave(Purpose purpose, const RequestOutcome& o, TimePoint now, Effects& out);

    SessionMembershipData m_data;
    MembershipManagerConfig m_config;
    std::string m_stateKey;
    MembershipStatus m_status = MembershipStatus::Disconnected;
    bool m_wantJoined = false;
    bool m_leaveDeferred = false;  // leave() while the join request is in flight
    bool m_probablyLeft = false;
    bool m_delayedSupported = true;
    std::optional<DelayId> m_delayId;
    Duration m_delay;
    TimePoint m_expectedServerLeave{};
    TimePoint m_joinedAt{};
    std::optional<TimePoint> m_createdTs;
    int m_refreshCount = 0;
    int m_rateLimitRetries = 0;
    int m_networkRetries = 0;
    RequestId m_lastRequestId = 0;
    struct Pending {
        Purpose purpose;
        std::uint32_t generation;  // join attempt the request belongs to
    };
    std::map<RequestId, Pending> m_pending;
    std::uint32_t m_generation = 0;
    std::map<Timer, TimePoint> m_timers;
    std::optional<TimePoint> m_announcedWakeup;
};

}  // namespace mxrtc::core
