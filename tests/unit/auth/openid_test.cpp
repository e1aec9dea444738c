#include "mxrtc/auth/openid.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

TEST(ServerName, ParsesTheGrammar) {
    auto n = parseServerName("Example.ORG");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->host, "example.org");
    EXPECT_FALSE(n->port.has_value());
    EXPECT_FALSE(n->ipLiteral);

    n = parseServerName("localhost:8008");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->host, "localhost");
    EXPECT_EQ(n->port, 8008);

    n = parseServerName("1.2.3.4:443");
    ASSERT_TRUE(n.ok());
    EXPECT_TRUE(n->ipLiteral);
    EXPECT_FALSE(n->ipv6);

    n = parseServerName("[2001:db8::1]:8448");
    ASSERT_TRUE(n.ok());
    EXPECT_TRUE(n->ipv6);
    EXPECT_EQ(n->host, "2001:db8::1");
    EXPECT_EQ(n->hostForUrl(), "[2001:db8::1]");
}

TEST(ServerName, RejectsSsrfShapedInput) {
    for (const char* bad : {"",
                            "exa mple.org",
                            "user@evil.org",
                            "evil.org/path",
                            "evil.org?x",
                            "evil.org#f",
                            "evil.org:0",
                            "evil.org:65536",
                            "evil.org:",
                            "evil.org:80x",
                            "-evil.org",
                            "evil-.org",
                            "evil..org",
                            ".evil.org",
                            "2001:db8::1",
                            "[2001:db8::1",
                            "[zz]",
                            "1.2.3.256",
                            "evil.org%2f",
                            "évil.org",
                            "evil.org\r\nHost: x",
                            "a:b:c"}) {
        EXPECT_FALSE(parseServerName(bad).ok()) << bad;
    }
    EXPECT_FALSE(parseServerName(std::string(256, 'a')).ok());
}

TEST(Ssrf, ClassifiesAddresses) {
    EXPECT_EQ(classifyAddress("8.8.8.8"), AddressClass::Public);
    EXPECT_EQ(classifyAddress("127.0.0.1"), AddressClass::Loopback);
    EXPECT_EQ(classifyAddress("127.255.0.9"), AddressClass::Loopback);
    EXPECT_EQ(classifyAddress("::1"), AddressClass::Loopback);
    EXPECT_EQ(classifyAddress("10.1.2.3"), AddressClass::Private);
    EXPECT_EQ(classifyAddress("172.16.0.1"), AddressClass::Private);
    EXPECT_EQ(classifyAddress("172.32.0.1"), AddressClass::Public);
    EXPECT_EQ(classifyAddress("192.168.1.1"), AddressClass::Private);
    EXPECT_EQ(classifyAddress("100.64.0.1"), AddressClass::Private);
    EXPECT_EQ(classifyAddress("169.254.169.254"), AddressClass::LinkLocal);
    EXPECT_EQ(classifyAddress("0.0.0.0"), AddressClass::Unspecified);
    EXPECT_EQ(classifyAddress("::"), AddressClass::Unspecified);
    EXPECT_EQ(classifyAddress("224.0.0.1"), AddressClass::Multicast);
    EXPECT_EQ(classifyAddress("255.255.255.255"), AddressClass::Reserved);
    EXPECT_EQ(classifyAddress("fd00::1"), AddressClass::Private);
    EXPECT_EQ(classifyAddress("fe80::1%eth0"), AddressClass::LinkLocal);
    EXPECT_EQ(classifyAddress("::ffff:127.0.0.1"), AddressClass::Loopback);
    EXPECT_EQ(classifyAddress("::ffff:10.0.0.1"), AddressClass::Private);
    EXPECT_EQ(classifyAddress("64:ff9b::a9fe:a9fe"), AddressClass::LinkLocal);
    EXPECT_EQ(classifyAddress("2606:4700::1111"), AddressClass::Public);
    EXPECT_EQ(classifyAddress("[::1]"), AddressClass::Loopback);
    EXPECT_EQ(classifyAddress("example.org"), std::nullopt);
}

TEST(Ssrf, PolicyRefusesInternalTargetsUnlessAllowed) {
    const TargetPolicy strict;
    EXPECT_TRUE(addressAllowed(AddressClass::Public, strict));
    EXPECT_FALSE(addressAllowed(AddressClass::Loopback, strict));
    EXPECT_FALSE(addressAllowed(AddressClass::Private, strict));
    EXPECT_FALSE(addressAllowed(AddressClass::LinkLocal, strict));
    const TargetPolicy loopback{true, false};
    EXPECT_TRUE(addressAllowed(AddressClass::Loopback, loopback));
    EXPECT_FALSE(addressAllowed(AddressClass::Private, loopback));
    const TargetPolicy all{true, true};
    EXPECT_TRUE(addressAllowed(AddressClass::Private, all));
    EXPECT_TRUE(addressAllowed(AddressClass::LinkLocal, all));
    EXPECT_FALSE(addressAllowed(AddressClass::Unspecified, all));
    EXPECT_FALSE(addressAllowed(AddressClass::Multicast, all));
    EXPECT_FALSE(addressAllowed(AddressClass::Reserved, all));
}

