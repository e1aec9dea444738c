// Delayed-leave delegation (spec §8.5), the sans-I/O half: a deterministic state machine that
// keeps delegated MSC4140 delayed leave events alive while their participant is on the SFU and
// fires them when the participant leaves. Inputs are values (a delegation, an SFU webhook event,
// the result of a request, `now`); outputs are effects the edge performs (restart / send a
// delayed event) or reports (a job ended). No clocks, no sockets, no randomness.
//
// Per job (key: LiveKit room alias + identity; a new delegation replaces the old job):
//
//   AwaitingParticipant --participant_joined--> Present --participant_left / room_finished--> Leaving
//        |  restart now, then every 80 % of          |  restart now, then every 80 %          |  send now
//        |  delay_timeout                            |  of delay_timeout                      |
//        '-- not joined within delay_timeout ---> ended (NeverJoined; nothing sent: the homeserver
//                                                 fires the leave itself within one more delay_timeout)
//
//   restart 2xx -> next restart at sent + 80 %; restart 404 -> ended (RestartNotFound)
//   send 2xx or 404 -> ended (Sent / AlreadyGone)
//   429 -> retry after Retry-After / retry_after_ms; other failures -> backoff 1 s, 2 s, ... 60 s
//   a failing send is retried until the homeserver would have fired the event on its own
//   (last successful restart + delay_timeout), then ended (SendGaveUp).
//
// Participant presence is tracked from webhooks for every (room, identity), job or not, so a
// delegation that arrives after the participant_joined webhook starts out Present.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

// The CS-API path of the delayed-event management endpoints (MSC4140 unstable, as deployed).
inline constexpr std::string_view kDelayedEventsPath =
    "/_matrix/client/unstable/org.matrix.msc4140/delayed_events";

// A participant on the SFU: LiveKit room name (our alias) and participant identity.
struct ParticipantKey {
    std::string room;
    std::string identity;
    friend bool operator==(const ParticipantKey&, const ParticipantKey&) = default;
    friend auto operator<=>(const ParticipantKey&, const ParticipantKey&) = default;
};

// What a successful /delegate_delayed_leave (or token request with delay parameters) hands over.
struct DelegatedLeave {
    ParticipantKey participant;
    std::string serverName;         // matrix_server_name (logs)
    std::string csApiBaseUrl;       // client-server API base, no trailing slash
    Redacted<std::string> delayId;  // a capability: whoever knows it can send/cancel the event
    Duration delayTimeout{0};
};

// An SFU webhook event, as far as delegation cares.
struct SfuEvent {
    enum class Kind { ParticipantJoined, ParticipantLeft, RoomFinished } kind;
    ParticipantKey participant;  // identity empty for RoomFinished
    friend bool operator==(const SfuEvent&, const SfuEvent&) = default;
};
std::string_view toString(SfuEvent::Kind k);

enum class DelayedEventAction { Restart, Send };
std::string_view toString(DelayedEventAction a);

// POST <cs>/_matrix/client/unstable/org.matrix.msc4140/delayed_events/<delay_id>/<action>, body {},
// no access token. The URL contains the delay id: never log it.
struct DelayedEventRequest {
    std::uint64_t job = 0;
    DelayedEventAction action = DelayedEventAction::Restart;
    Redacted<std::string> url;
    std::string csApiBaseUrl;  // for logs
};

enum class JobEnd {
    Sent,             // send answered 2xx
    AlreadyGone,      // send answered 404: already sent or cancelled (success)
    RestartNotFound,  // restart answered 404: the delayed event no longer exists
    NeverJoined,      // the participant did not show up on the SFU within delay_timeout
    SendGaveUp,       // send kept failing until the homeserver's own timer was due
    Replaced,         // a newer delegation for the same participant
    Evicted           // job table full (oldest job dropped)
};
inline constexpr std::size_t kJobEndCount = 7;
std::string_view toString(JobEnd e);

struct JobEnded {
    std::uint64_t job = 0;
    ParticipantKey participant;
    std::string serverName;
    JobEnd reason = JobEnd::Sent;
};

using DelegationEffect = std::variant<DelayedEventRequest, JobEnded>;
using DelegationEffects = std::vector<DelegationEffect>;

