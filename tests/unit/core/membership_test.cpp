#include "mxrtc/core/membership.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

struct VectorCase {
    std::string name;
    Json data;
};

std::vector<VectorCase> loadCases() {
    std::vector<VectorCase> out;
    const auto file = test::loadVector("memberships/cases.json");
    for (const auto& c : file["cases"])
        out.push_back({c["name"].get<std::string>(), c});
    return out;
}

const std::int64_t kNow = test::loadVector("memberships/cases.json")["now"].get<std::int64_t>();

class MembershipVectors : public ::testing::TestWithParam<VectorCase> {};

// Spec §12.1 / §12.2: every ACCEPT / REJECT / LEFT case parses to the expected outcome, and
// REJECT names the offending field.
TEST_P(MembershipVectors, ParsesToTheExpectedOutcome) {
    const Json& c = GetParam().data;
    auto ev = parseRoomEvent(c["event"]);
    ASSERT_TRUE(ev) << ev.error().message;
    const TimePoint now = fromUnixMs(kNow);
    const TimePoint received = fromUnixMs(c.value("received_at", kNow));
    auto parsed = parseMemberEvent(*ev, received);
    const std::string expect = c["expect"];

    if (expect == "reject") {
        ASSERT_FALSE(parsed) << "expected a rejection";
        EXPECT_EQ(parsed.error().errcode, "M_BAD_JSON");
        EXPECT_NE(parsed.error().message.find("'" + c["field"].get<std::string>() + "'"), std::string::npos)
            << "error does not name the field: " << parsed.error().message;
        return;
    }
    ASSERT_TRUE(parsed) << parsed.error().message;
    if (expect == "left") {
        EXPECT_TRUE(parsed->left);
        EXPECT_TRUE(parsed->memberships.empty());
        return;
    }
    ASSERT_FALSE(parsed->left);
    ASSERT_FALSE(parsed->memberships.empty());
    const CallMembership& m = parsed->memberships.front();
    if (expect == "accept") {
        EXPECT_FALSE(m.isExpired(now));
    }
    if (expect == "expired") {
        EXPECT_TRUE(m.isExpired(now));
    }
    if (c.contains("slot")) {
        EXPECT_EQ(m.slot.str(), c["slot"].get<std::string>());
    }
    if (c.contains("created_ts")) {
        EXPECT_EQ(toUnixMs(m.createdTs), c["created_ts"].get<std::int64_t>());
    }
    if (c.contains("expires_at")) {
        EXPECT_EQ(toUnixMs(m.expiresAt), c["expires_at"].get<std::int64_t>());
    }
    if (c.contains("identity")) {
        EXPECT_EQ(m.liveKitIdentity(), c["identity"].get<std::string>());
    }
    if (c.contains("kind")) {
        EXPECT_EQ(toString(m.kind), c["kind"].get<std::string>());
    }
    if (c.contains("user")) {
        EXPECT_EQ(m.user.str(), c["user"].get<std::string>());
    }
    if (c.contains("transport_url")) {
        ASSERT_FALSE(m.transports.empty());
        EXPECT_EQ(m.transports.front().liveKitServiceUrl().value_or(""),
                  c["transport_url"].get<std::string>());
    }
}

INSTANTIATE_TEST_SUITE_P(Spec, MembershipVectors, ::testing::ValuesIn(loadCases()),
                         [](const auto& info) { return info.param.name; });

TEST(MembershipSerialise, JoinContentMatchesWhatJsSdkWrites) {
    SessionMembershipData d;
    d.user = UserId("@alice:example.org");
    d.device = DeviceId("ALICEDEV");
    d.fociPreferred.push_back(
        Transport{"livekit", Json{{"type", "livekit"},
                                  {"livekit_service_url", "https://rtc.example.org/livekit/jwt"},
                                  {"livekit_alias", "!room:example.org"}}});
    d.callIntent = "video";
    const Json expected =
        Json::parse(R"({"application":"m.call","call_id":"","scope":"m.room","device_id":"ALICEDEV",
      "focus_active":{"type":"livekit","focus_selection":"oldest_membership"},
      "foci_preferred":[{"type":"livekit","livekit_service_url":"https://rtc.example.org/livekit/jwt","livekit_alias":"!room:example.org"}],
      "expires":14400000,"membershipID":"@alice:example.org:ALICEDEV","m.call.intent":"video"})");
    EXPECT_EQ(serializeSessionMembership(d), expected);

    d.createdTs = fromUnixMs(1760000000000);
    d.expires = Duration{28'800'000};
    const Json refresh = serializeSessionMembership(d);
    EXPECT_EQ(refresh["created_ts"], 1760000000000);
    EXPECT_EQ(refresh["expires"], 28800000);
    EXPECT_EQ(sessionLeaveContent(), Json::object());
}