TEST(Discovery, ExplicitPortAndIpLiteralsSkipWellKnown) {
    EXPECT_EQ(directFederationTarget(*parseServerName("example.org:8000")),
              (Target{"https://example.org:8000", "example.org"}));
    EXPECT_EQ(directFederationTarget(*parseServerName("1.2.3.4")),
              (Target{"https://1.2.3.4:8448", "1.2.3.4"}));
    EXPECT_EQ(directFederationTarget(*parseServerName("[::1]:99")), (Target{"https://[::1]:99", "::1"}));
    EXPECT_EQ(directFederationTarget(*parseServerName("example.org")), std::nullopt);
    EXPECT_EQ(wellKnownTarget(*parseServerName("example.org")),
              (Target{"https://example.org", "example.org"}));
}

TEST(Discovery, WellKnownDelegation) {
    const auto name = *parseServerName("example.org");
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::string(R"({"m.server":"matrix.example.org:443"})")),
              (Target{"https://matrix.example.org:443", "matrix.example.org"}));
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::string(R"({"m.server":"matrix.example.org"})")),
              (Target{"https://matrix.example.org:8448", "matrix.example.org"}));
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::string(R"({"m.server":"[2001:db8::5]"})")),
              (Target{"https://[2001:db8::5]:8448", "2001:db8::5"}));
    // Failure or garbage: fall back to <name>:8448.
    const Target fallback{"https://example.org:8448", "example.org"};
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::nullopt), fallback);
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::string("<html>")), fallback);
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::string(R"({"m.server":"evil.org/x@y"})")), fallback);
    EXPECT_EQ(federationTargetAfterWellKnown(name, std::string(R"({"m.server":42})")), fallback);
}

TEST(Discovery, WellKnownClient) {
    auto base = parseWellKnownClient(R"({"m.homeserver":{"base_url":"https://matrix.example.org/"}})");
    ASSERT_TRUE(base.ok());
    EXPECT_EQ(*base, "https://matrix.example.org");
    EXPECT_FALSE(parseWellKnownClient(R"({"m.homeserver":{}})").ok());
    EXPECT_FALSE(parseWellKnownClient(R"({"m.homeserver":{"base_url":"ftp://x"}})").ok());
    EXPECT_FALSE(parseWellKnownClient("nope").ok());
}

TEST(UserInfo, TargetPercentEncodesTheToken) {
    EXPECT_EQ(userInfoTarget("abc/+= &x"),
              "/_matrix/federation/v1/openid/userinfo?access_token=abc%2F%2B%3D%20%26x");
}

TEST(UserInfo, AcceptsMatchingSub) {
    auto r = checkUserInfo(200, R"({"sub":"@alice:localhost:8008"})", "localhost:8008");
    ASSERT_TRUE(std::holds_alternative<UserId>(r));
    EXPECT_EQ(std::get<UserId>(r).str(), "@alice:localhost:8008");
}

TEST(UserInfo, ClassifiesFailures) {
    auto kind = [](int status, const char* body, const char* server) {
        auto r = checkUserInfo(status, body, server);
        EXPECT_TRUE(std::holds_alternative<UserInfoError>(r));
        return std::holds_alternative<UserInfoError>(r) ? std::get<UserInfoError>(r).kind
                                                        : UserInfoFailure::Malformed;
    };
    EXPECT_EQ(kind(401, R"({"errcode":"M_UNKNOWN_TOKEN"})", "x"), UserInfoFailure::Rejected);
    EXPECT_EQ(kind(500, "", "x"), UserInfoFailure::ServerError);
    EXPECT_EQ(kind(200, "nope", "x"), UserInfoFailure::Malformed);
    EXPECT_EQ(kind(200, R"({"sub":7})", "x"), UserInfoFailure::Malformed);
    EXPECT_EQ(kind(200, R"({"sub":"alice"})", "x"), UserInfoFailure::Malformed);
    EXPECT_EQ(kind(200, R"({"sub":"@alice:evil.org"})", "example.org"), UserInfoFailure::ServerNameMismatch);
    // The server part is everything after the first ':' (gomatrixserverlib SplitID).
    EXPECT_EQ(kind(200, R"({"sub":"@alice:example.org:443"})", "example.org"),
              UserInfoFailure::ServerNameMismatch);
}

TEST(UserInfo, UserIdServer) {
    EXPECT_EQ(userIdServer("@a:b"), "b");
    EXPECT_EQ(userIdServer("@a:b:8008"), "b:8008");
    EXPECT_EQ(userIdServer("a:b"), std::nullopt);
    EXPECT_EQ(userIdServer("@:b"), std::nullopt);
    EXPECT_EQ(userIdServer("@a:"), std::nullopt);
}

}  // namespace
}  // namespace mxrtc::auth
