#include "mxrtc/core/call_session.hpp"

#include <gtest/gtest.h>

#include "support/effects.hpp"

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;
using test::has;
using test::only;

constexpr std::int64_t kT0 = 1760000000000;
const RoomId kRoom("!room:example.org");
const std::string kAlice = "@alice:example.org";
const std::string kBob = "@bob:example.org";
const std::string kCarol = "@carol:example.org";

SessionMembershipData alice() {
    SessionMembershipData d;
    d.user = UserId(kAlice);
    d.device = DeviceId("ALICEDEV");
    d.fociPreferred.push_back(
        Transport{"livekit", Json{{"type", "livekit"}, {"livekit_service_url", "https://sfu.example.org"}}});
    return d;
}

Json memberContent(const std::string& device, const std::string& callId = "") {
    return Json{{"application", "m.call"},
                {"call_id", callId},
                {"scope", "m.room"},
                {"device_id", device},
                {"focus_active", {{"type", "livekit"}, {"focus_selection", "oldest_membership"}}},
                {"foci_preferred",
                 Json::array({{{"type", "livekit"}, {"livekit_service_url", "https://sfu.example.org"}}})},
                {"expires", 3600000}};
}

int g_eventSeq = 0;
RoomEvent memberEvent(const std::string& user, const std::string& device, Json content, std::int64_t ts,
                      const std::string& callId = "") {
    RoomEvent ev;
    ev.type = "org.matrix.msc3401.call.member";
    ev.stateKey = "_" + user + "_" + device + "_m.call" + (callId.empty() ? "" : "_" + callId);
    ev.sender = UserId(user);
    ev.eventId = EventId("$e" + std::to_string(++g_eventSeq));
    ev.originServerTs = fromUnixMs(ts);
    ev.content = std::move(content);
    return ev;
}

std::vector<std::string> devices(const KeyRoster& roster) {
    std::vector<std::string> out;
    for (const auto& m : roster.members)
        out.push_back(m.device.str());
    return out;
}

// Drives a session through join until the homeserver accepted our membership.
struct Harness {
    explicit Harness(bool e2ee = true) : session(kRoom, alice(), CallSessionConfig{{}, e2ee}) {}
    CallSession session;
    TimePoint now = fromUnixMs(kT0);

    CallSessionOutput joinAccepted() {
        auto out = session.join(now);
        auto sched = only<SendDelayedStateEvent>(out.membership);
        out = session.onResponse(sched.id, RequestSucceeded{DelayId("d1"), std::nullopt}, now);
        auto send = only<SendStateEvent>(out.membership);
        return session.onResponse(send.id, RequestSucceeded{std::nullopt, EventId("$own")}, now);
    }
    CallSessionOutput see(RoomEvent ev) { return session.apply(ev, now); }
};

TEST(CallSession, KeysStartOnlyOnceOurOwnMembershipIsInTheRoom) {
    Harness h;
    auto out = h.see(memberEvent(kBob, "BOBDEV", memberContent("BOBDEV"), kT0 - 1000));
    EXPECT_EQ(test::all<MemberJoined>(out.changes).size(), 1u);
    EXPECT_TRUE(has<SessionStarted>(out.changes));
    EXPECT_FALSE(out.keys) << "no key may go out before our membership is visible to the others";

    h.joinAccepted();
    EXPECT_FALSE(h.session.keysStarted()) << "the homeserver accepting it is not enough: it must sync back";

    out = h.see(memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0));
    ASSERT_TRUE(out.keys);
    EXPECT_TRUE(out.keys->start);
    EXPECT_EQ(devices(*out.keys), (std::vector<std::string>{"BOBDEV", "ALICEDEV"}));  // oldest first
    EXPECT_TRUE(h.session.ownSeen());

    out = h.see(memberEvent(kCarol, "CAROLDEV", memberContent("CAROLDEV"), kT0 + 10));
    ASSERT_TRUE(out.keys);
    EXPECT_FALSE(out.keys->start);
    EXPECT_EQ(devices(*out.keys), (std::vector<std::string>{"BOBDEV", "ALICEDEV", "CAROLDEV"}));

    out = h.see(memberEvent(kBob, "BOBDEV", Json::object(), kT0 + 20));
    ASSERT_TRUE(out.keys);
    EXPECT_EQ(devices(*out.keys), (std::vector<std::string>{"ALICEDEV", "CAROLDEV"}));
}