// The result of a DelayedEventRequest, classified once at the edge.
struct RequestOutcome {
    enum class Kind { Ok, NotFound, RateLimited, Failed } kind = Kind::Failed;
    Duration retryAfter{0};  // RateLimited: what the homeserver asked for (0 = not said)
    int status = 0;          // HTTP status, 0 = no answer (network error / timeout)
};
std::string_view toString(RequestOutcome::Kind k);

// 2xx -> Ok, 404 -> NotFound, 429 -> RateLimited (Retry-After seconds, else the body's
// retry_after_ms), anything else or no answer (status 0) -> Failed.
RequestOutcome classifyDelayedEventResponse(int status, std::string_view retryAfterHeader,
                                            std::string_view body);

// <base>/_matrix/client/unstable/org.matrix.msc4140/delayed_events/<percent-encoded id>/<action>
std::string delayedEventUrl(std::string_view csApiBaseUrl, std::string_view delayId,
                            DelayedEventAction action);

struct DelegationPolicy {
    int restartPercent = 80;  // restart at this share of delay_timeout
    Duration minBackoff{1'000};
    Duration maxBackoff{60'000};
    std::size_t maxJobs = 100'000;
    std::size_t maxTrackedParticipants = 1'000'000;
};

enum class JobState { AwaitingParticipant, Present, Leaving };
inline constexpr std::size_t kJobStateCount = 3;
std::string_view toString(JobState s);

struct DelegationCounts {
    std::array<std::uint64_t, kJobStateCount> jobs{};  // current jobs by state
    std::array<std::uint64_t, kJobEndCount> ended{};   // jobs ended, by reason (total)
    std::uint64_t delegated = 0;                       // jobs created (total)
    std::uint64_t trackedParticipants = 0;             // participants known to be on the SFU
};

class DelegationManager {
  public:
    explicit DelegationManager(DelegationPolicy policy = {});

    // Adds a job (replacing one for the same participant). Returns the effects due now.
    DelegationEffects delegate(DelegatedLeave leave, TimePoint now);
    DelegationEffects sfuEvent(const SfuEvent& event, TimePoint now);
    // The answer to a DelayedEventRequest this manager emitted (stale job ids are ignored).
    DelegationEffects requestFinished(std::uint64_t job, const RequestOutcome& outcome, TimePoint now);
    // Timers: everything due at `now`.
    DelegationEffects tick(TimePoint now);
    // When tick() next has something to do (nullopt: nothing scheduled).
    std::optional<TimePoint> nextWakeup() const;

    DelegationCounts counts() const;
    std::optional<JobState> stateOf(const ParticipantKey& participant) const;

  private:
    struct Job {
        std::uint64_t id = 0;
        DelegatedLeave leave;
        JobState state = JobState::AwaitingParticipant;
        TimePoint joinDeadline;  // AwaitingParticipant: give up after this
        TimePoint nextAttempt;   // when the next request is due (if none is in flight)
        TimePoint expectedFire;  // when the homeserver would send the event on its own
        std::optional<DelayedEventAction> inFlight;
        TimePoint inFlightSince;
        Duration backoff{0};
        TimePoint wake;  // key in m_schedule
    };

    void schedule(Job& job);
    void unschedule(Job& job);
    void end(Job& job, JobEnd reason, DelegationEffects& out);
    void fail(Job& job, const RequestOutcome& outcome, TimePoint now);
    void run(Job& job, TimePoint now, DelegationEffects& out);
    void runDue(TimePoint now, DelegationEffects& out);
    void participantLeft(const ParticipantKey& key, TimePoint now);
    Duration restartInterval(const Job& job) const;

    DelegationPolicy m_policy;
    std::uint64_t m_nextId = 1;
    std::map<ParticipantKey, std::uint64_t> m_byParticipant;
    std::unordered_map<std::uint64_t, Job> m_jobs;
    std::set<std::pair<TimePoint, std::uint64_t>> m_schedule;
    std::set<ParticipantKey> m_present;
    std::array<std::uint64_t, kJobStateCount> m_stateCounts{};
    std::array<std::uint64_t, kJobEndCount> m_ended{};
    std::uint64_t m_delegated = 0;
};

}  // namespace mxrtc::auth
