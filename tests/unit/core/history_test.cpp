#include "mxrtc/core/history.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

struct Scenario {
    std::string name;
    Json data;
};

std::vector<Scenario> loadScenarios() {
    std::vector<Scenario> out;
    const Json all = test::loadVector("history/scenarios.json");
    for (auto it = all.begin(); it != all.end(); ++it)
        out.push_back({it.key(), it.value()});
    return out;
}

class HistoryScenarios : public ::testing::TestWithParam<Scenario> {};

// Each scenario lists the expected calls (slot, start, end or null while ongoing, participants,
// intent) and device intervals (user, start, end, end reason), checked exactly.
TEST_P(HistoryScenarios, ProducesTheHandCheckedRecords) {
    const Json& s = GetParam().data;
    std::vector<RoomEvent> events;
    for (const auto& e : s["events"]) {
        auto ev = parseRoomEvent(e);
        ASSERT_TRUE(ev) << ev.error().message;
        events.push_back(std::move(ev).value());
    }
    const TimePoint now = fromUnixMs(s["now"].get<std::int64_t>());
    const CallHistory h = buildCallHistory(events, now);

    ASSERT_EQ(h.calls.size(), s["calls"].size());
    for (std::size_t i = 0; i < h.calls.size(); ++i) {
        const Json& want = s["calls"][i];
        const CallRecord& got = h.calls[i];
        SCOPED_TRACE("call " + std::to_string(i));
        EXPECT_EQ(got.slot.str(), want["slot"].get<std::string>());
        EXPECT_EQ(toUnixMs(got.start), want["start"].get<std::int64_t>());
        if (want["end"].is_null()) {
            EXPECT_TRUE(got.ongoing());
            EXPECT_EQ(got.duration(now), now - got.start);
        } else {
            ASSERT_FALSE(got.ongoing());
            EXPECT_EQ(toUnixMs(*got.end), want["end"].get<std::int64_t>());
            EXPECT_EQ(got.duration(now).count(),
                      want["end"].get<std::int64_t>() - want["start"].get<std::int64_t>());
        }
        std::vector<std::string> participants;
        for (const auto& p : got.participants)
            participants.push_back(p.str());
        EXPECT_EQ(participants, want["participants"].get<std::vector<std::string>>());
        if (want.contains("intent")) {
            EXPECT_EQ(got.callIntent.value_or(""), want["intent"].get<std::string>());
        }
    }
    ASSERT_EQ(h.intervals.size(), s["intervals"].size());
    for (std::size_t i = 0; i < h.intervals.size(); ++i) {
        const Json& want = s["intervals"][i];
        const MembershipInterval& got = h.intervals[i];
        SCOPED_TRACE("interval " + std::to_string(i));
        EXPECT_EQ(got.user.str(), want["user"].get<std::string>());
        if (want.contains("device")) {
            EXPECT_EQ(got.device.str(), want["device"].get<std::string>());
        }
        EXPECT_EQ(toUnixMs(got.start), want["start"].get<std::int64_t>());
        if (want["end"].is_null()) {
            EXPECT_FALSE(got.end.has_value());
        } else {
            ASSERT_TRUE(got.end.has_value());
            EXPECT_EQ(toUnixMs(*got.end), want["end"].get<std::int64_t>());
        }
        EXPECT_EQ(toString(got.endReason), want["reason"].get<std::string>());
    }
}

INSTANTIATE_TEST_SUITE_P(Spec, HistoryScenarios, ::testing::ValuesIn(loadScenarios()),
                         [](const auto& info) { return info.param.name; });

TEST(CallHistory, InvalidMemberEventIsReportedAndEndsTheMembership) {
    CallHistoryBuilder b;
    auto join =
        parseRoomEvent(Json::parse(R"({"type":"org.matrix.msc3401.call.member","state_key":"_@a:x_D_m.call",
      "sender":"@a:x","origin_server_ts":1000,"event_id":"$1","content":{"application":"m.call","call_id":"",
      "device_id":"D","focus_active":{"type":"livekit"},"expires":60000}})"));
    ASSERT_TRUE(join);
    EXPECT_FALSE(b.add(*join).has_value());
    RoomEvent bad = *join;
    bad.originServerTs = fromUnixMs(2000);
    bad.content["device_id"] = 5;
    auto err = b.add(bad);
    ASSERT_TRUE(err.has_value());
    EXPECT_NE(err->message.find("'device_id'"), std::string::npos);
    const auto h = b.finish(fromUnixMs(10'000));
    ASSERT_EQ(h.intervals.size(), 1u);
    EXPECT_EQ(toUnixMs(*h.intervals[0].end), 2000);
}

}  // namespace
}  // namespace mxrtc::core