TEST(MembershipSerialise, SerialisedJoinParsesBackToTheSameMembership) {
    SessionMembershipData d;
    d.user = UserId("@bob:example.org");
    d.device = DeviceId("BOBDEV");
    d.callId = "breakout-7";
    d.focusSelection = FocusSelection::MultiSfu;
    d.fociPreferred.push_back(
        Transport{"livekit", Json{{"type", "livekit"}, {"livekit_service_url", "https://b"}}});
    RoomEvent ev;
    ev.type = "org.matrix.msc3401.call.member";
    ev.stateKey = sessionStateKey(d.user, d.device, d.application, d.callId);
    ev.sender = d.user;
    ev.originServerTs = fromUnixMs(1000);
    ev.content = serializeSessionMembership(d);
    auto parsed = parseMemberEvent(ev, ev.originServerTs);
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->memberships.size(), 1u);
    const auto& m = parsed->memberships[0];
    EXPECT_EQ(m.slot.str(), "m.call#breakout-7");
    EXPECT_EQ(m.focusActive->selection, FocusSelection::MultiSfu);
    EXPECT_EQ(toUnixMs(m.expiresAt), 1000 + 14'400'000);
    EXPECT_EQ(m.memberId->str(), "@bob:example.org:BOBDEV");
}

TEST(MembershipSerialise, StateKeyFollowsJsSdkRules) {
    const UserId alice("@alice:example.org");
    const DeviceId dev("ALICEDEV");
    EXPECT_EQ(sessionStateKey(alice, dev, "m.call", ""), "_@alice:example.org_ALICEDEV_m.call");
    EXPECT_EQ(sessionStateKey(alice, dev, "m.call", "", "org.matrix.msc3757.10"),
              "@alice:example.org_ALICEDEV_m.call");
    EXPECT_EQ(sessionStateKey(alice, dev, "m.call", "breakout"),
              "_@alice:example.org_ALICEDEV_m.callbreakout");
}

TEST(MembershipSerialise, StickyJoinAndLeaveRoundTrip) {
    StickyMembershipData d;
    d.user = UserId("@alice:example.org");
    d.device = DeviceId("ALICEDEVICE");
    d.memberId = MemberId("8f6c1b2a-0d7e-4c55-9a3e-2b1f0e9d4c11");
    d.callIntent = "audio";
    d.rtcTransports.push_back(
        Transport{"livekit", Json{{"type", "livekit"},
                                  {"livekit_service_url", "https://rtc.example.org/livekit/jwt"},
                                  {"livekit_alias", "!room:example.org"}}});
    const Json content = serializeStickyMembership(d);
    EXPECT_FALSE(content["rtc_transports"][0].contains("livekit_alias"));
    EXPECT_EQ(content["msc4354_sticky_key"], d.memberId.str());
    RoomEvent ev;
    ev.type = "org.matrix.msc4143.rtc.member";
    ev.sender = d.user;
    ev.originServerTs = fromUnixMs(1760000000000);
    ev.content = content;
    auto parsed = parseMemberEvent(ev, ev.originServerTs);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->memberships.at(0).liveKitIdentity(), "Vh8URMYNjqyx51ju6pf8zHfOzU8YmM1VTsV7wyGOqTM");
    EXPECT_EQ(parsed->memberships.at(0).callIntent.value_or(""), "audio");

    ev.content = stickyLeaveContent(d.memberId);
    auto left = parseMemberEvent(ev, ev.originServerTs);
    ASSERT_TRUE(left);
    EXPECT_TRUE(left->left);
    EXPECT_EQ(left->stickyKey.value_or(""), d.memberId.str());
}

TEST(MembershipSlots, RoomCallMapsToEmptyCallIdAndBack) {
    EXPECT_EQ(slotIdFor("m.call", "").str(), "m.call#ROOM");
    EXPECT_EQ(slotIdFor("io.example.app", "").str(), "io.example.app#");
    EXPECT_EQ(*legacyCallIdOf(SlotId("m.call#ROOM")), "");
    EXPECT_EQ(*legacyCallIdOf(SlotId("m.call#x")), "x");
    EXPECT_FALSE(legacyCallIdOf(SlotId("m.call#a#b")));
}

}  // namespace
}  // namespace mxrtc::core
