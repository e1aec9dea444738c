#include "mxrtc/auth/log.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

TEST(LogLine, MillisPrintsWhatNumPrintsForMicroseconds) {
    for (std::int64_t us : {0, 1, 9, 10, 999, 1000, 1001, 12'345, 1'234'567, 99'999'999}) {
        auto fast = LogLine("m").millis("latency_ms", std::chrono::microseconds{us}).done();
        auto slow = LogLine("m").num("latency_ms", static_cast<double>(us) / 1000.0).done();
        EXPECT_EQ(fast, slow) << us;
    }
}

TEST(LogLine, ReusedStorageGivesTheSameLineAsAFreshOne) {
    std::string storage = "left over from an earlier line";
    LogLine reused("request", std::move(storage));
    reused.str("user", "@a:b").str("empty", "").integer("status", 200);
    const std::string expected = LogLine("request").str("user", "@a:b").integer("status", 200).done();
    EXPECT_EQ(std::string(reused.finish()), expected);
    EXPECT_EQ(expected, R"("msg":"request","user":"@a:b","status":200})");
}

}  // namespace
}  // namespace mxrtc::auth
