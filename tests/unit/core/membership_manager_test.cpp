#include "mxrtc/core/membership_manager.hpp"

#include <gtest/gtest.h>

#include "support/effects.hpp"

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;
using Effects = std::vector<MembershipEffect>;

constexpr std::int64_t kT0 = 1760000000000;

using test::all;
using test::has;
using test::only;

RequestOutcome ok() {
    return RequestSucceeded{};
}
RequestOutcome okDelay(const std::string& id) {
    return RequestSucceeded{DelayId(id), std::nullopt};
}
RequestOutcome okEvent() {
    return RequestSucceeded{std::nullopt, EventId("$ev")};
}
RequestOutcome fail(FailureKind k, Duration retryAfter = Duration{0}, Duration maxDelay = Duration{0}) {
    return RequestFailure{k, retryAfter, maxDelay, ""};
}

SessionMembershipData alice() {
    SessionMembershipData d;
    d.user = UserId("@alice:example.org");
    d.device = DeviceId("ALICEDEV");
    d.fociPreferred.push_back(
        Transport{"livekit", nlohmann::json{{"type", "livekit"},
                                            {"livekit_service_url", "https://sfu.example.org"},
                                            {"livekit_alias", "!room:example.org"}}});
    return d;
}

// Drives a manager and remembers the clock.
struct Harness {
    explicit Harness(MembershipManagerConfig cfg = {}) : mm(alice(), cfg) {}
    MembershipManager mm;
    TimePoint now = fromUnixMs(kT0);

    Effects join() { return mm.join(now); }
    Effects leave() { return mm.leave(now); }
    Effects respond(RequestId id, const RequestOutcome& o) { return mm.onResponse(id, o, now); }
    Effects advance(Duration d) {
        now += d;
        return mm.onWakeup(now);
    }
    // join -> delayed leave scheduled -> membership sent -> Connected; returns the last effects.
    Effects joinFully(const std::string& delayId = "d1") {
        auto e = join();
        auto sched = only<SendDelayedStateEvent>(e);
        e = respond(sched.id, okDelay(delayId));
        auto send = only<SendStateEvent>(e);
        return respond(send.id, okEvent());
    }
};

TEST(MembershipManager, JoinSchedulesDelayedLeaveBeforeWritingTheMembership) {
    Harness h;
    auto e = h.join();
    EXPECT_EQ(only<StatusChanged>(e).status, MembershipStatus::Connecting);
    auto sched = only<SendDelayedStateEvent>(e);
    EXPECT_EQ(sched.type, "org.matrix.msc3401.call.member");
    EXPECT_EQ(sched.stateKey, "_@alice:example.org_ALICEDEV_m.call");
    EXPECT_EQ(sched.content, Json::object());
    EXPECT_EQ(sched.delay, Duration{8000});
    EXPECT_FALSE(has<SendStateEvent>(e)) << "membership must not be written before the delayed leave exists";

    e = h.respond(sched.id, okDelay("syd_1"));
    auto send = only<SendStateEvent>(e);
    EXPECT_EQ(send.stateKey, sched.stateKey);
    EXPECT_EQ(send.content["application"], "m.call");
    EXPECT_EQ(send.content["device_id"], "ALICEDEV");
    EXPECT_EQ(send.content["expires"], 14400000);
    EXPECT_FALSE(send.content.contains("created_ts"));
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connecting);

    e = h.respond(send.id, okEvent());
    EXPECT_EQ(only<StatusChanged>(e).status, MembershipStatus::Connected);
    EXPECT_EQ(only<ScheduleWakeup>(e).at, h.now) << "restart right away: the join consumed part of the delay";
    ASSERT_TRUE(h.mm.delayId());
    EXPECT_EQ(h.mm.delayId()->str(), "syd_1");
}

TEST(MembershipManager, RestartsTheDelayedLeaveEveryFiveSeconds) {
    Harness h;
    h.joinFully("d1");
    auto e = h.advance(Duration{0});
    auto restart = only<RestartDelayedEvent>(e);
    EXPECT_EQ(restart.delayId.str(), "d1");
    EXPECT_EQ(restart.timeout, Duration{2000});
    e = h.respond(restart.id, ok());
    EXPECT_EQ(only<ScheduleWakeup>(e).at, h.now + Duration{5000});
    e = h.advance(Duration{4999});
    EXPECT_FALSE(has<RestartDelayedEvent>(e));
    e = h.advance(Duration{1});
    EXPECT_TRUE(has<RestartDelayedEvent>(e));
}

