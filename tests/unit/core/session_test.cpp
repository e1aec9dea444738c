#include "mxrtc/core/session.hpp"

#include <gtest/gtest.h>

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kT0 = 1760000000000;
const SlotId kRoomSlot("m.call#ROOM");

Json sessionContent(const std::string& device, const std::string& selection = "oldest_membership",
                    const std::string& url = "https://rtc.example.org/livekit/jwt") {
    return Json{{"application", "m.call"},
                {"call_id", ""},
                {"scope", "m.room"},
                {"device_id", device},
                {"focus_active", {{"type", "livekit"}, {"focus_selection", selection}}},
                {"foci_preferred", Json::array({{{"type", "livekit"}, {"livekit_service_url", url}}})},
                {"expires", 3600000}};
}

RoomEvent stateEvent(const std::string& user, const std::string& device, Json content, std::int64_t ts,
                     const std::string& eventId) {
    RoomEvent ev;
    ev.type = "org.matrix.msc3401.call.member";
    ev.stateKey = "_" + user + "_" + device + "_m.call";
    ev.sender = UserId(user);
    ev.eventId = EventId(eventId);
    ev.originServerTs = fromUnixMs(ts);
    ev.content = std::move(content);
    return ev;
}

RoomEvent roomMember(const std::string& user, const std::string& membership, std::int64_t ts) {
    RoomEvent ev;
    ev.type = "m.room.member";
    ev.stateKey = user;
    ev.sender = UserId(user);
    ev.originServerTs = fromUnixMs(ts);
    ev.content = Json{{"membership", membership}};
    return ev;
}

template <typename T>
int countOf(const std::vector<SessionChange>& changes) {
    int n = 0;
    for (const auto& c : changes)
        n += std::holds_alternative<T>(c) ? 1 : 0;
    return n;
}

std::vector<std::string> userOrder(const RoomCalls& calls) {
    std::vector<std::string> out;
    for (const auto* m : calls.members(kRoomSlot))
        out.push_back(m->user.str());
    return out;
}

TEST(RoomCalls, FirstJoinStartsTheSessionAndLastLeaveEndsIt) {
    RoomCalls calls(RoomId("!room:example.org"));
    auto r =
        calls.apply(stateEvent("@alice:example.org", "A", sessionContent("A"), kT0, "$1"), fromUnixMs(kT0));
    ASSERT_EQ(r.changes.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<SessionStarted>(r.changes[0]));
    EXPECT_TRUE(std::holds_alternative<MemberJoined>(r.changes[1]));
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);

    r = calls.apply(stateEvent("@alice:example.org", "A", Json::object(), kT0 + 10, "$2"),
                    fromUnixMs(kT0 + 10));
    ASSERT_EQ(r.changes.size(), 2u);
    ASSERT_TRUE(std::holds_alternative<MemberLeft>(r.changes[0]));
    EXPECT_EQ(std::get<MemberLeft>(r.changes[0]).reason, LeaveReason::Left);
    EXPECT_TRUE(std::holds_alternative<SessionEnded>(r.changes[1]));
    EXPECT_EQ(calls.memberCount(kRoomSlot), 0u);
}

TEST(RoomCalls, ReplayedOlderJoinDoesNotResurrectAMemberWhoLeft) {
    RoomCalls calls(RoomId("!r:x"));
    const auto join = stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$join");
    const auto leave = stateEvent("@alice:x", "A", Json::object(), kT0 + 5000, "$leave");
    (void)calls.apply(join, fromUnixMs(kT0));
    (void)calls.apply(leave, fromUnixMs(kT0 + 5000));
    auto replay = calls.apply(join, fromUnixMs(kT0 + 6000));
    EXPECT_TRUE(replay.changes.empty());
    EXPECT_EQ(replay.ignored, IgnoredBecause::Stale);
    EXPECT_EQ(calls.memberCount(kRoomSlot), 0u);
    auto dup = calls.apply(leave, fromUnixMs(kT0 + 6000));
    EXPECT_EQ(dup.ignored, IgnoredBecause::Duplicate);
}

TEST(RoomCalls, OutOfOrderDeliveryConvergesToTheNewestEvent) {
    RoomCalls calls(RoomId("!r:x"));
    // The leave arrives before the (older) join: the member must stay absent.
    (void)calls.apply(stateEvent("@bob:x", "B", Json::object(), kT0 + 100, "$leave"), fromUnixMs(kT0 + 200));
    auto r = calls.apply(stateEvent("@bob:x", "B", sessionContent("B"), kT0, "$join"), fromUnixMs(kT0 + 200));
    EXPECT_EQ(r.ignored, IgnoredBecause::Stale);
    EXPECT_EQ(calls.memberCount(kRoomSlot), 0u);
}

