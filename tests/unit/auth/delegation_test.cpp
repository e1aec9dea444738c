#include "mxrtc/auth/delegation.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

constexpr TimePoint kT0 = fromUnixMs(1'700'000'000'000);
constexpr Duration kDelay{10'000};
const ParticipantKey kAlice{"lkroom", "alice-identity"};

TimePoint at(std::int64_t ms) {
    return kT0 + Duration{ms};
}

DelegatedLeave leave(const ParticipantKey& who = kAlice, const std::string& delayId = "d1",
                     Duration delay = kDelay) {
    return DelegatedLeave{who, "example.org", "https://hs.example.org", Redacted<std::string>(delayId),
                          delay};
}

SfuEvent joined(const ParticipantKey& who = kAlice) {
    return SfuEvent{SfuEvent::Kind::ParticipantJoined, who};
}
SfuEvent left(const ParticipantKey& who = kAlice) {
    return SfuEvent{SfuEvent::Kind::ParticipantLeft, who};
}

RequestOutcome ok() {
    return RequestOutcome{RequestOutcome::Kind::Ok, Duration{0}, 200};
}
RequestOutcome notFound() {
    return RequestOutcome{RequestOutcome::Kind::NotFound, Duration{0}, 404};
}
RequestOutcome failed() {
    return RequestOutcome{RequestOutcome::Kind::Failed, Duration{0}, 502};
}
RequestOutcome rateLimited(Duration after) {
    return RequestOutcome{RequestOutcome::Kind::RateLimited, after, 429};
}

std::vector<DelayedEventRequest> requests(const DelegationEffects& effects) {
    std::vector<DelayedEventRequest> out;
    for (const auto& e : effects)
        if (const auto* r = std::get_if<DelayedEventRequest>(&e)) out.push_back(*r);
    return out;
}
std::vector<JobEnded> ends(const DelegationEffects& effects) {
    std::vector<JobEnded> out;
    for (const auto& e : effects)
        if (const auto* r = std::get_if<JobEnded>(&e)) out.push_back(*r);
    return out;
}

// The single request among `effects`, checked for its action and exact URL.
DelayedEventRequest only(const DelegationEffects& effects, DelayedEventAction action,
                         const std::string& delayId = "d1") {
    const auto rs = requests(effects);
    EXPECT_EQ(rs.size(), 1u);
    if (rs.empty()) return {};
    EXPECT_EQ(rs[0].action, action);
    EXPECT_EQ(rs[0].url.exposeSecret(),
              "https://hs.example.org/_matrix/client/unstable/org.matrix.msc4140/delayed_events/" + delayId +
                  "/" + std::string(toString(action)));
    return rs[0];
}

TEST(DelegationManager, RestartsAtOnceThenEveryEightyPercentWhileThePresentParticipantStays) {
    DelegationManager m;
    EXPECT_TRUE(m.sfuEvent(joined(), kT0).empty());
    auto r = only(m.delegate(leave(), at(100)), DelayedEventAction::Restart);
    EXPECT_EQ(m.stateOf(kAlice), JobState::Present);
    EXPECT_TRUE(m.requestFinished(r.job, ok(), at(150)).empty());
    EXPECT_EQ(m.nextWakeup(), at(100 + 8'000));
    EXPECT_TRUE(m.tick(at(8'099)).empty());
    r = only(m.tick(at(8'100)), DelayedEventAction::Restart);
    EXPECT_TRUE(m.requestFinished(r.job, ok(), at(8'200)).empty());
    EXPECT_EQ(m.nextWakeup(), at(16'100));
    // Nothing is sent while the participant stays.
    for (std::int64_t t = 16'100; t < 100'000; t += 8'000) {
        r = only(m.tick(at(t)), DelayedEventAction::Restart);
        m.requestFinished(r.job, ok(), at(t + 10));
    }
}

TEST(DelegationManager, SendsTheLeaveAsSoonAsTheParticipantLeaves) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    m.requestFinished(r.job, ok(), at(10));
    auto s = only(m.sfuEvent(left(), at(3'000)), DelayedEventAction::Send);
    EXPECT_EQ(m.stateOf(kAlice), JobState::Leaving);
    const auto done = m.requestFinished(s.job, ok(), at(3'050));
    ASSERT_EQ(ends(done).size(), 1u);
    EXPECT_EQ(ends(done)[0].reason, JobEnd::Sent);
    EXPECT_EQ(ends(done)[0].participant, kAlice);
    EXPECT_FALSE(m.stateOf(kAlice));
    EXPECT_FALSE(m.nextWakeup());
    EXPECT_EQ(m.counts().ended[static_cast<std::size_t>(JobEnd::Sent)], 1u);
}

TEST(DelegationManager, NotFoundOnSendIsSuccessAndOnRestartEndsTheJobWithoutSending) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    m.requestFinished(r.job, ok(), at(10));
    auto s = only(m.sfuEvent(left(), at(1'000)), DelayedEventAction::Send);
    EXPECT_EQ(ends(m.requestFinished(s.job, notFound(), at(1'010)))[0].reason, JobEnd::AlreadyGone);

    r = only(m.delegate(leave(kAlice, "d2"), at(2'000)), DelayedEventAction::Restart, "d2");
    const auto gone = m.requestFinished(r.job, notFound(), at(2'010));
    EXPECT_TRUE(requests(gone).empty());
    EXPECT_EQ(ends(gone)[0].reason, JobEnd::RestartNotFound);
    EXPECT_TRUE(m.sfuEvent(left(), at(3'000)).empty());  // nothing left to send
}

TEST(DelegationManager, ParticipantThatNeverJoinsIsDroppedAfterOneDelayWithoutSending) {
    DelegationManager m;
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    EXPECT_EQ(m.stateOf(kAlice), JobState::AwaitingParticipant);
    m.requestFinished(r.job, ok(), at(20));
    r = only(m.tick(at(8'000)), DelayedEventAction::Restart);
    m.requestFinished(r.job, ok(), at(8'020));
    const auto dropped = m.tick(at(10'000));
    EXPECT_TRUE(requests(dropped).empty());
    ASSERT_EQ(ends(dropped).size(), 1u);
    EXPECT_EQ(ends(dropped)[0].reason, JobEnd::NeverJoined);
    EXPECT_FALSE(m.nextWakeup());
}

TEST(DelegationManager, JoinAfterDelegationRestartsAtOnceAndKeepsTheJob) {
    DelegationManager m;
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    m.requestFinished(r.job, ok(), at(20));
    r = only(m.sfuEvent(joined(), at(4'000)), DelayedEventAction::Restart);
    EXPECT_EQ(m.stateOf(kAlice), JobState::Present);
    m.requestFinished(r.job, ok(), at(4'020));
    EXPECT_TRUE(m.tick(at(10'001)).empty());  // past the join deadline: still there
    EXPECT_EQ(m.stateOf(kAlice), JobState::Present);
    EXPECT_EQ(m.nextWakeup(), at(12'000));
}

TEST(DelegationManager, NewDelegationReplacesTheOldJobAndIgnoresItsLateAnswers) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    const auto first = only(m.delegate(leave(kAlice, "old"), kT0), DelayedEventAction::Restart, "old");
    const auto effects = m.delegate(leave(kAlice, "new"), at(100));
    ASSERT_EQ(ends(effects).size(), 1u);
    EXPECT_EQ(ends(effects)[0].reason, JobEnd::Replaced);
    const auto second = only(effects, DelayedEventAction::Restart, "new");
    EXPECT_TRUE(m.requestFinished(first.job, notFound(), at(150)).empty());  // stale: ignored
    EXPECT_EQ(m.stateOf(kAlice), JobState::Present);
    m.requestFinished(second.job, ok(), at(160));
    only(m.sfuEvent(left(), at(200)), DelayedEventAction::Send, "new");
    EXPECT_EQ(m.counts().delegated, 2u);
}

TEST(DelegationManager, FailuresBackOffFromOneSecondDoublingUpToAMinute) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    auto r = only(m.delegate(leave(kAlice, "d1", Duration{3'600'000}), kT0), DelayedEventAction::Restart);
    std::int64_t t = 0;
    for (std::int64_t expected : {1'000, 2'000, 4'000, 8'000, 16'000, 32'000, 60'000, 60'000}) {
        m.requestFinished(r.job, failed(), at(t));
        EXPECT_EQ(m.nextWakeup(), at(t + expected));
        EXPECT_TRUE(m.tick(at(t + expected - 1)).empty());
        t += expected;
        r = only(m.tick(at(t)), DelayedEventAction::Restart);
    }
    m.requestFinished(r.job, ok(), at(t));  // success resets the backoff
    r = only(m.tick(at(t + 2'880'000)), DelayedEventAction::Restart);
    m.requestFinished(r.job, failed(), at(t + 2'880'000));
    EXPECT_EQ(m.nextWakeup(), at(t + 2'881'000));
}

TEST(DelegationManager, RateLimitHonoursRetryAfter) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    m.requestFinished(r.job, rateLimited(Duration{2'500}), at(10));
    EXPECT_EQ(m.nextWakeup(), at(2'510));
    r = only(m.tick(at(2'510)), DelayedEventAction::Restart);
    m.requestFinished(r.job, rateLimited(Duration{0}), at(2'520));  // no hint: backoff
    EXPECT_EQ(m.nextWakeup(), at(3'520));
}

TEST(DelegationManager, FailingSendIsRetriedUntilTheHomeserverWouldHaveFiredAnyway) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    m.requestFinished(r.job, ok(), at(0));  // homeserver fires on its own at 10 000
    auto s = only(m.sfuEvent(left(), at(5'000)), DelayedEventAction::Send);
    std::int64_t t = 5'000;
    for (std::int64_t wait : {1'000, 2'000}) {
        m.requestFinished(s.job, failed(), at(t));
        t += wait;
        s = only(m.tick(at(t)), DelayedEventAction::Send);
    }
    const auto gaveUp = m.requestFinished(s.job, failed(), at(t));  // next try at 12 000 > 10 000
    ASSERT_EQ(ends(gaveUp).size(), 1u);
    EXPECT_EQ(ends(gaveUp)[0].reason, JobEnd::SendGaveUp);
}

TEST(DelegationManager, LeaveDuringARestartSendsRightAfterIt) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    auto r = only(m.delegate(leave(), kT0), DelayedEventAction::Restart);
    EXPECT_TRUE(requests(m.sfuEvent(left(), at(5))).empty());  // one request at a time
    only(m.requestFinished(r.job, ok(), at(10)), DelayedEventAction::Send);
}

TEST(DelegationManager, RoomFinishedSendsForEveryoneInTheRoom) {
    DelegationManager m;
    const ParticipantKey bob{"lkroom", "bob"};
    const ParticipantKey carol{"other", "carol"};
    for (const auto& p : {kAlice, bob, carol}) {
        m.sfuEvent(joined(p), kT0);
        auto r = only(m.delegate(leave(p), kT0), DelayedEventAction::Restart);
        m.requestFinished(r.job, ok(), at(1));
    }
    const auto fx = m.sfuEvent(SfuEvent{SfuEvent::Kind::RoomFinished, {"lkroom", ""}}, at(100));
    EXPECT_EQ(requests(fx).size(), 2u);
    EXPECT_EQ(m.stateOf(carol), JobState::Present);
    EXPECT_EQ(m.counts().trackedParticipants, 1u);
}

TEST(DelegationManager, CountsJobsByState) {
    DelegationManager m;
    m.sfuEvent(joined(), kT0);
    m.delegate(leave(), kT0);
    m.delegate(leave({"lkroom", "bob"}), kT0);
    const auto c = m.counts();
    EXPECT_EQ(c.jobs[static_cast<std::size_t>(JobState::Present)], 1u);
    EXPECT_EQ(c.jobs[static_cast<std::size_t>(JobState::AwaitingParticipant)], 1u);
    EXPECT_EQ(c.jobs[static_cast<std::size_t>(JobState::Leaving)], 0u);
}

TEST(DelegationManager, FullJobTableEvictsTheOldestJob) {
    DelegationPolicy p;
    p.maxJobs = 2;
    DelegationManager m(p);
    m.delegate(leave({"r", "a"}), kT0);
    m.delegate(leave({"r", "b"}), kT0);
    const auto fx = m.delegate(leave({"r", "c"}), kT0);
    ASSERT_EQ(ends(fx).size(), 1u);
    EXPECT_EQ(ends(fx)[0].participant, (ParticipantKey{"r", "a"}));
    EXPECT_EQ(ends(fx)[0].reason, JobEnd::Evicted);
}

TEST(DelayedEventResponses, AreClassifiedOnceByStatus) {
    using K = RequestOutcome::Kind;
    EXPECT_EQ(classifyDelayedEventResponse(200, "", "{}").kind, K::Ok);
    EXPECT_EQ(classifyDelayedEventResponse(404, "", R"({"errcode":"M_NOT_FOUND"})").kind, K::NotFound);
    EXPECT_EQ(classifyDelayedEventResponse(0, "", "").kind, K::Failed);
    EXPECT_EQ(classifyDelayedEventResponse(502, "", "").kind, K::Failed);
    EXPECT_EQ(classifyDelayedEventResponse(400, "", R"({"errcode":"M_UNKNOWN"})").kind, K::Failed);
    auto r = classifyDelayedEventResponse(429, "3", R"({"retry_after_ms":100})");
    EXPECT_EQ(r.kind, K::RateLimited);
    EXPECT_EQ(r.retryAfter, Duration{3'000});
    EXPECT_EQ(classifyDelayedEventResponse(429, "", R"({"retry_after_ms":1500})").retryAfter,
              Duration{1'500});
    EXPECT_EQ(classifyDelayedEventResponse(429, "soon", "not json").retryAfter, Duration{0});
}

TEST(DelayedEventResponses, UrlEncodesTheDelayId) {
    EXPECT_EQ(
        delayedEventUrl("https://hs.example.org/", "a/b c", DelayedEventAction::Send),
        "https://hs.example.org/_matrix/client/unstable/org.matrix.msc4140/delayed_events/a%2Fb%20c/send");
}

}  // namespace
}  // namespace mxrtc::auth
