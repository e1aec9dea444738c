#include "mxrtc/e2ee/key_manager.hpp"

#include <gtest/gtest.h>

#include "support/effects.hpp"

namespace mxrtc::e2ee {
namespace {

using Effects = KeyManager::Effects;
constexpr std::int64_t kT0 = 1760000000000;

using test::all;
using test::has;
using test::only;

KeyMember member(const std::string& name, std::int64_t created = kT0) {
    const std::string user = "@" + name + ":example.org";
    const std::string device = name + "DEV";
    return KeyMember{UserId(user), DeviceId(device), user + ":" + device, fromUnixMs(created),
                     user + ":" + device};
}

std::vector<std::string> names(const std::vector<KeyMember>& ms) {
    std::vector<std::string> n;
    for (const auto& m : ms)
        n.push_back(m.user.str());
    std::sort(n.begin(), n.end());
    return n;
}

ReceivedKey keyFrom(const KeyMember& m, std::uint8_t index, std::uint8_t fill, std::int64_t ts) {
    return ReceivedKey{m.user, m.device, m.memberId, MediaKey{index, Bytes(16, fill)}, fromUnixMs(ts)};
}

struct Harness {
    Harness()
        : km(member("alice"),
             [this](std::span<std::uint8_t> b) { std::fill(b.begin(), b.end(), ++counter); }) {}
    std::uint8_t counter = 0;  // each new key is filled with the next byte value
    KeyManager km;
    TimePoint now = fromUnixMs(kT0);
    Effects advance(Duration d) {
        now += d;
        return km.onWakeup(now);
    }
    // Completes the tracked distribution in `e`.
    Effects ack(const Effects& e) {
        Effects out;
        for (const auto& d : all<DistributeKey>(e)) {
            auto r = km.onDistributed(d.id, true, now);
            out.insert(out.end(), r.begin(), r.end());
        }
        return out;
    }
};

TEST(KeyManager, JoinCreatesKeyZeroUsesItAndSendsItToEveryone) {
    Harness h;
    auto e = h.km.join({member("alice"), member("bob"), member("carol")}, h.now);
    auto use = only<UseOwnKey>(e);
    EXPECT_EQ(use.key.index, 0);
    EXPECT_EQ(use.key.key, Bytes(16, 1));
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(names(d.recipients), (std::vector<std::string>{"@bob:example.org", "@carol:example.org"}));
    EXPECT_EQ(d.key.index, 0);
}

TEST(KeyManager, JoinerWithinTheGracePeriodGetsTheCurrentKeyOnly) {
    Harness h;
    h.ack(h.km.join({member("bob")}, h.now));
    h.now += Duration{5'000};
    auto e = h.km.onMembersChanged({member("bob"), member("carol")}, h.now);
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(names(d.recipients), std::vector<std::string>{"@carol:example.org"});
    EXPECT_EQ(d.key.index, 0);
    EXPECT_FALSE(has<UseOwnKey>(e));
}

TEST(KeyManager, JoinerAfterTheGracePeriodRotatesForEveryone) {
    Harness h;
    h.ack(h.km.join({member("bob")}, h.now));
    h.now += Duration{10'000};
    auto e = h.km.onMembersChanged({member("bob"), member("carol")}, h.now);
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(d.key.index, 1);
    EXPECT_EQ(d.key.key, Bytes(16, 2));
    EXPECT_EQ(names(d.recipients), (std::vector<std::string>{"@bob:example.org", "@carol:example.org"}));
    EXPECT_FALSE(has<UseOwnKey>(e)) << "receivers need the key before our frames use it";
    EXPECT_EQ(only<core::ScheduleWakeup>(e).at, h.now + Duration{1'000});
    EXPECT_FALSE(has<UseOwnKey>(h.advance(Duration{999})));
    EXPECT_EQ(only<UseOwnKey>(h.advance(Duration{1})).key.index, 1);
}

TEST(KeyManager, LeaveRotatesAndTheLeaverIsNotARecipient) {
    Harness h;
    h.ack(h.km.join({member("bob"), member("carol")}, h.now));
    h.now += Duration{100};
    auto e = h.km.onMembersChanged({member("bob")}, h.now);
    EXPECT_EQ(only<RemoteMemberGone>(e).member.user.str(), "@carol:example.org");
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(d.key.index, 1);
    EXPECT_EQ(names(d.recipients), std::vector<std::string>{"@bob:example.org"});
    h.ack(e);
    EXPECT_EQ(only<UseOwnKey>(h.advance(Duration{1'000})).key.key, Bytes(16, 2));
    EXPECT_EQ(h.km.currentKey()->index, 1);
}

TEST(KeyManager, ChangesDuringADistributionCoalesceIntoOneFollowUp) {
    Harness h;
    auto first = h.km.join({member("bob"), member("carol"), member("dave")}, h.now);
    h.now += Duration{100};
    EXPECT_FALSE(has<DistributeKey>(h.km.onMembersChanged({member("bob"), member("dave")}, h.now)));
    EXPECT_FALSE(has<DistributeKey>(h.km.onMembersChanged({member("bob")}, h.now)));
    auto e = h.ack(first);
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(d.key.index, 1) << "one rotation for two leaves";
    EXPECT_EQ(names(d.recipients), std::vector<std::string>{"@bob:example.org"});
}

TEST(KeyManager, FailedDistributionIsRetriedThenReported) {
    Harness h;
    auto e = h.km.join({member("bob")}, h.now);
    auto d = only<DistributeKey>(e);
    for (int i = 0; i < 5; ++i) {
        e = h.km.onDistributed(d.id, false, h.now);
        EXPECT_EQ(only<core::ScheduleWakeup>(e).at, h.now + Duration{1'000});
        e = h.advance(Duration{1'000});
        d = only<DistributeKey>(e);
        EXPECT_EQ(d.key.index, 0);
    }
    e = h.km.onDistributed(d.id, false, h.now);
    EXPECT_EQ(names(only<DistributionFailed>(e).recipients), std::vector<std::string>{"@bob:example.org"});
}

TEST(KeyManager, RemoteKeysFromMembersAreDeliveredNewestFirstWins) {
    Harness h;
    const KeyMember bob = member("bob");
    h.km.join({bob}, h.now);
    auto e = h.km.onKeyReceived(keyFrom(bob, 0, 0xAA, kT0 + 10), h.now);
    auto got = only<RemoteKeyReceived>(e);
    EXPECT_EQ(got.member.participantIdentity, "@bob:example.org:bobDEV");
    EXPECT_EQ(got.key.key, Bytes(16, 0xAA));
    EXPECT_TRUE(h.km.onKeyReceived(keyFrom(bob, 0, 0xAA, kT0 + 20), h.now).empty())
        << "same key: nothing new";
    e = h.km.onKeyReceived(keyFrom(bob, 0, 0xBB, kT0 + 5), h.now);
    EXPECT_FALSE(has<RemoteKeyReceived>(e));
    EXPECT_NE(only<KeyDropped>(e).reason.find("outdated"), std::string::npos);
    e = h.km.onKeyReceived(keyFrom(bob, 0, 0xCC, kT0 + 30), h.now);
    EXPECT_EQ(only<RemoteKeyReceived>(e).key.key, Bytes(16, 0xCC));
}

TEST(KeyManager, KeysBeforeTheMembershipAreParkedThenApplied) {
    Harness h;
    h.km.join({member("bob")}, h.now);
    const KeyMember carol = member("carol");
    auto e = h.km.onKeyReceived(keyFrom(carol, 2, 0x11, kT0), h.now);
    EXPECT_FALSE(has<RemoteKeyReceived>(e));
    EXPECT_EQ(h.km.parkedKeys(), 1u);
    e = h.km.onMembersChanged({member("bob"), carol}, h.now);
    EXPECT_EQ(only<RemoteKeyReceived>(e).key.index, 2);
    EXPECT_EQ(h.km.parkedKeys(), 0u);
}

TEST(KeyManager, ParkedKeysFromNonMembersExpire) {
    Harness h;
    h.km.join({member("bob")}, h.now);
    auto e = h.km.onKeyReceived(keyFrom(member("mallory"), 0, 0x66, kT0), h.now);
    EXPECT_EQ(only<core::ScheduleWakeup>(e).at, h.now + Duration{60'000});
    e = h.advance(Duration{60'000});
    EXPECT_EQ(only<KeyDropped>(e).sender.str(), "@mallory:example.org");
    EXPECT_EQ(h.km.parkedKeys(), 0u);
    // Joining later does not resurrect it.
    EXPECT_FALSE(has<RemoteKeyReceived>(h.km.onMembersChanged({member("bob"), member("mallory")}, h.now)));
}

TEST(KeyManager, KeysReceivedBeforeWeJoinAreKept) {
    Harness h;
    const KeyMember bob = member("bob");
    h.km.onKeyReceived(keyFrom(bob, 0, 0x42, kT0), h.now);
    auto e = h.km.join({bob}, h.now);
    EXPECT_EQ(only<RemoteKeyReceived>(e).key.key, Bytes(16, 0x42));
}

TEST(KeyManager, OwnEchoIsIgnored) {
    Harness h;
    h.km.join({member("bob")}, h.now);
    EXPECT_TRUE(h.km.onKeyReceived(keyFrom(member("alice"), 0, 1, kT0), h.now).empty());
}

TEST(KeyManager, KeyRequestsAreAnsweredForMembersOnly) {
    Harness h;
    h.ack(h.km.join({member("bob")}, h.now));
    auto e = h.km.onKeyRequest(KeyRequest{UserId("@bob:example.org"), DeviceId("bobDEV"), "c"}, h.now);
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(names(d.recipients), std::vector<std::string>{"@bob:example.org"});
    e = h.km.onKeyRequest(KeyRequest{UserId("@eve:example.org"), DeviceId("eveDEV"), "c"}, h.now);
    EXPECT_FALSE(has<DistributeKey>(e));
    EXPECT_TRUE(has<KeyDropped>(e));
}

TEST(KeyManager, ChangedCreatedTsIsARejoinNotALeave) {
    Harness h;
    h.ack(h.km.join({member("bob"), member("carol")}, h.now));
    h.now += Duration{1'000};
    auto e = h.km.onMembersChanged({member("bob", kT0 + 900), member("carol")}, h.now);
    EXPECT_FALSE(has<RemoteMemberGone>(e));
    auto d = only<DistributeKey>(e);
    EXPECT_EQ(d.key.index, 0) << "within the grace period: no rotation";
    EXPECT_EQ(names(d.recipients), std::vector<std::string>{"@bob:example.org"});
}

TEST(KeyManager, IndexWrapsAt256) {
    Harness h;
    h.ack(h.km.join({member("bob"), member("carol")}, h.now));
    for (int i = 0; i < 256; ++i) {
        h.now += Duration{20'000};
        auto e = h.km.onMembersChanged(
            i % 2 == 0 ? std::vector{member("bob")} : std::vector{member("bob"), member("carol")}, h.now);
        h.ack(e);
        h.advance(Duration{1'000});
    }
    EXPECT_EQ(h.km.currentKey()->index, 0);
}

TEST(KeyManager, AloneARotationTakesEffectAtOnce) {
    Harness h;
    h.ack(h.km.join({member("bob")}, h.now));
    auto e = h.km.onMembersChanged({}, h.now);
    EXPECT_FALSE(has<DistributeKey>(e));
    EXPECT_EQ(only<UseOwnKey>(e).key.index, 1);
}

}  // namespace
}  // namespace mxrtc::e2ee