TEST(RoomCalls, OrdersByCreatedTsWithEventIdTieBreak) {
    RoomCalls calls(RoomId("!r:x"));
    const auto now = fromUnixMs(kT0 + 1000);
    (void)calls.apply(stateEvent("@carol:x", "C", sessionContent("C"), kT0 + 50, "$c"), now);
    (void)calls.apply(stateEvent("@bob:x", "B", sessionContent("B"), kT0, "$b"), now);
    (void)calls.apply(stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$z"), now);
    EXPECT_EQ(userOrder(calls), (std::vector<std::string>{"@bob:x", "@alice:x", "@carol:x"}));
    EXPECT_EQ(calls.oldest(kRoomSlot)->user.str(), "@bob:x");
}

TEST(RoomCalls, RefreshKeepsTheMemberOldestBecauseCreatedTsIsCarried) {
    RoomCalls calls(RoomId("!r:x"));
    (void)calls.apply(stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$a1"), fromUnixMs(kT0));
    (void)calls.apply(stateEvent("@bob:x", "B", sessionContent("B"), kT0 + 50, "$b1"), fromUnixMs(kT0 + 50));
    Json refresh = sessionContent("A");
    refresh["created_ts"] = kT0;
    refresh["expires"] = 7200000;
    auto r =
        calls.apply(stateEvent("@alice:x", "A", refresh, kT0 + 3595000, "$a2"), fromUnixMs(kT0 + 3595000));
    EXPECT_EQ(countOf<MemberUpdated>(r.changes), 1);
    EXPECT_EQ(countOf<MemberJoined>(r.changes), 0);
    EXPECT_EQ(calls.oldest(kRoomSlot)->user.str(), "@alice:x");
}

TEST(RoomCalls, OldestMembershipFocusIsSharedAndMultiSfuPublishesOnItsOwn) {
    RoomCalls calls(RoomId("!room:example.org"));
    const auto now = fromUnixMs(kT0 + 100);
    (void)calls.apply(
        stateEvent("@alice:x", "A", sessionContent("A", "oldest_membership", "https://a"), kT0, "$a"), now);
    (void)calls.apply(
        stateEvent("@bob:x", "B", sessionContent("B", "multi_sfu", "https://b"), kT0 + 50, "$b"), now);
    (void)calls.apply(
        stateEvent("@carol:x", "C", sessionContent("C", "oldest_membership", "https://c"), kT0 + 60, "$c"),
        now);
    const auto members = calls.members(kRoomSlot);
    ASSERT_EQ(members.size(), 3u);
    EXPECT_EQ(calls.transportOf(*members[0])->liveKitServiceUrl(), "https://a");
    EXPECT_EQ(calls.transportOf(*members[1])->liveKitServiceUrl(), "https://b");
    EXPECT_EQ(calls.transportOf(*members[2])->liveKitServiceUrl(), "https://a");
    EXPECT_EQ(calls.transportsInUse(kRoomSlot).size(), 2u);
    EXPECT_EQ(calls.focusForJoiner(kRoomSlot, std::nullopt)->liveKitServiceUrl(), "https://a");

    // When the oldest leaves, the focus moves to the next oldest.
    (void)calls.apply(stateEvent("@alice:x", "A", Json::object(), kT0 + 200, "$a-leave"),
                      fromUnixMs(kT0 + 200));
    EXPECT_EQ(calls.focusForJoiner(kRoomSlot, std::nullopt)->liveKitServiceUrl(), "https://b");
}

TEST(RoomCalls, ExpiryIsAppliedAtNowAndNextExpiryArmsOneTimer) {
    RoomCalls calls(RoomId("!r:x"));
    (void)calls.apply(stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$a"), fromUnixMs(kT0));
    Json shortLived = sessionContent("B");
    shortLived["expires"] = 1000;
    (void)calls.apply(stateEvent("@bob:x", "B", shortLived, kT0, "$b"), fromUnixMs(kT0));
    ASSERT_EQ(calls.nextExpiry(), fromUnixMs(kT0 + 1000));
    EXPECT_TRUE(calls.expire(fromUnixMs(kT0 + 999)).empty());
    auto changes = calls.expire(fromUnixMs(kT0 + 1000));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(std::get<MemberLeft>(changes[0]).reason, LeaveReason::Expired);
    EXPECT_EQ(calls.nextExpiry(), fromUnixMs(kT0 + 3600000));
    changes = calls.expire(fromUnixMs(kT0 + 3600000));
    EXPECT_EQ(countOf<SessionEnded>(changes), 1);
    EXPECT_FALSE(calls.nextExpiry().has_value());
}

TEST(RoomCalls, AlreadyExpiredEventNeverJoins) {
    RoomCalls calls(RoomId("!r:x"));
    auto r =
        calls.apply(stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$a"), fromUnixMs(kT0 + 3600000));
    EXPECT_TRUE(r.changes.empty());
    EXPECT_EQ(calls.memberCount(kRoomSlot), 0u);
}

TEST(RoomCalls, SenderWhoLeftTheRoomIsNotAMemberUntilTheyRejoin) {
    RoomCalls calls(RoomId("!r:x"));
    const auto now = fromUnixMs(kT0);
    (void)calls.apply(roomMember("@mallory:x", "leave", kT0 - 10), now);
    auto r = calls.apply(stateEvent("@mallory:x", "M", sessionContent("M"), kT0, "$m"), now);
    EXPECT_EQ(calls.memberCount(kRoomSlot), 0u);
    EXPECT_EQ(countOf<MemberJoined>(r.changes), 0);
    r = calls.apply(roomMember("@mallory:x", "join", kT0 + 1), now);
    EXPECT_EQ(countOf<MemberJoined>(r.changes), 1);
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);
    r = calls.apply(roomMember("@mallory:x", "ban", kT0 + 2), now);
    ASSERT_EQ(countOf<MemberLeft>(r.changes), 1);
    EXPECT_EQ(std::get<MemberLeft>(r.changes[0]).reason, LeaveReason::RoomLeft);
}

TEST(RoomCalls, ReplayedOlderRoomMembershipDoesNotDropAJoinedMember) {
    // A first /sync gives the room state, then a timeline that replays the invite before the join.
    RoomCalls calls(RoomId("!r:x"));
    const auto now = fromUnixMs(kT0 + 100);
    (void)calls.apply(roomMember("@bob:x", "join", kT0 - 5), now);
    (void)calls.apply(stateEvent("@bob:x", "B", sessionContent("B"), kT0, "$b"), now);
    auto r = calls.apply(roomMember("@bob:x", "invite", kT0 - 10), now);
    EXPECT_TRUE(r.changes.empty());
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);
    r = calls.apply(roomMember("@bob:x", "join", kT0 - 5), now);  // the join again: nothing changes
    EXPECT_TRUE(r.changes.empty());
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);
}

TEST(RoomCalls, InvalidReplacementRemovesTheMemberAndReportsTheField) {
    RoomCalls calls(RoomId("!r:x"));
    (void)calls.apply(stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$a"), fromUnixMs(kT0));
    Json bad = sessionContent("A");
    bad["call_id"] = 7;
    auto r = calls.apply(stateEvent("@alice:x", "A", bad, kT0 + 1, "$bad"), fromUnixMs(kT0 + 1));
    ASSERT_TRUE(r.error.has_value());
    EXPECT_NE(r.error->message.find("'call_id'"), std::string::npos);
    ASSERT_EQ(countOf<MemberLeft>(r.changes), 1);
    EXPECT_EQ(std::get<MemberLeft>(r.changes[0]).reason, LeaveReason::Invalid);
}

TEST(RoomCalls, Gen1ArrayRemovingOneDeviceLeavesOnlyThatDevice) {
    RoomCalls calls(RoomId("!r:x"));
    auto entry = [](const std::string& device) {
        return Json{{"application", "m.call"}, {"call_id", ""},      {"scope", "m.room"},
                    {"device_id", device},     {"expires", 3600000}, {"foci_active", Json::array()}};
    };
    RoomEvent ev;
    ev.type = "org.matrix.msc3401.call.member";
    ev.stateKey = "@alice:x";
    ev.sender = UserId("@alice:x");
    ev.eventId = EventId("$1");
    ev.originServerTs = fromUnixMs(kT0);
    ev.content = Json{{"memberships", Json::array({entry("PHONE"), entry("LAPTOP")})}};
    (void)calls.apply(ev, fromUnixMs(kT0));
    EXPECT_EQ(calls.memberCount(kRoomSlot), 2u);
    ev.eventId = EventId("$2");
    ev.originServerTs = fromUnixMs(kT0 + 10);
    ev.content = Json{{"memberships", Json::array({entry("LAPTOP")})}};
    auto r = calls.apply(ev, fromUnixMs(kT0 + 10));
    ASSERT_EQ(countOf<MemberLeft>(r.changes), 1);
    EXPECT_EQ(std::get<MemberLeft>(r.changes[0]).member->device.str(), "PHONE");
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);
}

RoomEvent stickyEvent(const std::string& eventId, std::int64_t ts, Json content) {
    RoomEvent ev;
    ev.type = "org.matrix.msc4143.rtc.member";
    ev.sender = UserId("@alice:example.org");
    ev.eventId = EventId(eventId);
    ev.originServerTs = fromUnixMs(ts);
    ev.raw = Json{{"msc4354_sticky", {{"duration_ms", 3600000}}}};
    ev.content = std::move(content);
    return ev;
}

Json stickyJoin() {
    return Json::parse(R"({"slot_id":"m.call#ROOM","application":{"type":"m.call"},
      "member":{"user_id":"@alice:example.org","device_id":"ALICEDEVICE","id":"m1"},
      "rtc_transports":[{"type":"livekit","livekit_service_url":"https://s"}],"versions":[],"msc4354_sticky_key":"m1"})");
}

