#include "mxrtc/auth/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

constexpr TimePoint kT0 = fromUnixMs(5'000'000);

TEST(RateLimiter, AllowsBurstThenRefusesWithRetryAfter) {
    RateLimiter limiter(RateLimit{2.0, 3.0});
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(limiter.take("1.2.3.4", kT0).allowed);
    const auto refused = limiter.take("1.2.3.4", kT0);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retryAfter, Duration{500});  // one token at 2/s
    EXPECT_TRUE(limiter.take("1.2.3.4", kT0 + Duration{500}).allowed);
    EXPECT_FALSE(limiter.take("1.2.3.4", kT0 + Duration{500}).allowed);
}

TEST(RateLimiter, ClientsAreIndependent) {
    RateLimiter limiter(RateLimit{1.0, 1.0});
    EXPECT_TRUE(limiter.take("a", kT0).allowed);
    EXPECT_FALSE(limiter.take("a", kT0).allowed);
    EXPECT_TRUE(limiter.take("b", kT0).allowed);
}

TEST(RateLimiter, RefillIsCappedAtBurst) {
    RateLimiter limiter(RateLimit{10.0, 2.0});
    EXPECT_TRUE(limiter.take("a", kT0).allowed);
    const TimePoint later = kT0 + Duration{3'600'000};
    EXPECT_TRUE(limiter.take("a", later).allowed);
    EXPECT_TRUE(limiter.take("a", later).allowed);
    EXPECT_FALSE(limiter.take("a", later).allowed);
}

TEST(RateLimiter, DisabledAllowsEverything) {
    RateLimiter limiter(RateLimit{0.0, 1.0});
    for (int i = 0; i < 1000; ++i)
        EXPECT_TRUE(limiter.take("a", kT0).allowed);
    EXPECT_EQ(limiter.clients(), 0u);
}

TEST(RateLimiter, MemoryIsBoundedByMaxClients) {
    RateLimiter limiter(RateLimit{1.0, 5.0}, 100);
    for (int i = 0; i < 1000; ++i)
        limiter.take("c" + std::to_string(i), kT0);
    EXPECT_LE(limiter.clients(), 100u);
    // Once those buckets refill they are swept and new clients are tracked again.
    for (int i = 0; i < 50; ++i)
        limiter.take("n" + std::to_string(i), kT0 + Duration{60'000});
    EXPECT_LE(limiter.clients(), 100u);
    EXPECT_TRUE(limiter.take("n0", kT0 + Duration{60'000}).allowed);
}

}  // namespace
}  // namespace mxrtc::auth
