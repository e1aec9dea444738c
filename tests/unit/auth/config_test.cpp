#include "mxrtc/auth/config.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

ConfigInputs minimal() {
    ConfigInputs in;
    in.env = {{"LIVEKIT_URL", "wss://sfu.example.org"},
              {"LIVEKIT_KEY", "devkey"},
              {"LIVEKIT_SECRET", "secret"},
              {"LIVEKIT_FULL_ACCESS_HOMESERVERS", "example.org"}};
    in.readFile = [](const std::string& path) -> std::optional<std::string> {
        if (path == "/run/key") return std::string("filekey\n");
        if (path == "/run/secret") return std::string(" filesecret \r\n");
        if (path == "/run/keysecret") return std::string("k1:s1\n");
        if (path == "/run/bad") return std::string("nocolon");
        if (path == "/run/token") return std::string("syt_service\n");
        return std::nullopt;
    };
    return in;
}

std::string errorOf(const ConfigInputs& in) {
    auto c = loadConfig(in);
    EXPECT_FALSE(c.ok());
    return c.ok() ? std::string() : c.error().message;
}

TEST(Config, MinimalEnvironmentGivesLkJwtDefaults) {
    auto c = loadConfig(minimal());
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->liveKitUrl, "wss://sfu.example.org");
    EXPECT_EQ(c->liveKitHttpUrl(), "https://sfu.example.org");
    EXPECT_EQ(c->liveKitKey, "devkey");
    EXPECT_EQ(c->liveKitSecret.exposeSecret(), "secret");
    EXPECT_EQ(c->bindHost, "");
    EXPECT_EQ(c->bindPort, 8080);
    EXPECT_TRUE(c->cors);
    EXPECT_FALSE(c->skipVerifyTls);
    EXPECT_EQ(c->defaultVia, VerifyVia::Federation);
    EXPECT_TRUE(c->isFullAccess("example.org"));
    EXPECT_FALSE(c->isFullAccess("other.org"));
}

TEST(Config, RequiresKeysUrlAndFullAccessList) {
    auto in = minimal();
    in.env.erase("LIVEKIT_URL");
    EXPECT_EQ(errorOf(in), "LIVEKIT_KEY* / LIVEKIT_SECRET* and LIVEKIT_URL must be set");
    in = minimal();
    in.env["LIVEKIT_SECRET"] = "";
    EXPECT_EQ(errorOf(in), "LIVEKIT_KEY* / LIVEKIT_SECRET* and LIVEKIT_URL must be set");
    in = minimal();
    in.env.erase("LIVEKIT_FULL_ACCESS_HOMESERVERS");
    EXPECT_NE(errorOf(in).find("LIVEKIT_FULL_ACCESS_HOMESERVERS environment variable must be set"),
              std::string::npos);
}

TEST(Config, FullAccessListSyntaxAndWildcard) {
    auto in = minimal();
    in.env["LIVEKIT_FULL_ACCESS_HOMESERVERS"] = " a.org, b.org c.org:8448 ";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->fullAccessHomeservers, (std::vector<std::string>{"a.org", "b.org", "c.org:8448"}));
    in.env["LIVEKIT_FULL_ACCESS_HOMESERVERS"] = "*";
    c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->isFullAccess("anything.org"));
    in.env["LIVEKIT_FULL_ACCESS_HOMESERVERS"] = "*,a.org";
    c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c->isFullAccess("anything.org"));  // '*' only counts alone, as in lk-jwt-service
    EXPECT_FALSE(c->warnings.empty());
    in.env["LIVEKIT_FULL_ACCESS_HOMESERVERS"] = "bad/name";
    EXPECT_NE(errorOf(in).find("bad/name"), std::string::npos);
}

TEST(Config, LegacyLocalHomeserversAlias) {
    auto in = minimal();
    in.env.erase("LIVEKIT_FULL_ACCESS_HOMESERVERS");
    in.env["LIVEKIT_LOCAL_HOMESERVERS"] = "old.org";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->isFullAccess("old.org"));
    EXPECT_FALSE(c->warnings.empty());
}

TEST(Config, KeyAndSecretFromFilesAreTrimmed) {
    auto in = minimal();
    in.env["LIVEKIT_KEY_FROM_FILE"] = "/run/key";
    in.env["LIVEKIT_SECRET_FROM_FILE"] = "/run/secret";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->liveKitKey, "filekey");
    EXPECT_EQ(c->liveKitSecret.exposeSecret(), "filesecret");
}