TEST(RoomCalls, StickyLeaveMarkerReplacesTheJoin) {
    RoomCalls calls(RoomId("!r:x"));
    (void)calls.apply(stickyEvent("$s1", kT0, stickyJoin()), fromUnixMs(kT0));
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);
    EXPECT_EQ(calls.transportOf(*calls.oldest(kRoomSlot))->liveKitServiceUrl(), "https://s");
    auto r =
        calls.apply(stickyEvent("$s2", kT0 + 50, Json{{"msc4354_sticky_key", "m1"}}), fromUnixMs(kT0 + 50));
    EXPECT_EQ(countOf<MemberLeft>(r.changes), 1);
    EXPECT_EQ(calls.memberCount(kRoomSlot), 0u);
}

TEST(RoomCalls, StickyTieOnTimestampIsWonByTheGreaterEventId) {
    // Spec S3: same key, same origin_server_ts: $BBB (leave) beats $AAA (join), in either order.
    for (bool leaveFirst : {false, true}) {
        RoomCalls calls(RoomId("!r:x"));
        auto join = stickyEvent("$AAA", kT0, stickyJoin());
        auto leave = stickyEvent("$BBB", kT0, Json{{"msc4354_sticky_key", "m1"}});
        const auto now = fromUnixMs(kT0);
        if (leaveFirst) {
            (void)calls.apply(leave, now);
            (void)calls.apply(join, now);
        } else {
            (void)calls.apply(join, now);
            (void)calls.apply(leave, now);
        }
        EXPECT_EQ(calls.memberCount(kRoomSlot), 0u) << "leaveFirst=" << leaveFirst;
    }
}