TEST(CallSession, WithoutE2eeThereIsNoKeyRoster) {
    Harness h(false);
    h.joinAccepted();
    auto out = h.see(memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0));
    EXPECT_FALSE(out.keys);
    out = h.see(memberEvent(kBob, "BOBDEV", memberContent("BOBDEV"), kT0 + 1));
    EXPECT_FALSE(out.keys);
    EXPECT_EQ(out.changes.size(), 1u);
}

TEST(CallSession, ASnapshotThatHoldsUsStartsKeysOnceWithTheFinalMembers) {
    Harness h;
    std::vector<RoomEvent> state{memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0 - 50),
                                 memberEvent(kBob, "BOBDEV", memberContent("BOBDEV"), kT0 - 40),
                                 memberEvent(kCarol, "CAROLDEV", memberContent("CAROLDEV"), kT0 - 30)};
    auto out = h.session.apply(state, h.now);
    ASSERT_TRUE(out.keys);
    EXPECT_TRUE(out.keys->start) << "the batch started the exchange, although later events were updates";
    EXPECT_EQ(devices(*out.keys), (std::vector<std::string>{"ALICEDEV", "BOBDEV", "CAROLDEV"}));
}

TEST(CallSession, OtherCallsInTheRoomAreNotOurs) {
    Harness h;
    h.joinAccepted();
    h.see(memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0));
    auto out = h.see(memberEvent(kBob, "BOBDEV", memberContent("BOBDEV", "standup"), kT0 + 1, "standup"));
    EXPECT_TRUE(out.changes.empty());
    EXPECT_FALSE(out.keys) << "a member of another call gets no key of ours";
    EXPECT_EQ(h.session.calls().totalMemberCount(), 2u);
}

TEST(CallSession, OurMembershipVanishingMakesUsJoinAgain) {
    Harness h;
    h.joinAccepted();
    h.see(memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0));
    // The delayed leave fired while we were cut off: the room shows us gone.
    auto out = h.see(memberEvent(kAlice, "ALICEDEV", Json::object(), kT0 + 5000));
    EXPECT_EQ(only<MemberLeft>(out.changes).member->device.str(), "ALICEDEV");
    EXPECT_EQ(only<StatusChanged>(out.membership).status, MembershipStatus::Reconnecting);
    EXPECT_TRUE(has<SendDelayedStateEvent>(out.membership));
}

TEST(CallSession, AfterLeavingOurMembershipVanishingIsTheGoal) {
    Harness h;
    h.joinAccepted();
    h.see(memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0));
    auto out = h.session.leave(h.now);
    EXPECT_TRUE(has<SendDelayedEventNow>(out.membership));
    EXPECT_TRUE(h.session.leaving());
    out = h.see(memberEvent(kAlice, "ALICEDEV", Json::object(), kT0 + 100));
    EXPECT_TRUE(has<MemberLeft>(out.changes));
    EXPECT_FALSE(has<SendDelayedStateEvent>(out.membership)) << "a leave must not turn into a rejoin";
    EXPECT_FALSE(has<SendStateEvent>(out.membership));
}

TEST(CallSession, AGiveUpStopsRejoining) {
    Harness h;
    auto out = h.session.join(h.now);
    auto sched = only<SendDelayedStateEvent>(out.membership);
    out =
        h.session.onResponse(sched.id, RequestFailure{FailureKind::Forbidden, {}, {}, "M_FORBIDDEN"}, h.now);
    EXPECT_TRUE(has<GaveUp>(out.membership));
    EXPECT_TRUE(h.session.leaving());
}