TEST(Config, KeyFileWinsAndNeedsKeyColonSecret) {
    auto in = minimal();
    in.env["LIVEKIT_KEY_FILE"] = "/run/keysecret";
    in.env["LIVEKIT_KEY_FROM_FILE"] = "/run/key";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->liveKitKey, "k1");
    EXPECT_EQ(c->liveKitSecret.exposeSecret(), "s1");
    in.env["LIVEKIT_KEY_FILE"] = "/run/bad";
    EXPECT_NE(errorOf(in).find("LIVEKIT_KEY_FILE"), std::string::npos);
    in.env["LIVEKIT_KEY_FILE"] = "/run/missing";
    EXPECT_NE(errorOf(in).find("/run/missing"), std::string::npos);
}

TEST(Config, BindAndDeprecatedPortAreExclusive) {
    auto in = minimal();
    in.env["LIVEKIT_JWT_BIND"] = "127.0.0.1:9000";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->bindHost, "127.0.0.1");
    EXPECT_EQ(c->bindPort, 9000);
    in.env["LIVEKIT_JWT_BIND"] = "[::1]:9001";
    c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->bindHost, "::1");
    in.env["LIVEKIT_JWT_PORT"] = "9002";
    EXPECT_EQ(errorOf(in), "LIVEKIT_JWT_BIND and LIVEKIT_JWT_PORT must not be set together");
    in.env.erase("LIVEKIT_JWT_BIND");
    c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->bindPort, 9002);
    EXPECT_EQ(c->bindHost, "");
    in.env["LIVEKIT_JWT_PORT"] = "http";
    EXPECT_NE(errorOf(in).find("LIVEKIT_JWT_PORT"), std::string::npos);
}

TEST(Config, SkipVerifyTlsNeedsTheMagicValue) {
    auto in = minimal();
    in.env["LIVEKIT_INSECURE_SKIP_VERIFY_TLS"] = "true";
    EXPECT_FALSE(loadConfig(in)->skipVerifyTls);
    in.env["LIVEKIT_INSECURE_SKIP_VERIFY_TLS"] = "YES_I_KNOW_WHAT_I_AM_DOING";
    EXPECT_TRUE(loadConfig(in)->skipVerifyTls);
}

TEST(Config, CsApiOverridesSyntax) {
    auto in = minimal();
    in.env["LIVEKIT_CS_API_URL_OVERRIDES"] = "a.org=https://hs.a.org/, b.org = http://10.0.0.2:8008";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->csApiOverrides.at("a.org"), "https://hs.a.org");
    EXPECT_EQ(c->csApiOverrides.at("b.org"), "http://10.0.0.2:8008");
    in.env["LIVEKIT_CS_API_URL_OVERRIDES"] = "a.org";
    EXPECT_NE(errorOf(in).find("expected server_name=url"), std::string::npos);
}

TEST(Config, HomeserverOverridesAndVerifyVia) {
    auto in = minimal();
    in.env["MXRTC_AUTH_HOMESERVER_URLS"] = "localhost:8008=http://127.0.0.1:8008";
    in.env["MXRTC_AUTH_VERIFY_VIA_CLIENT"] = "nofed.org";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->homeserverFor("localhost:8008").baseUrl, "http://127.0.0.1:8008");
    EXPECT_EQ(c->homeserverFor("localhost:8008").via, VerifyVia::Federation);
    EXPECT_EQ(c->homeserverFor("nofed.org").via, VerifyVia::Client);
    EXPECT_EQ(c->homeserverFor("other.org").baseUrl, "");
    in.env["MXRTC_AUTH_VERIFY_VIA"] = "client";
    c = loadConfig(in);
    EXPECT_EQ(c->homeserverFor("other.org").via, VerifyVia::Client);
    in.env["MXRTC_AUTH_VERIFY_VIA"] = "smoke-signals";
    EXPECT_NE(errorOf(in).find("MXRTC_AUTH_VERIFY_VIA"), std::string::npos);
}

