#include "mxrtc/core/sfu_plan.hpp"

#include <gtest/gtest.h>

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kT0 = 1760000000000;
const SlotId kSlot("m.call#ROOM");
const RoomId kRoom("!room:example.org");

Json membership(const std::string& device, const std::string& selection, const std::string& url,
                const std::string& type = "livekit") {
    Json transport{{"type", type}};
    if (!url.empty()) transport["livekit_service_url"] = url;
    return Json{{"application", "m.call"},
                {"call_id", ""},
                {"scope", "m.room"},
                {"device_id", device},
                {"focus_active", {{"type", type}, {"focus_selection", selection}}},
                {"foci_preferred", Json::array({transport})},
                {"expires", 3600000}};
}

struct Room {
    RoomCalls calls{kRoom};
    int n = 0;
    void join(const std::string& user, const std::string& device, Json content) {
        RoomEvent ev;
        ev.type = "org.matrix.msc3401.call.member";
        ev.stateKey = "_" + user + "_" + device + "_m.call";
        ev.sender = UserId(user);
        ev.eventId = EventId("$" + std::to_string(++n));
        ev.originServerTs = fromUnixMs(kT0 + n * 1000);
        ev.content = std::move(content);
        (void)calls.apply(ev, fromUnixMs(kT0 + n * 1000));
    }
    std::vector<SfuConnectionPlan> planFor(const std::string& user, const std::string& device) const {
        return planSfuConnections(calls, kSlot, UserId(user), DeviceId(device));
    }
};

TEST(SfuPlan, NothingUntilOurOwnMembershipIsInTheCall) {
    Room r;
    r.join("@alice:x", "A", membership("A", "multi_sfu", "https://a.example/jwt"));
    EXPECT_TRUE(r.planFor("@bob:x", "B").empty());
}

TEST(SfuPlan, OldestMembershipMeetsOnTheOldestMembersSfuForPublishingAndSubscribing) {
    Room r;
    r.join("@alice:x", "A", membership("A", "oldest_membership", "https://a.example/jwt"));
    r.join("@bob:x", "B", membership("B", "oldest_membership", "https://b.example/jwt"));
    const auto plan = r.planFor("@bob:x", "B");
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_EQ(plan[0].serviceUrl, "https://a.example/jwt");
    EXPECT_TRUE(plan[0].publish);
    ASSERT_EQ(plan[0].publishers.size(), 1u);
    EXPECT_EQ(plan[0].publishers[0].first.str(), "@alice:x");
}

TEST(SfuPlan, MultiSfuPublishesOnOurOwnAndSubscribesOncePerOtherSfu) {
    Room r;
    r.join("@alice:x", "A", membership("A", "multi_sfu", "https://a.example/jwt"));
    r.join("@carol:x", "C", membership("C", "multi_sfu", "https://a.example/jwt"));
    r.join("@bob:x", "B", membership("B", "multi_sfu", "https://b.example/jwt"));
    r.join("@dave:x", "D", membership("D", "multi_sfu", "https://b.example/jwt"));
    const auto plan = r.planFor("@bob:x", "B");
    ASSERT_EQ(plan.size(), 2u);
    EXPECT_EQ(plan[0].serviceUrl, "https://b.example/jwt");  // ours first, publishing
    EXPECT_TRUE(plan[0].publish);
    ASSERT_EQ(plan[0].publishers.size(), 1u);  // dave publishes there too
    EXPECT_EQ(plan[0].publishers[0].first.str(), "@dave:x");
    EXPECT_EQ(plan[1].serviceUrl, "https://a.example/jwt");
    EXPECT_FALSE(plan[1].publish);
    EXPECT_EQ(plan[1].publishers.size(), 2u);  // alice and carol: one connection for both
}

