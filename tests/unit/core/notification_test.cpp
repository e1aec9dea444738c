#include "mxrtc/core/notification.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

struct Case {
    std::string name;
    Json data;
};

std::vector<Case> load(const char* key) {
    std::vector<Case> out;
    const Json all = test::loadVector("notifications/cases.json");
    for (const auto& c : all[key])
        out.push_back({c["name"].get<std::string>(), c});
    return out;
}

const std::int64_t kNow = test::loadVector("notifications/cases.json")["now"].get<std::int64_t>();

class NotificationVectors : public ::testing::TestWithParam<Case> {};

// Spec §12.3 N1-N6 and the legacy notify: parse, then decide whether `me` rings at `now`.
TEST_P(NotificationVectors, DecidesWhetherToRing) {
    const Json& c = GetParam().data;
    auto ev = parseRoomEvent(c["event"]);
    ASSERT_TRUE(ev);
    const UserId me(c["me"].get<std::string>());
    const bool inCall = c.value("in_call", false);
    RingPolicy policy;
    if (c.contains("cap")) policy.lifetimeCap = Duration{c["cap"].get<std::int64_t>()};
    const std::string want = c["decision"];
    if (c.value("legacy", false)) {
        auto n = parseLegacyNotify(ev->content);
        if (want == "reject") {
            ASSERT_FALSE(n);
            EXPECT_NE(n.error().message.find("'" + c["field"].get<std::string>() + "'"), std::string::npos);
            return;
        }
        ASSERT_TRUE(n) << n.error().message;
        EXPECT_EQ(toString(decideLegacyRing(*ev, *n, me, inCall, fromUnixMs(kNow), policy)), want);
        EXPECT_EQ(serializeLegacyNotify(*n), ev->content);  // round trip, byte-compatible names
        return;
    }
    auto n = parseRtcNotification(ev->content);
    if (want == "reject") {
        ASSERT_FALSE(n);
        EXPECT_EQ(n.error().errcode, "M_BAD_JSON");
        EXPECT_NE(n.error().message.find("'" + c["field"].get<std::string>() + "'"), std::string::npos)
            << n.error().message;
        return;
    }
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(toString(decideRing(*ev, *n, me, inCall, fromUnixMs(kNow), policy)), want);
    const RingWindow w = ringWindow(*n, ev->originServerTs, policy);
    if (c.contains("window_start")) {
        EXPECT_EQ(toUnixMs(w.start), c["window_start"].get<std::int64_t>());
    }
    if (c.contains("window_end")) {
        EXPECT_EQ(toUnixMs(w.end), c["window_end"].get<std::int64_t>());
    }
}

INSTANTIATE_TEST_SUITE_P(Spec, NotificationVectors, ::testing::ValuesIn(load("cases")),
                         [](const auto& info) { return info.param.name; });

class DeclineVectors : public ::testing::TestWithParam<Case> {};

TEST_P(DeclineVectors, ParsesTheReferenceToTheNotification) {
    const Json& c = GetParam().data;
    auto d = parseDecline(c["content"]);
    if (c["valid"].get<bool>()) {
        ASSERT_TRUE(d) << d.error().message;
        EXPECT_EQ(d->notification.str(), c["target"].get<std::string>());
        EXPECT_EQ(serializeDecline(*d), c["content"]);
    } else {
        ASSERT_FALSE(d);
        EXPECT_NE(d.error().message.find("'" + c["field"].get<std::string>() + "'"), std::string::npos);
    }
}

INSTANTIATE_TEST_SUITE_P(Spec, DeclineVectors, ::testing::ValuesIn(load("declines")),
                         [](const auto& info) { return info.param.name; });

TEST(RtcNotification, SerialisesWhatJsSdkSends) {
    RtcNotification n;
    n.senderTs = fromUnixMs(1752583130365);
    n.lifetime = Duration{30000};
    n.mentions = Mentions{{}, true};
    n.relatesTo = EventId("$own_membership_event_id");
    n.callIntent = "video";
    const Json expected = Json::parse(R"({"m.mentions":{"user_ids":[],"room":true},"notification_type":"ring",
      "m.relates_to":{"rel_type":"m.reference","event_id":"$own_membership_event_id"},
      "sender_ts":1752583130365,"lifetime":30000,"m.call.intent":"video"})");
    EXPECT_EQ(serializeRtcNotification(n), expected);
    auto back = parseRtcNotification(expected);
    ASSERT_TRUE(back);
    EXPECT_EQ(serializeRtcNotification(*back), expected);
}

TEST(RtcNotification, VoiceAndAudioBothMeanAudioOnly) {
    EXPECT_TRUE(isAudioOnlyIntent("audio"));
    EXPECT_TRUE(isAudioOnlyIntent("voice"));
    EXPECT_FALSE(isAudioOnlyIntent("video"));
}

}  // namespace
}  // namespace mxrtc::core