TEST(Config, FileThenEnvThenOverrides) {
    auto in = minimal();
    in.fileText = R"({
      // comments are allowed
      "livekit": {"url": "ws://file", "full_access_homeservers": ["f.org"]},
      "listen": {"bind": "127.0.0.1:7000", "cors": false, "base_path": "/livekit/jwt/"},
      "rate_limit": {"per_second": 5, "burst": 10},
      "openid": {"allow_loopback_targets": true, "cache_ttl_seconds": 30, "cache_size": 50,
                 "homeservers": {"localhost:8008": {"base_url": "http://127.0.0.1:8008", "verify_via": "client"}}},
      "membership_check": {"enabled": true, "homeserver_url": "http://127.0.0.1:8008", "access_token_file": "/run/token"},
      "log": {"level": "debug", "json": false}
    })";
    in.env.erase("LIVEKIT_URL");
    in.env.erase("LIVEKIT_FULL_ACCESS_HOMESERVERS");
    in.overrides["LIVEKIT_JWT_BIND"] = "127.0.0.1:7001";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->liveKitUrl, "ws://file");
    EXPECT_EQ(c->liveKitHttpUrl(), "http://file");
    EXPECT_TRUE(c->isFullAccess("f.org"));
    EXPECT_EQ(c->bindPort, 7001);
    EXPECT_FALSE(c->cors);
    EXPECT_EQ(c->basePath, "/livekit/jwt");
    EXPECT_EQ(c->rateLimit, (RateLimit{5, 10}));
    EXPECT_TRUE(c->targetPolicy.allowLoopback);
    EXPECT_FALSE(c->targetPolicy.allowPrivate);
    EXPECT_EQ(c->cacheTtl, Duration{30'000});
    EXPECT_EQ(c->cacheSize, 50u);
    EXPECT_EQ(c->homeserverFor("localhost:8008").via, VerifyVia::Client);
    EXPECT_TRUE(c->membership.enabled);
    EXPECT_EQ(c->membership.accessToken.exposeSecret(), "syt_service");
    EXPECT_EQ(c->logLevel, "debug");
    EXPECT_FALSE(c->logJson);
}

TEST(Config, FileTyposAreReportedWithSuggestion) {
    auto in = minimal();
    in.fileText = R"({"listen": {"cros": false}})";
    in.filePath = "/etc/mxrtc-auth.json";
    const auto msg = errorOf(in);
    EXPECT_NE(msg.find("/etc/mxrtc-auth.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unknown key \"cros\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean \"cors\""), std::string::npos) << msg;
    in.fileText = "{not json";
    EXPECT_NE(errorOf(in).find("not valid JSON"), std::string::npos);
    in.fileText = R"({"openid": {"cache_size": "big"}})";
    EXPECT_NE(errorOf(in).find("openid.cache_size"), std::string::npos);
}

TEST(Config, RateLimitSyntax) {
    auto in = minimal();
    in.env["MXRTC_AUTH_RATE_LIMIT"] = "20/40";
    EXPECT_EQ(loadConfig(in)->rateLimit, (RateLimit{20, 40}));
    in.env["MXRTC_AUTH_RATE_LIMIT"] = "off";
    EXPECT_EQ(loadConfig(in)->rateLimit.perSecond, 0);
    in.env["MXRTC_AUTH_RATE_LIMIT"] = "fast";
    EXPECT_NE(errorOf(in).find("MXRTC_AUTH_RATE_LIMIT"), std::string::npos);
}

TEST(Config, MembershipCheckNeedsUrlAndToken) {
    auto in = minimal();
    in.env["MXRTC_AUTH_MEMBERSHIP_CHECK_URL"] = "http://127.0.0.1:8008";
    EXPECT_NE(errorOf(in).find("access token"), std::string::npos);
    in.env["MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN_FILE"] = "/run/token";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->membership.accessToken.exposeSecret(), "syt_service");
}

TEST(Config, RejectsBadLiveKitUrlAndLogLevel) {
    auto in = minimal();
    in.env["LIVEKIT_URL"] = "sfu.example.org";
    EXPECT_NE(errorOf(in).find("LIVEKIT_URL"), std::string::npos);
    in = minimal();
    in.env["LIVEKIT_LOG_LEVEL"] = "chatty";
    EXPECT_NE(errorOf(in).find("log level"), std::string::npos);
}

TEST(Config, RedisUrlIsAcceptedWithAWarning) {
    auto in = minimal();
    in.env["LIVEKIT_REDIS_URL"] = "redis://x";
    auto c = loadConfig(in);
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->warnings.size(), 1u);
    EXPECT_NE(c->warnings[0].find("LIVEKIT_REDIS_URL"), std::string::npos);
}

}  // namespace
}  // namespace mxrtc::auth