TEST(MembershipManager, ShortDelaysAreRestartedInProportion) {
    MembershipManagerConfig cfg;
    cfg.delayedLeaveDelay = Duration{3000};
    Harness h(cfg);
    h.joinFully();
    auto e = h.advance(Duration{0});
    e = h.respond(only<RestartDelayedEvent>(e).id, ok());
    EXPECT_EQ(only<ScheduleWakeup>(e).at, h.now + Duration{1875})
        << "a 5 s interval would let a 3 s leave fire";
}

TEST(MembershipManager, RefreshesBeforeExpiryKeepingCreatedTs) {
    Harness h;
    h.joinFully();
    const TimePoint joinedAt = h.now;
    h.mm.onOwnMembershipSeen(joinedAt - Duration{20}, h.now);  // server's origin_server_ts
    // Keep the restart loop happy while time passes.
    Effects refreshEffects;
    for (int i = 0; i < 800 && !has<SendStateEvent>(refreshEffects); ++i) {
        refreshEffects = h.advance(Duration{5000});
        for (const auto& r : all<RestartDelayedEvent>(refreshEffects))
            h.respond(r.id, ok());
    }
    auto refresh = only<SendStateEvent>(refreshEffects);
    EXPECT_EQ(h.now, joinedAt + Duration{3'600'000 - 5000});
    EXPECT_EQ(refresh.content["created_ts"], kT0 - 20);
    EXPECT_EQ(refresh.content["expires"], 14'400'000 + 3'600'000);
    h.respond(refresh.id, okEvent());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected);
}

TEST(MembershipManager, LeaveFiresTheDelayedLeave) {
    Harness h;
    h.joinFully("d1");
    auto e = h.leave();
    EXPECT_EQ(only<StatusChanged>(e).status, MembershipStatus::Disconnecting);
    auto now = only<SendDelayedEventNow>(e);
    EXPECT_EQ(now.delayId.str(), "d1");
    e = h.respond(now.id, ok());
    EXPECT_EQ(only<StatusChanged>(e).status, MembershipStatus::Disconnected);
    EXPECT_FALSE(h.mm.nextWakeup());
}

TEST(MembershipManager, LeaveFallsBackToWritingEmptyContentWhenTheDelayedLeaveIsGone) {
    Harness h;
    h.joinFully();
    auto e = h.leave();
    e = h.respond(only<SendDelayedEventNow>(e).id, fail(FailureKind::NotFound));
    auto write = only<SendStateEvent>(e);
    EXPECT_EQ(write.content, Json::object());
    EXPECT_EQ(write.stateKey, "_@alice:example.org_ALICEDEV_m.call");
    e = h.respond(write.id, okEvent());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Disconnected);
}

TEST(MembershipManager, RateLimitedJoinRetriesAfterTheServersDelay) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, okDelay("d1"));
    e = h.respond(only<SendStateEvent>(e).id, fail(FailureKind::RateLimited, Duration{1234}));
    EXPECT_EQ(only<ScheduleWakeup>(e).at, h.now + Duration{1234});
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connecting);
    e = h.advance(Duration{1233});
    EXPECT_FALSE(has<SendStateEvent>(e));
    e = h.advance(Duration{1});
    auto again = only<SendStateEvent>(e);
    e = h.respond(again.id, okEvent());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected);
}

TEST(MembershipManager, RateLimitWithoutRetryAfterUsesTheFallback) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, fail(FailureKind::RateLimited));
    EXPECT_EQ(only<ScheduleWakeup>(e).at, h.now + Duration{5000});
    e = h.advance(Duration{5000});
    EXPECT_TRUE(has<SendDelayedStateEvent>(e));
}

TEST(MembershipManager, GivesUpAfterTenRateLimitedRetries) {
    Harness h;
    auto e = h.join();
    RequestId id = only<SendDelayedStateEvent>(e).id;
    for (int i = 0; i < 10; ++i) {
        e = h.respond(id, fail(FailureKind::RateLimited, Duration{100}));
        ASSERT_FALSE(has<GaveUp>(e)) << "attempt " << i;
        e = h.advance(Duration{100});
        id = only<SendDelayedStateEvent>(e).id;
    }
    e = h.respond(id, fail(FailureKind::RateLimited, Duration{100}));
    EXPECT_TRUE(has<GaveUp>(e));
    EXPECT_EQ(h.mm.status(), MembershipStatus::Error);
    EXPECT_FALSE(h.mm.nextWakeup());
    // The app may try again from the error state.
    e = h.join();
    EXPECT_TRUE(has<SendDelayedStateEvent>(e));
}

