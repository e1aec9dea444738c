#include "mxrtc/auth/delegation.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "mxrtc/auth/openid.hpp"
#include "mxrtc/common/assert.hpp"

namespace mxrtc::auth {

namespace {

constexpr TimePoint kNever = TimePoint::max();
// Restarts are never closer together than this, whatever delay_timeout says.
constexpr Duration kMinRestartInterval{100};

}  // namespace

std::string_view toString(SfuEvent::Kind k) {
    switch (k) {
        case SfuEvent::Kind::ParticipantJoined:
            return "participant_joined";
        case SfuEvent::Kind::ParticipantLeft:
            return "participant_left";
        case SfuEvent::Kind::RoomFinished:
            return "room_finished";
    }
    return "unknown";
}

std::string_view toString(DelayedEventAction a) {
    return a == DelayedEventAction::Restart ? "restart" : "send";
}

std::string_view toString(JobEnd e) {
    switch (e) {
        case JobEnd::Sent:
            return "sent";
        case JobEnd::AlreadyGone:
            return "already_gone";
        case JobEnd::RestartNotFound:
            return "restart_not_found";
        case JobEnd::NeverJoined:
            return "never_joined";
        case JobEnd::SendGaveUp:
            return "send_gave_up";
        case JobEnd::Replaced:
            return "replaced";
        case JobEnd::Evicted:
            return "evicted";
    }
    return "unknown";
}

std::string_view toString(JobState s) {
    switch (s) {
        case JobState::AwaitingParticipant:
            return "awaiting_participant";
        case JobState::Present:
            return "present";
        case JobState::Leaving:
            return "leaving";
    }
    return "unknown";
}

std::string_view toString(RequestOutcome::Kind k) {
    switch (k) {
        case RequestOutcome::Kind::Ok:
            return "ok";
        case RequestOutcome::Kind::NotFound:
            return "not_found";
        case RequestOutcome::Kind::RateLimited:
            return "rate_limited";
        case RequestOutcome::Kind::Failed:
            return "failed";
    }
    return "unknown";
}

RequestOutcome classifyDelayedEventResponse(int status, std::string_view retryAfterHeader,
                                            std::string_view body) {
    RequestOutcome o;
    o.status = status;
    if (status >= 200 && status < 300) {
        o.kind = RequestOutcome::Kind::Ok;
    } else if (status == 404) {
        o.kind = RequestOutcome::Kind::NotFound;
    } else if (status == 429) {
        o.kind = RequestOutcome::Kind::RateLimited;
        std::int64_t seconds = 0;
        const auto* first = retryAfterHeader.data();
        const auto* last = first + retryAfterHeader.size();
        if (!retryAfterHeader.empty() && std::from_chars(first, last, seconds).ptr == last && seconds > 0 &&
            seconds < 86'400) {
            o.retryAfter = Duration{seconds * 1000};
        } else {
            const auto j = nlohmann::json::parse(body, nullptr, false);
            if (j.is_object()) {
                const auto it = j.find("retry_after_ms");
                if (it != j.end() && it->is_number_integer()) {
                    const auto ms = it->get<std::int64_t>();
                    if (ms > 0 && ms < 86'400'000) o.retryAfter = Duration{ms};
                }
            }
        }
    } else {
        o.kind = RequestOutcome::Kind::Failed;
    }
    return o;
}

std::string delayedEventUrl(std::string_view csApiBaseUrl, std::string_view delayId,
                            DelayedEventAction action) {
    std::string url(csApiBaseUrl);
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    url += kDelayedEventsPath;
    url.push_back('/');
    url += percentEncode(delayId);
    url.push_back('/');
    url += toString(action);
    return url;
}

DelegationManager::DelegationManager(DelegationPolicy policy) : m_policy(policy) {}

Duration DelegationManager::restartInterval(const Job& job) const {
    return std::max(kMinRestartInterval, job.leave.delayTimeout * m_policy.restartPercent / 100);
}

void DelegationManager::unschedule(Job& job) {
    if (job.wake != kNever) m_schedule.erase({job.wake, job.id});
    job.wake = kNever;
}

void DelegationManager::schedule(Job& job) {
    unschedule(job);
    TimePoint wake = job.inFlight ? kNever : job.nextAttempt;
    if (job.state == JobState::AwaitingParticipant) wake = std::min(wake, job.joinDeadline);
    job.wake = wake;
    if (wake != kNever) m_schedule.emplace(wake, job.id);
}

void DelegationManager::end(Job& job, JobEnd reason, DelegationEffects& out) {
    unschedule(job);
    out.emplace_back(JobEnded{job.id, job.leave.participant, job.leave.serverName, reason});
    ++m_ended[static_cast<std::size_t>(reason)];
    --m_stateCounts[static_cast<std::size_t>(job.state)];
    m_byParticipant.erase(job.leave.participant);
    m_jobs.erase(job.id);  // `job` dangles from here on
}

void DelegationManager::fail(Job& job, const RequestOutcome& outcome, TimePoint now) {
    if (outcome.kind == RequestOutcome::Kind::RateLimited && outcome.retryAfter > Duration::zero()) {
        job.nextAttempt = now + outcome.retryAfter;
        return;
    }
    job.backoff = job.backoff == Duration::zero() ? m_policy.minBackoff
                                                  : std::min(job.backoff * 2, m_policy.maxBackoff);
    job.nextAttempt = now + job.backoff;
}

void DelegationManager::run(Job& job, TimePoint now, DelegationEffects& out) {
    if (job.state == JobState::AwaitingParticipant && now >= job.joinDeadline) {
        end(job, JobEnd::NeverJoined, out);
        return;
    }
    if (!job.inFlight && now >= job.nextAttempt) {
        const auto action =
            job.state == JobState::Leaving ? DelayedEventAction::Send : DelayedEventAction::Restart;
        job.inFlight = action;
        job.inFlightSince = now;
        out.emplace_back(
            DelayedEventRequest{job.id, action,
                                Redacted<std::string>(delayedEventUrl(
                                    job.leave.csApiBaseUrl, job.leave.delayId.exposeSecret(), action)),
                                job.leave.csApiBaseUrl});
    }
    schedule(job);
}

void DelegationManager::runDue(TimePoint now, DelegationEffects& out) {
    std::vector<std::uint64_t> due;
    for (auto it = m_schedule.begin(); it != m_schedule.end() && it->first <= now; ++it)
        due.push_back(it->second);
    for (const auto id : due)
        if (auto it = m_jobs.find(id); it != m_jobs.end()) run(it->second, now, out);
}

DelegationEffects DelegationManager::delegate(DelegatedLeave leave, TimePoint now) {
    DelegationEffects out;
    MXRTC_ASSERT(leave.delayTimeout > Duration::zero(), "delay_timeout is validated by the request decoder");
    if (auto it = m_byParticipant.find(leave.participant); it != m_byParticipant.end())
        end(m_jobs.at(it->second), JobEnd::Replaced, out);
    if (m_jobs.size() >= m_policy.maxJobs && !m_jobs.empty()) {
        auto oldest = std::min_element(m_jobs.begin(), m_jobs.end(),
                                       [](const auto& a, const auto& b) { return a.first < b.first; });
        end(oldest->second, JobEnd::Evicted, out);
    }
    Job job;
    job.id = m_nextId++;
    job.state = m_present.contains(leave.participant) ? JobState::Present : JobState::AwaitingParticipant;
    job.joinDeadline = now + leave.delayTimeout;
    job.nextAttempt = now;  // restart at once: we don't know how much of the delay is left
    job.expectedFire = now + leave.delayTimeout;
    job.wake = kNever;
    job.leave = std::move(leave);
    ++m_stateCounts[static_cast<std::size_t>(job.state)];
    ++m_delegated;
    const auto id = job.id;
    m_byParticipant.emplace(job.leave.participant, id);
    auto& stored = m_jobs.emplace(id, std::move(job)).first->second;
    schedule(stored);
    runDue(now, out);
    return out;
}

void DelegationManager::participantLeft(const ParticipantKey& key, TimePoint now) {
    const auto it = m_byParticipant.find(key);
    if (it == m_byParticipant.end()) return;
    Job& job = m_jobs.at(it->second);
    if (job.state == JobState::Leaving) return;
    --m_stateCounts[static_cast<std::size_t>(job.state)];
    job.state = JobState::Leaving;
    ++m_stateCounts[static_cast<std::size_t>(job.state)];
    job.backoff = Duration::zero();
    job.nextAttempt = now;  // (after the request in flight, if any)
    schedule(job);
}

DelegationEffects DelegationManager::sfuEvent(const SfuEvent& event, TimePoint now) {
    DelegationEffects out;
    switch (event.kind) {
        case SfuEvent::Kind::ParticipantJoined: {
            if (m_present.size() < m_policy.maxTrackedParticipants) m_present.insert(event.participant);
            const auto it = m_byParticipant.find(event.participant);
            if (it == m_byParticipant.end()) break;
            Job& job = m_jobs.at(it->second);
            if (job.state != JobState::AwaitingParticipant) break;
            --m_stateCounts[static_cast<std::size_t>(job.state)];
            job.state = JobState::Present;
            ++m_stateCounts[static_cast<std::size_t>(job.state)];
            job.backoff = Duration::zero();
            job.nextAttempt = now;  // re-sync the homeserver's timer now
            schedule(job);
            break;
        }
        case SfuEvent::Kind::ParticipantLeft:
            m_present.erase(event.participant);
            participantLeft(event.participant, now);
            break;
        case SfuEvent::Kind::RoomFinished: {
            const ParticipantKey first{event.participant.room, ""};
            for (auto it = m_present.lower_bound(first);
                 it != m_present.end() && it->room == event.participant.room;)
                it = m_present.erase(it);
            std::vector<ParticipantKey> leaving;
            for (auto it = m_byParticipant.lower_bound(first);
                 it != m_byParticipant.end() && it->first.room == event.participant.room; ++it)
                leaving.push_back(it->first);
            for (const auto& key : leaving)
                participantLeft(key, now);
            break;
        }
    }
    runDue(now, out);
    return out;
}

DelegationEffects DelegationManager::requestFinished(std::uint64_t id, const RequestOutcome& outcome,
                                                     TimePoint now) {
    DelegationEffects out;
    const auto it = m_jobs.find(id);
    if (it == m_jobs.end() || !it->second.inFlight) {
        runDue(now, out);
        return out;
    }
    Job& job = it->second;
    const auto action = *job.inFlight;
    job.inFlight.reset();
    using Kind = RequestOutcome::Kind;
    if (action == DelayedEventAction::Restart) {
        switch (outcome.kind) {
            case Kind::Ok:
                job.backoff = Duration::zero();
                job.expectedFire = job.inFlightSince + job.leave.delayTimeout;
                job.nextAttempt =
                    job.state == JobState::Leaving ? now : job.inFlightSince + restartInterval(job);
                break;
            case Kind::NotFound:
                end(job, JobEnd::RestartNotFound, out);
                runDue(now, out);
                return out;
            case Kind::RateLimited:
            case Kind::Failed:
                if (job.state == JobState::Leaving)
                    job.nextAttempt = now;  // the participant left meanwhile: go and send
                else
                    fail(job, outcome, now);
                break;
        }
    } else {
        switch (outcome.kind) {
            case Kind::Ok:
                end(job, JobEnd::Sent, out);
                runDue(now, out);
                return out;
            case Kind::NotFound:
                end(job, JobEnd::AlreadyGone, out);
                runDue(now, out);
                return out;
            case Kind::RateLimited:
            case Kind::Failed:
                fail(job, outcome, now);
                if (job.nextAttempt > job.expectedFire) {
                    end(job, JobEnd::SendGaveUp, out);
                    runDue(now, out);
                    return out;
                }
                break;
        }
    }
    schedule(job);
    runDue(now, out);
    return out;
}

DelegationEffects DelegationManager::tick(TimePoint now) {
    DelegationEffects out;
    runDue(now, out);
    return out;
}

std::optional<TimePoint> DelegationManager::nextWakeup() const {
    if (m_schedule.empty()) return std::nullopt;
    return m_schedule.begin()->first;
}

DelegationCounts DelegationManager::counts() const {
    DelegationCounts c;
    c.jobs = m_stateCounts;
    c.ended = m_ended;
    c.delegated = m_delegated;
    c.trackedParticipants = m_present.size();
    return c;
}

std::optional<JobState> DelegationManager::stateOf(const ParticipantKey& participant) const {
    const auto it = m_byParticipant.find(participant);
    if (it == m_byParticipant.end()) return std::nullopt;
    return m_jobs.at(it->second).state;
}

}  // namespace mxrtc::auth
