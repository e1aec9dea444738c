#include "mxrtc/auth/token_cache.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

constexpr TimePoint kT0 = fromUnixMs(1'000'000);
using Key = VerifiedTokenCache::Key;

Key key(const std::string& token) {
    return VerifiedTokenCache::keyFor("example.org", token);
}

TEST(TokenCache, KeyDependsOnServerAndTokenAndIsNotTheToken) {
    EXPECT_NE(VerifiedTokenCache::keyFor("a.org", "tok"), VerifiedTokenCache::keyFor("b.org", "tok"));
    EXPECT_NE(VerifiedTokenCache::keyFor("a.org", "tok"), VerifiedTokenCache::keyFor("a.org", "tok2"));
    // Length prefix: ("a", "b:c") and ("a:b", "c") differ.
    EXPECT_NE(VerifiedTokenCache::keyFor("a", "b:c"), VerifiedTokenCache::keyFor("a:b", "c"));
}

TEST(TokenCache, HitsUntilTtlThenMisses) {
    VerifiedTokenCache cache(10, Duration{60'000});
    cache.insert(key("t"), UserId("@a:example.org"), kT0);
    EXPECT_EQ(cache.find(key("t"), kT0 + Duration{59'999}), UserId("@a:example.org"));
    EXPECT_EQ(cache.find(key("t"), kT0 + Duration{60'000}), std::nullopt);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.stats().hits, 1u);
    EXPECT_EQ(cache.stats().misses, 1u);
    EXPECT_EQ(cache.stats().expirations, 1u);
}

TEST(TokenCache, TokenLifetimeShortensButNeverExtendsTtl) {
    VerifiedTokenCache cache(10, Duration{60'000});
    cache.insert(key("short"), UserId("@a:x"), kT0, Duration{5'000});
    cache.insert(key("long"), UserId("@b:x"), kT0, Duration{3'600'000});
    EXPECT_EQ(cache.find(key("short"), kT0 + Duration{5'000}), std::nullopt);
    EXPECT_TRUE(cache.find(key("long"), kT0 + Duration{59'000}).has_value());
    EXPECT_EQ(cache.find(key("long"), kT0 + Duration{60'000}), std::nullopt);
}

TEST(TokenCache, EvictsLeastRecentlyUsedAtCapacity) {
    VerifiedTokenCache cache(3, Duration{60'000});
    cache.insert(key("1"), UserId("@1:x"), kT0);
    cache.insert(key("2"), UserId("@2:x"), kT0);
    cache.insert(key("3"), UserId("@3:x"), kT0);
    EXPECT_TRUE(cache.find(key("1"), kT0).has_value());  // 1 is now most recent
    cache.insert(key("4"), UserId("@4:x"), kT0);         // evicts 2
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_FALSE(cache.find(key("2"), kT0).has_value());
    EXPECT_TRUE(cache.find(key("1"), kT0).has_value());
    EXPECT_TRUE(cache.find(key("3"), kT0).has_value());
    EXPECT_TRUE(cache.find(key("4"), kT0).has_value());
    EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(TokenCache, SizeStaysBoundedUnderChurn) {
    VerifiedTokenCache cache(100, Duration{60'000});
    for (int i = 0; i < 10'000; ++i)
        cache.insert(key(std::to_string(i)), UserId("@u:x"), kT0 + Duration{i});
    EXPECT_EQ(cache.size(), 100u);
    EXPECT_TRUE(cache.find(key("9999"), kT0 + Duration{10'000}).has_value());
    EXPECT_FALSE(cache.find(key("0"), kT0 + Duration{10'000}).has_value());
}

TEST(TokenCache, ReinsertRefreshesEntry) {
    VerifiedTokenCache cache(10, Duration{1'000});
    cache.insert(key("t"), UserId("@a:x"), kT0);
    cache.insert(key("t"), UserId("@a:x"), kT0 + Duration{900});
    EXPECT_TRUE(cache.find(key("t"), kT0 + Duration{1'500}).has_value());
    EXPECT_EQ(cache.size(), 1u);
}

TEST(TokenCache, ZeroCapacityOrTtlDisables) {
    VerifiedTokenCache none(0, Duration{1'000});
    none.insert(key("t"), UserId("@a:x"), kT0);
    EXPECT_FALSE(none.find(key("t"), kT0).has_value());
    VerifiedTokenCache noTtl(10, Duration{0});
    noTtl.insert(key("t"), UserId("@a:x"), kT0);
    EXPECT_FALSE(noTtl.find(key("t"), kT0).has_value());
}

}  // namespace
}  // namespace mxrtc::auth
