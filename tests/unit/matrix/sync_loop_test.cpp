#include "mxrtc/matrix/sync_loop.hpp"

#include <gtest/gtest.h>

namespace mxrtc::matrix {
namespace {

using Json = nlohmann::json;

MatrixError transportError() {
    MatrixError e;
    e.kind = core::FailureKind::Network;
    e.message = "connection refused";
    return e;
}

TEST(SyncBackoff, DoublesFromOneSecondToThirtyAndASuccessResetsIt) {
    SyncBackoff b;
    std::vector<std::int64_t> waits;
    for (int i = 0; i < 7; ++i)
        waits.push_back(b.onFailure(transportError()).value().count());
    EXPECT_EQ(waits, (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000}));
    EXPECT_EQ(b.consecutiveFailures(), 7);
    b.onSuccess();
    EXPECT_EQ(b.consecutiveFailures(), 0);
    EXPECT_EQ(b.onFailure(transportError()).value(), Duration{1000});
}

TEST(SyncBackoff, TheServersRetryAfterWinsAndADeadTokenIsNotRetried) {
    SyncBackoff b(SyncRetryPolicy{Duration{500}, Duration{4000}});
    MatrixError limited;
    limited.kind = core::FailureKind::RateLimited;
    limited.status = 429;
    limited.retryAfter = Duration{7000};
    EXPECT_EQ(b.onFailure(limited).value(), Duration{7000});           // above our max: the server knows best
    EXPECT_EQ(b.onFailure(transportError()).value(), Duration{1000});  // the backoff kept counting
    MatrixError dead;
    dead.status = 401;
    dead.errcode = "M_UNKNOWN_TOKEN";
    dead.unknownToken = true;
    EXPECT_FALSE(b.onFailure(dead));
}

TEST(SyncFilter, RoomFilterLazyLoadsMembersAndLeavesOutWhatCallsDoNotRead) {
    const auto f = SyncFilter::forRoom(RoomId("!r:x"), 100).toJson();
    EXPECT_EQ(f.dump(),
              R"({"account_data":{"types":[]},"presence":{"types":[]},"room":{"account_data":{"types":[]},)"
              R"("ephemeral":{"types":[]},"rooms":["!r:x"],"state":{"lazy_load_members":true},)"
              R"("timeline":{"limit":100}}})");
    auto callsOnly = SyncFilter::forRoom(RoomId("!r:x"), 50);
    callsOnly.timelineTypes = {"m.call.*"};
    callsOnly.roomState = false;
    const auto calls = callsOnly.toJson();
    EXPECT_EQ(calls["room"]["state"], (Json{{"types", Json::array()}}));
    EXPECT_EQ(calls["room"]["timeline"], (Json{{"limit", 50}, {"types", {"m.call.*"}}}));
}

TEST(SyncResponse, RoomEventsOfFindsOneJoinedRoomsSectionAndToleratesJunk) {
    const Json body = Json::parse(R"({"rooms":{"join":{"!r:x":{"timeline":{"events":[{"type":"a"}]},
        "state":{"events":"not an array"}},"!other:x":{"timeline":{"events":[{"type":"b"}]}}}}})");
    const Json* tl = roomEventsOf(body, RoomId("!r:x"), "timeline");
    ASSERT_NE(tl, nullptr);
    EXPECT_EQ((*tl)[0]["type"], "a");
    EXPECT_EQ(roomEventsOf(body, RoomId("!r:x"), "state"), nullptr);
    EXPECT_EQ(roomEventsOf(body, RoomId("!missing:x"), "timeline"), nullptr);
    EXPECT_EQ(roomEventsOf(Json::array(), RoomId("!r:x"), "timeline"), nullptr);
    EXPECT_EQ(roomEventsOf(Json{{"rooms", {{"join", 3}}}}, RoomId("!r:x"), "timeline"), nullptr);
}

TEST(FormatSeconds, ReadsLikeAPersonWouldSayIt) {
    EXPECT_EQ(formatSeconds(Duration{250}), "250 ms");
    EXPECT_EQ(formatSeconds(Duration{2000}), "2 s");
    EXPECT_EQ(formatSeconds(Duration{1500}), "1.5 s");
    EXPECT_EQ(formatSeconds(Duration{30'049}), "30 s");
}

}  // namespace
}  // namespace mxrtc::matrix