TEST(MembershipManager, NetworkErrorsRetryEveryThreeSeconds) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, okDelay("d1"));
    for (FailureKind k : {FailureKind::Network, FailureKind::Timeout, FailureKind::Server}) {
        e = h.respond(only<SendStateEvent>(e).id, fail(k));
        EXPECT_EQ(only<ScheduleWakeup>(e).at, h.now + Duration{3000}) << toString(k);
        e = h.advance(Duration{3000});
    }
    h.respond(only<SendStateEvent>(e).id, okEvent());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected);
}

TEST(MembershipManager, ServerWithoutDelayedEventsStillJoinsButSaysSo) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, fail(FailureKind::Unrecognized));
    EXPECT_EQ(only<DelayedLeaveUnavailable>(e).cause, FailureKind::Unrecognized);
    e = h.respond(only<SendStateEvent>(e).id, okEvent());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected);
    e = h.advance(Duration{10'000});
    EXPECT_FALSE(has<RestartDelayedEvent>(e));
    e = h.leave();
    auto write = only<SendStateEvent>(e);
    EXPECT_EQ(write.content, Json::object());
    EXPECT_FALSE(has<SendDelayedEventNow>(e));
}

TEST(MembershipManager, ConfiguredWithoutDelayedEventsWritesDirectly) {
    MembershipManagerConfig cfg;
    cfg.delayedEventsSupported = false;
    Harness h(cfg);
    auto e = h.join();
    EXPECT_FALSE(has<SendDelayedStateEvent>(e));
    EXPECT_TRUE(has<DelayedLeaveUnavailable>(e));
    EXPECT_EQ(only<SendStateEvent>(e).content["application"], "m.call");
}

TEST(MembershipManager, MaxDelayExceededRetriesWithTheServersLimit) {
    MembershipManagerConfig cfg;
    cfg.delayedLeaveDelay = Duration{30'000};
    Harness h(cfg);
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id,
                  fail(FailureKind::MaxDelayExceeded, Duration{0}, Duration{10'000}));
    auto again = only<SendDelayedStateEvent>(e);
    EXPECT_EQ(again.delay, Duration{10'000});
}

TEST(MembershipManager, LostDelayIdIsRescheduledWithoutRewritingTheMembership) {
    Harness h;
    h.joinFully("d1");
    auto e = h.advance(Duration{0});
    e = h.respond(only<RestartDelayedEvent>(e).id, fail(FailureKind::NotFound));
    auto sched = only<SendDelayedStateEvent>(e);
    EXPECT_FALSE(has<SendStateEvent>(e));
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected);
    e = h.respond(sched.id, okDelay("d2"));
    EXPECT_FALSE(has<SendStateEvent>(e));
    e = h.advance(Duration{5000});
    EXPECT_EQ(only<RestartDelayedEvent>(e).delayId.str(), "d2");
}

TEST(MembershipManager, ReportsProbablyLeftWhenRestartsFailPastTheServerDeadline) {
    Harness h;
    h.joinFully("d1");
    auto e = h.advance(Duration{0});
    e = h.respond(only<RestartDelayedEvent>(e).id, ok());  // server leave expected at now + 8 s
    bool sawProbablyLeft = false;
    for (int i = 0; i < 6 && !sawProbablyLeft; ++i) {
        e = h.advance(Duration{3000});
        for (const auto& r : all<RestartDelayedEvent>(e)) {
            EXPECT_LE(r.timeout, Duration{2000});
            auto res = h.respond(r.id, fail(FailureKind::Network));
            for (const auto& p : all<ProbablyLeftChanged>(res))
                sawProbablyLeft = p.probablyLeft;
        }
    }
    EXPECT_TRUE(sawProbablyLeft);
    EXPECT_TRUE(h.mm.probablyLeft());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected) << "restarts keep going";
    e = h.advance(Duration{3000});
    e = h.respond(only<RestartDelayedEvent>(e).id, ok());
    EXPECT_FALSE(only<ProbablyLeftChanged>(e).probablyLeft);
}

TEST(MembershipManager, LeaveDuringJoinWaitsForTheJoinToLand) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, okDelay("d1"));
    auto send = only<SendStateEvent>(e);
    e = h.leave();
    EXPECT_EQ(h.mm.status(), MembershipStatus::Disconnecting);
    EXPECT_FALSE(has<SendDelayedEventNow>(e));
    e = h.respond(send.id, okEvent());
    auto now = only<SendDelayedEventNow>(e);
    EXPECT_NE(h.mm.status(), MembershipStatus::Connected);
    h.respond(now.id, ok());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Disconnected);
}

TEST(MembershipManager, LeaveWhileSchedulingCancelsTheLateDelayedLeave) {
    Harness h;
    auto e = h.join();
    auto sched = only<SendDelayedStateEvent>(e);
    e = h.leave();
    EXPECT_EQ(h.mm.status(), MembershipStatus::Disconnected);
    e = h.respond(sched.id, okDelay("late"));
    EXPECT_EQ(only<CancelDelayedEvent>(e).delayId.str(), "late");
    EXPECT_FALSE(has<SendStateEvent>(e));
}

TEST(MembershipManager, StaleResponseOfAnEarlierJoinAttemptIsNeutralised) {
    Harness h;
    auto e = h.join();
    auto first = only<SendDelayedStateEvent>(e);
    h.leave();
    e = h.join();
    auto second = only<SendDelayedStateEvent>(e);
    e = h.respond(first.id, okDelay("old"));
    EXPECT_EQ(only<CancelDelayedEvent>(e).delayId.str(), "old");
    EXPECT_FALSE(has<SendStateEvent>(e));
    e = h.respond(second.id, okDelay("new"));
    EXPECT_TRUE(has<SendStateEvent>(e));
    EXPECT_EQ(h.mm.delayId()->str(), "new");
}

TEST(MembershipManager, ForbiddenMembershipGivesUpAndFiresTheDelayedLeave) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, okDelay("d1"));
    e = h.respond(only<SendStateEvent>(e).id, fail(FailureKind::Forbidden));
    EXPECT_EQ(only<SendDelayedEventNow>(e).delayId.str(), "d1");
    EXPECT_NE(only<GaveUp>(e).reason.find("forbidden"), std::string::npos);
    EXPECT_EQ(h.mm.status(), MembershipStatus::Error);
}