TEST(SfuPlan, MixedSelectionsFollowEachMembersOwnRule) {
    // An Element Call member (multi_sfu) that is not the oldest publishes on its own SFU; we
    // (oldest_membership) publish on the oldest member's and subscribe to EC's too.
    Room r;
    r.join("@alice:x", "A", membership("A", "oldest_membership", "https://a.example/jwt"));
    r.join("@ec:x", "E", membership("E", "multi_sfu", "https://e.example/jwt"));
    r.join("@bob:x", "B", membership("B", "oldest_membership", "https://b.example/jwt"));
    const auto plan = r.planFor("@bob:x", "B");
    ASSERT_EQ(plan.size(), 2u);
    EXPECT_EQ(plan[0].serviceUrl, "https://a.example/jwt");
    EXPECT_TRUE(plan[0].publish);
    EXPECT_EQ(plan[1].serviceUrl, "https://e.example/jwt");
    EXPECT_FALSE(plan[1].publish);
}

TEST(SfuPlan, WhenTheOldestLeavesTheFocusMovesToTheNextOldest) {
    Room r;
    r.join("@alice:x", "A", membership("A", "oldest_membership", "https://a.example/jwt"));
    r.join("@bob:x", "B", membership("B", "oldest_membership", "https://b.example/jwt"));
    r.join("@alice:x", "A", Json::object());  // alice leaves
    const auto plan = r.planFor("@bob:x", "B");
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_EQ(plan[0].serviceUrl, "https://b.example/jwt");
    EXPECT_TRUE(plan[0].publish);
    EXPECT_TRUE(plan[0].publishers.empty());
}

TEST(SfuPlan, WhileOurMembershipIsOnItsWayWePublishWhereItWillSay) {
    Room r;
    r.join("@alice:x", "A", membership("A", "oldest_membership", "https://a.example/jwt"));
    r.join("@carol:x", "C", membership("C", "multi_sfu", "https://c.example/jwt"));
    const Transport ours{"livekit",
                         Json{{"type", "livekit"}, {"livekit_service_url", "https://b.example/jwt"}}};
    // oldest_membership: the oldest member's SFU; carol's too (she publishes on her own).
    auto plan = planSfuConnections(r.calls, kSlot, UserId("@bob:x"), DeviceId("B"),
                                   JoiningAs{ours, FocusSelection::OldestMembership});
    ASSERT_EQ(plan.size(), 2u);
    EXPECT_EQ(plan[0].serviceUrl, "https://a.example/jwt");
    EXPECT_TRUE(plan[0].publish);
    EXPECT_EQ(plan[1].serviceUrl, "https://c.example/jwt");
    EXPECT_FALSE(plan[1].publish);
    // multi_sfu: our own.
    plan = planSfuConnections(r.calls, kSlot, UserId("@bob:x"), DeviceId("B"),
                              JoiningAs{ours, FocusSelection::MultiSfu});
    ASSERT_EQ(plan.size(), 3u);
    EXPECT_EQ(plan[0].serviceUrl, "https://b.example/jwt");
    EXPECT_TRUE(plan[0].publish);
    // Alone in the call: our own either way.
    Room empty;
    plan = planSfuConnections(empty.calls, kSlot, UserId("@bob:x"), DeviceId("B"),
                              JoiningAs{ours, FocusSelection::OldestMembership});
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_EQ(plan[0].serviceUrl, "https://b.example/jwt");
    EXPECT_TRUE(plan[0].publish);
}

TEST(SfuPlan, MeshAndUrlLessTransportsAreIgnored) {
    Room r;
    r.join("@alice:x", "A", membership("A", "multi_sfu", "", "mesh"));
    r.join("@carol:x", "C", membership("C", "multi_sfu", ""));
    r.join("@bob:x", "B", membership("B", "multi_sfu", "https://b.example/jwt"));
    const auto plan = r.planFor("@bob:x", "B");
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_EQ(plan[0].serviceUrl, "https://b.example/jwt");
    EXPECT_TRUE(plan[0].publishers.empty());
}

}  // namespace
}  // namespace mxrtc::core