TEST(RoomCalls, CallIntentNeedsConsensus) {
    RoomCalls calls(RoomId("!r:x"));
    const auto now = fromUnixMs(kT0);
    Json a = sessionContent("A");
    a["m.call.intent"] = "audio";
    Json b = sessionContent("B");
    b["m.call.intent"] = "audio";
    (void)calls.apply(stateEvent("@alice:x", "A", a, kT0, "$a"), now);
    (void)calls.apply(stateEvent("@bob:x", "B", b, kT0, "$b"), now);
    (void)calls.apply(stateEvent("@carol:x", "C", sessionContent("C"), kT0, "$c"), now);
    EXPECT_EQ(calls.callIntent(kRoomSlot), "audio");
    b["m.call.intent"] = "video";
    (void)calls.apply(stateEvent("@bob:x", "B", b, kT0 + 1, "$b2"), now);
    EXPECT_FALSE(calls.callIntent(kRoomSlot).has_value());
}

TEST(RoomCalls, SlotsAreSeparateSessions) {
    RoomCalls calls(RoomId("!r:x"));
    Json breakout = sessionContent("B");
    breakout["call_id"] = "breakout-7";
    (void)calls.apply(stateEvent("@alice:x", "A", sessionContent("A"), kT0, "$a"), fromUnixMs(kT0));
    RoomEvent ev = stateEvent("@bob:x", "B", breakout, kT0, "$b");
    ev.stateKey = "_@bob:x_B_m.callbreakout-7";
    auto r = calls.apply(ev, fromUnixMs(kT0));
    EXPECT_EQ(countOf<SessionStarted>(r.changes), 1);
    EXPECT_EQ(calls.activeSlots().size(), 2u);
    EXPECT_EQ(calls.memberCount(SlotId("m.call#breakout-7")), 1u);
    EXPECT_EQ(calls.memberCount(kRoomSlot), 1u);
}

}  // namespace
}  // namespace mxrtc::core