TEST(CallSession, InvalidMemberEventsAreReportedWithTheirSender) {
    Harness h;
    Json bad = memberContent("BOBDEV");
    bad["foci_preferred"] = "not an array";
    auto out = h.see(memberEvent(kBob, "BOBDEV", bad, kT0));
    ASSERT_EQ(out.invalid.size(), 1u);
    EXPECT_EQ(out.invalid[0].sender.str(), kBob);
    EXPECT_TRUE(out.changes.empty());
}

TEST(CallSession, ExpiredMembersLeaveAtTheWakeupAndTheKeysFollow) {
    Harness h;
    h.joinAccepted();
    h.see(memberEvent(kAlice, "ALICEDEV", memberContent("ALICEDEV"), kT0));
    Json shortLived = memberContent("BOBDEV");
    shortLived["expires"] = 60'000;
    h.see(memberEvent(kBob, "BOBDEV", shortLived, kT0));
    ASSERT_TRUE(h.session.nextWakeup());
    EXPECT_LE(*h.session.nextWakeup(), fromUnixMs(kT0 + 60'000));
    auto out = h.session.onWakeup(fromUnixMs(kT0 + 60'000));
    ASSERT_EQ(out.changes.size(), 1u);
    EXPECT_EQ(std::get<MemberLeft>(out.changes[0]).reason, LeaveReason::Expired);
    ASSERT_TRUE(out.keys);
    EXPECT_EQ(devices(*out.keys), (std::vector<std::string>{"ALICEDEV"}));
}

TEST(RoomKeyBacklog, AnEventWaitsForItsRoomKeyUpToThirtySeconds) {
    RoomKeyBacklog backlog;
    const TimePoint t0 = fromUnixMs(kT0);
    auto todo = backlog.take({Json{{"event_id", "$k1"}}}, t0);
    ASSERT_EQ(todo.size(), 1u);
    EXPECT_EQ(backlog.noRoomKey(std::move(todo[0]), t0), RoomKeyBacklog::Verdict::WaitingFirst);

    todo = backlog.take({Json{{"event_id", "$k2"}}}, t0 + Duration{10'000});
    ASSERT_EQ(todo.size(), 2u);
    EXPECT_EQ(todo[0].event["event_id"], "$k1") << "waiting events are tried first, oldest first";
    EXPECT_EQ(backlog.noRoomKey(std::move(todo[0]), t0 + Duration{10'000}), RoomKeyBacklog::Verdict::Waiting);
    EXPECT_EQ(backlog.size(), 1u);  // $k2 was decrypted: not put back

    todo = backlog.take({}, t0 + Duration{30'000});
    ASSERT_EQ(todo.size(), 1u);
    EXPECT_EQ(backlog.noRoomKey(std::move(todo[0]), t0 + Duration{30'000}), RoomKeyBacklog::Verdict::Dropped);
    EXPECT_EQ(backlog.size(), 0u);
}

TEST(RoomKeyBacklog, AFloodOfUndecryptableEventsIsCapped) {
    RoomKeyBacklog backlog(RoomKeyBacklog::Config{Duration{30'000}, 3});
    const TimePoint t0 = fromUnixMs(kT0);
    std::vector<Json> fresh;
    for (int i = 0; i < 5; ++i)
        fresh.push_back(Json{{"event_id", "$" + std::to_string(i)}});
    int dropped = 0;
    for (auto& e : backlog.take(std::move(fresh), t0))
        dropped += backlog.noRoomKey(std::move(e), t0) == RoomKeyBacklog::Verdict::Dropped ? 1 : 0;
    EXPECT_EQ(dropped, 2);
    EXPECT_EQ(backlog.size(), 3u);
}

}  // namespace
}  // namespace mxrtc::core