TEST(MembershipManager, RejoinsWhenItsMembershipDisappears) {
    Harness h;
    h.joinFully("d1");
    auto e = h.mm.onOwnMembershipMissing(h.now);
    EXPECT_EQ(only<StatusChanged>(e).status, MembershipStatus::Reconnecting);
    EXPECT_EQ(only<CancelDelayedEvent>(e).delayId.str(), "d1");
    auto sched = only<SendDelayedStateEvent>(e);
    e = h.respond(sched.id, okDelay("d2"));
    auto send = only<SendStateEvent>(e);
    EXPECT_FALSE(send.content.contains("created_ts"));
    e = h.respond(send.id, okEvent());
    EXPECT_EQ(only<StatusChanged>(e).status, MembershipStatus::Connected);
}

TEST(MembershipManager, MissingMembershipIsIgnoredWhenNotJoined) {
    Harness h;
    EXPECT_TRUE(h.mm.onOwnMembershipMissing(h.now).empty());
    h.joinFully();
    h.respond(only<SendDelayedEventNow>(h.leave()).id, ok());
    EXPECT_TRUE(h.mm.onOwnMembershipMissing(h.now).empty());
}

TEST(MembershipManager, UnknownAndRepeatedResponsesAreIgnored) {
    Harness h;
    auto e = h.join();
    auto sched = only<SendDelayedStateEvent>(e);
    EXPECT_TRUE(h.respond(9999, ok()).empty());
    e = h.respond(sched.id, okDelay("d1"));
    EXPECT_TRUE(has<SendStateEvent>(e));
    EXPECT_TRUE(h.respond(sched.id, okDelay("d1")).empty()) << "a duplicated response must not send twice";
}

TEST(MembershipManager, JoinIsIdempotentWhileJoined) {
    Harness h;
    h.joinFully();
    EXPECT_TRUE(h.join().empty());
    EXPECT_EQ(h.mm.status(), MembershipStatus::Connected);
}

TEST(MembershipManager, DelayedLeaveResponseWithoutIdIsAnError) {
    Harness h;
    auto e = h.join();
    e = h.respond(only<SendDelayedStateEvent>(e).id, ok());
    EXPECT_TRUE(has<GaveUp>(e));
}

TEST(MembershipManager, OwnedStateRoomVersionsDropTheLeadingUnderscore) {
    MembershipManagerConfig cfg;
    cfg.roomVersion = "org.matrix.msc3757.11";
    MembershipManager mm(alice(), cfg);
    EXPECT_EQ(mm.stateKey(), "@alice:example.org_ALICEDEV_m.call");
}

}  // namespace
}  // namespace mxrtc::core
