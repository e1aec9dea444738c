#include "mxrtc/auth/handler.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/core/identity.hpp"

namespace mxrtc::auth {
namespace {

constexpr TimePoint kNow = fromUnixMs(1'700'000'000'000);
const Redacted<std::string> kSecret{std::string("secret")};

AuthConfig baseConfig() {
    AuthConfig c;
    c.liveKitUrl = "wss://sfu.example.org";
    c.liveKitKey = "devkey";
    c.liveKitSecret = kSecret;
    c.fullAccessHomeservers = {"full.org"};
    return c;
}

std::string legacyBody(const std::string& server = "example.org", const std::string& extra = "") {
    return R"({"room":"!room:example.org","openid_token":{"access_token":"tok","token_type":"Bearer","matrix_server_name":")" +
           server + R"(","expires_in":3600},"device_id":"ALICEDEV")" + extra + "}";
}

std::string getTokenBody(const std::string& server = "example.org",
                         const std::string& claimed = "@alice:example.org", const std::string& extra = "") {
    return R"({"room_id":"!room:example.org","slot_id":"m.call#ROOM","openid_token":{"access_token":"tok","token_type":"Bearer","matrix_server_name":")" +
           server + R"(","expires_in":3600},"member":{"id":"member1","claimed_user_id":")" + claimed +
           R"(","claimed_device_id":"ALICEDEV"})" + extra + "}";
}

std::string delegateBody(const std::string& server) {
    return getTokenBody(server, "@alice:" + server, R"(,"delay_id":"d1","delay_timeout":10000)");
}

IncomingRequest post(std::string_view target, std::string_view body) {
    return IncomingRequest{"POST", target, body, "192.0.2.1", "https://call.example.org"};
}

// By value: callers often pass a temporary Step.
Respond respond(const Step& s) {
    EXPECT_TRUE(std::holds_alternative<Respond>(s.action));
    return std::holds_alternative<Respond>(s.action) ? std::get<Respond>(s.action) : Respond{};
}

std::optional<std::string> header(const OutgoingResponse& r, std::string_view name) {
    auto v = r.header(name);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

nlohmann::json bodyJson(const Respond& r) {
    return nlohmann::json::parse(r.response.body);
}

// Runs a flow to completion: verification answers with `sub`, fetches with `fetch`, the
// client-server API lookup with `csApi`.
Step run(Handler& h, const IncomingRequest& req, const VerifyResult& verify,
         FetchResult fetch = {200, "", ""}, CsApiResult csApi = {"https://hs.full.org", ""}) {
    Step s = h.start(req, kNow);
    for (int i = 0; i < 6 && !s.done(); ++i) {
        if (std::holds_alternative<VerifyOpenId>(s.action))
            s = h.resume(std::move(s.flow), verify, kNow);
        else if (std::holds_alternative<Fetch>(s.action))
            s = h.resume(std::move(s.flow), fetch, kNow);
        else if (std::holds_alternative<ResolveCsApi>(s.action))
            s = h.resume(std::move(s.flow), csApi, kNow);
        else
            break;
    }
    return s;
}

void expectUnauthorised(const Step& s, std::string_view reason) {
    const auto& r = respond(s);
    EXPECT_EQ(r.response.status, 401);
    const auto j = bodyJson(r);
    EXPECT_EQ(j["errcode"], "M_UNAUTHORIZED");
    EXPECT_EQ(j["error"], "The request could not be authorised.");
    EXPECT_EQ(j["mxrtc_reason"], reason);
    EXPECT_EQ(r.outcome.errcode, "M_UNAUTHORIZED");
}

// ---- routing -------------------------------------------------------------------------------

TEST(HandlerRouting, HealthzAnswersGetAndHeadOnly) {
    Handler h(baseConfig());
    EXPECT_EQ(respond(h.start({"GET", "/healthz", "", "", ""}, kNow)).response.status, 200);
    EXPECT_EQ(respond(h.start({"HEAD", "/healthz", "", "", ""}, kNow)).response.status, 200);
    EXPECT_EQ(respond(h.start({"POST", "/healthz", "", "", ""}, kNow)).response.status, 405);
}

// Spec §12.6: GET /get_token -> 405, OPTIONS /get_token -> 200 with CORS headers.
TEST(HandlerRouting, TokenEndpointsAnswerPreflightAndRefuseOtherMethods) {
    Handler h(baseConfig());
    for (const char* path : {"/sfu/get", "/get_token", "/delegate_delayed_leave"}) {
        const auto& get = respond(h.start({"GET", path, "", "", ""}, kNow));
        EXPECT_EQ(get.response.status, 405) << path;
        EXPECT_TRUE(get.response.body.empty());
        const auto& options = respond(h.start({"OPTIONS", path, "", "", ""}, kNow));
        EXPECT_EQ(options.response.status, 200) << path;
        EXPECT_TRUE(options.response.body.empty());
        EXPECT_EQ(header(options.response, "Access-Control-Allow-Origin"), "*");
        EXPECT_EQ(header(options.response, "Access-Control-Allow-Methods"), "POST");
        EXPECT_EQ(header(options.response, "Access-Control-Allow-Headers"),
                  "Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token");
        EXPECT_EQ(header(options.response, "Content-Type"), "application/json");
    }
}

TEST(HandlerRouting, CorsCanBeTurnedOff) {
    auto c = baseConfig();
    c.cors = false;
    Handler h(c);
    const auto& options = respond(h.start({"OPTIONS", "/get_token", "", "", ""}, kNow));
    EXPECT_EQ(options.response.status, 200);
    EXPECT_FALSE(header(options.response, "Access-Control-Allow-Origin").has_value());
    const auto& err = respond(h.start(post("/get_token", "{"), kNow));
    EXPECT_FALSE(header(err.response, "Access-Control-Allow-Origin").has_value());
}

TEST(HandlerRouting, UnknownPathsAre404LikeGo) {
    Handler h(baseConfig());
    const auto& r = respond(h.start({"POST", "/sfu/got", "", "", ""}, kNow));
    EXPECT_EQ(r.response.status, 404);
    EXPECT_EQ(r.response.body, "404 page not found\n");
    EXPECT_EQ(r.outcome.endpoint, Endpoint::Other);
}

TEST(HandlerRouting, BasePathPrefixIsOptionalAndQueryIgnored) {
    auto c = baseConfig();
    c.basePath = "/livekit/jwt";
    Handler h(c);
    EXPECT_EQ(h.route("/livekit/jwt/get_token"), Endpoint::GetToken);
    EXPECT_EQ(h.route("/get_token?x=1"), Endpoint::GetToken);
    EXPECT_EQ(h.route("/livekit/jwtget_token"), Endpoint::Other);
    EXPECT_EQ(h.route("/livekit/jwt/healthz"), Endpoint::Healthz);
}

TEST(HandlerRouting, MetricsAreRenderedByTheEdgeUnlessDisabled) {
    Handler h(baseConfig());
    EXPECT_TRUE(std::holds_alternative<RenderMetrics>(h.start({"GET", "/metrics", "", "", ""}, kNow).action));
    auto c = baseConfig();
    c.metrics = false;
    Handler off(c);
    EXPECT_EQ(respond(off.start({"GET", "/metrics", "", "", ""}, kNow)).response.status, 404);
}

TEST(HandlerRouting, VersionReportsCapabilities) {
    Handler h(baseConfig());
    const auto& r = respond(h.start({"GET", "/version", "", "", ""}, kNow));
    EXPECT_EQ(r.response.status, 200);
    const auto j = bodyJson(r);
    EXPECT_EQ(j["name"], "mxrtc-auth");
    EXPECT_EQ(j["delayed_leave_delegation"], true);
}

// ---- decoding errors -------------------------------------------------------------------------

TEST(HandlerErrors, DecodingAndValidationErrorsNeedNoVerification) {
    Handler h(baseConfig());
    auto check = [&](std::string_view path, const std::string& body, int status, const char* errcode,
                     const char* msg) {
        const auto s = h.start(post(path, body), kNow);
        const auto& r = respond(s);
        EXPECT_EQ(r.response.status, status) << body;
        const auto j = bodyJson(r);
        EXPECT_EQ(j["errcode"], errcode) << body;
        EXPECT_EQ(j["error"], msg) << body;
        EXPECT_EQ(header(r.response, "Access-Control-Allow-Origin"), "*");
    };
    check("/get_token", getTokenBody("example.org", "@alice:example.org", R"(,"device_id":"X")"), 400,
          "M_NOT_JSON", "Error reading request");
    check("/sfu/get", "not json", 400, "M_NOT_JSON", "Error reading request");
    check("/sfu/get", R"({"openid_token":{"access_token":"t","matrix_server_name":"x"}})", 400, "M_BAD_JSON",
          "Missing room parameter");
    check("/get_token",
          getTokenBody("example.org", "@alice:example.org", R"(,"delay_id":"d","delay_timeout":0)"), 400,
          "M_BAD_JSON", "The request body is missing `delay_id` or `delay_timeout`");
    check("/delegate_delayed_leave", getTokenBody(), 400, "M_BAD_JSON",
          "The request body is missing `delay_id` or `delay_timeout`");
}

TEST(HandlerErrors, InvalidServerNameIsRefusedWithoutContactingIt) {
    Handler h(baseConfig());
    for (const char* server : {"evil.org/x", "user@evil.org", "evil.org:99999", "[::1"}) {
        const auto s = h.start(post("/sfu/get", legacyBody(server)), kNow);
        expectUnauthorised(s, "invalid_server_name");
    }
}

TEST(HandlerErrors, EveryVerificationFailureIs401Unauthorized) {
    for (auto f : {VerifyFailure::RefusedTarget, VerifyFailure::Unreachable, VerifyFailure::Rejected,
                   VerifyFailure::FederationDisabled, VerifyFailure::ServerError, VerifyFailure::Malformed,
                   VerifyFailure::ServerNameMismatch}) {
        Handler h(baseConfig());
        expectUnauthorised(run(h, post("/get_token", getTokenBody()), f), toString(f));
        // Failures are not cached: the next request verifies again.
        EXPECT_TRUE(
            std::holds_alternative<VerifyOpenId>(h.start(post("/get_token", getTokenBody()), kNow).action));
    }
}

// Spec §12.6: claimed_user_id != OpenID sub -> 401 M_UNAUTHORIZED.
TEST(HandlerErrors, ClaimedUserMustBeTheTokenOwner) {
    Handler h(baseConfig());
    expectUnauthorised(run(h, post("/get_token", getTokenBody("example.org", "@mallory:example.org")),
                           UserId("@alice:example.org")),
                       "claimed_user_mismatch");
    Handler fresh(baseConfig());  // (h has cached the token as alice's by now)
    expectUnauthorised(
        run(fresh, post("/delegate_delayed_leave", delegateBody("example.org")), UserId("@bob:example.org")),
        "claimed_user_mismatch");
}

TEST(HandlerErrors, SubFromAnotherServerIsRejectedEvenIfTheEdgeMissedIt) {
    Handler h(baseConfig());
    expectUnauthorised(run(h, post("/sfu/get", legacyBody()), UserId("@alice:evil.org")),
                       "server_name_mismatch");
    EXPECT_EQ(h.cache().size(), 0u);
}

TEST(HandlerErrors, DelayParamsFromRestrictedUsersAreBadJson) {
    Handler h(baseConfig());
    const auto s =
        run(h, post("/sfu/get", legacyBody("example.org", R"(,"delay_id":"d","delay_timeout":10000)")),
            UserId("@alice:example.org"));
    const auto& r = respond(s);
    EXPECT_EQ(r.response.status, 400);
    EXPECT_EQ(bodyJson(r)["errcode"], "M_BAD_JSON");
    EXPECT_EQ(bodyJson(r)["error"], "Delegation of delayed events is only supported for full access users");
}

TEST(HandlerDelegation, DelayParamsFromFullAccessUsersHandTheLeaveOverWithTheToken) {
    Handler h(baseConfig());
    Step s =
        h.start(post("/sfu/get", legacyBody("full.org", R"(,"delay_id":"d","delay_timeout":10000)")), kNow);
    s = h.resume(std::move(s.flow), VerifyResult{UserId("@alice:full.org")}, kNow);
    // The client-server API is resolved before the room is created (no room left on failure).
    ASSERT_TRUE(std::holds_alternative<ResolveCsApi>(s.action));
    EXPECT_EQ(std::get<ResolveCsApi>(s.action).serverName, "full.org");
    s = h.resume(std::move(s.flow), CsApiResult{"https://hs.full.org", ""}, kNow);
    ASSERT_TRUE(std::holds_alternative<Fetch>(s.action));  // CreateRoom
    s = h.resume(std::move(s.flow), FetchResult{200, "", ""}, kNow);
    const auto& r = respond(s);
    EXPECT_EQ(r.response.status, 200);
    EXPECT_TRUE(bodyJson(r).contains("jwt"));
    ASSERT_TRUE(r.delegation);
    EXPECT_EQ(r.delegation->participant.identity, "@alice:full.org:ALICEDEV");
    EXPECT_EQ(r.delegation->participant.room, "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E");
    EXPECT_EQ(r.delegation->csApiBaseUrl, "https://hs.full.org");
    EXPECT_EQ(r.delegation->delayId.exposeSecret(), "d");
    EXPECT_EQ(r.delegation->delayTimeout, Duration{10'000});
}

TEST(HandlerDelegation, UnresolvableClientServerApiIsBadJson) {
    Handler h(baseConfig());
    const auto s =
        run(h, post("/delegate_delayed_leave", delegateBody("full.org")), UserId("@alice:full.org"),
            FetchResult{200, "", ""}, CsApiResult{"", "no .well-known"});
    const auto& r = respond(s);
    EXPECT_EQ(r.response.status, 400);
    EXPECT_EQ(bodyJson(r)["errcode"], "M_BAD_JSON");
    EXPECT_EQ(bodyJson(r)["error"], "Unable to resolve client-server API");
    EXPECT_FALSE(r.delegation);
}

TEST(HandlerDelegation, DelegationIsForbiddenForRestrictedAndAcceptedForFullAccess) {
    Handler h(baseConfig());
    const auto restricted =
        run(h, post("/delegate_delayed_leave", delegateBody("example.org")), UserId("@alice:example.org"));
    EXPECT_EQ(respond(restricted).response.status, 403);
    EXPECT_EQ(bodyJson(respond(restricted))["errcode"], "M_FORBIDDEN");
    EXPECT_EQ(bodyJson(respond(restricted))["error"],
              "Delegation of delayed events is only supported for full access users");
    EXPECT_FALSE(respond(restricted).delegation);
    const auto full =
        run(h, post("/delegate_delayed_leave", delegateBody("full.org")), UserId("@alice:full.org"));
    const auto& r = respond(full);
    EXPECT_EQ(r.response.status, 200);
    EXPECT_EQ(r.response.body, "{}\n");  // Go's json.Encoder of an empty struct
    EXPECT_EQ(header(r.response, "Access-Control-Allow-Origin"), "*");
    ASSERT_TRUE(r.delegation);
    EXPECT_EQ(r.delegation->participant.identity,
              core::hashedMemberIdentity(UserId("@alice:full.org"), DeviceId("ALICEDEV"), MemberId("member1"),
                                         core::JsonEscaping::Go));
    EXPECT_EQ(
        r.delegation->participant.room,
        core::liveKitRoomAlias(RoomId("!room:example.org"), SlotId("m.call#ROOM"), core::JsonEscaping::Go));
    EXPECT_EQ(r.delegation->serverName, "full.org");
    EXPECT_EQ(r.delegation->delayId.exposeSecret(), "d1");
    EXPECT_EQ(r.delegation->delayTimeout, Duration{10'000});
    // No token and no room creation for a delegation.
    EXPECT_FALSE(bodyJson(r).contains("jwt"));
}

// ---- SFU webhooks --------------------------------------------------------------------------

std::string webhookAuth(const std::string& body, const Redacted<std::string>& secret = kSecret) {
    AccessTokenClaims c;
    c.issuer = "devkey";
    c.notBefore = toUnixMs(kNow) / 1000;
    c.expiry = c.notBefore + 300;
    c.sha256 = base64Encode(sha256(body));
    return Hs256Signer(secret).sign(c);
}

TEST(HandlerWebhook, SignedEventsAreHandedToDelegation) {
    Handler h(baseConfig());
    const std::string body =
        R"({"event":"participant_joined","room":{"name":"lkroom"},"participant":{"identity":"alice-id"}})";
    const auto auth = webhookAuth(body);
    const auto& r = respond(h.start({"POST", "/sfu_webhook", body, "127.0.0.1", "", auth}, kNow));
    EXPECT_EQ(r.response.status, 200);
    EXPECT_TRUE(r.response.body.empty());
    ASSERT_TRUE(r.sfuEvent);
    EXPECT_EQ(*r.sfuEvent, (SfuEvent{SfuEvent::Kind::ParticipantJoined, {"lkroom", "alice-id"}}));
    EXPECT_EQ(r.outcome.endpoint, Endpoint::SfuWebhook);
    EXPECT_EQ(r.outcome.reason, "participant_joined");
}

TEST(HandlerWebhook, UnsignedOrForgedWebhooksAre401AndChangeNothing) {
    Handler h(baseConfig());
    const std::string body =
        R"({"event":"participant_left","room":{"name":"r"},"participant":{"identity":"i"}})";
    for (const std::string& auth :
         {std::string(), webhookAuth(body, Redacted<std::string>(std::string("guess"))),
          webhookAuth(body + " ")}) {
        const auto& r = respond(h.start({"POST", "/sfu_webhook", body, "127.0.0.1", "", auth}, kNow));
        EXPECT_EQ(r.response.status, 401);
        EXPECT_EQ(bodyJson(r)["errcode"], "M_UNAUTHORIZED");
        EXPECT_FALSE(r.sfuEvent);
    }
    EXPECT_EQ(respond(h.start({"GET", "/sfu_webhook", "", "", ""}, kNow)).response.status, 405);
    const std::string junk = "{]";
    EXPECT_EQ(
        respond(h.start({"POST", "/sfu_webhook", junk, "", "", webhookAuth(junk)}, kNow)).response.status,
        400);
}

TEST(HandlerErrors, RateLimitedResponse) {
    Handler h(baseConfig());
    const auto r = h.rateLimited(Duration{1500});
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(header(r, "Retry-After"), "2");
    const auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["errcode"], "M_LIMIT_EXCEEDED");
    EXPECT_EQ(j["retry_after_ms"], 1500);
}

// ---- success paths ---------------------------------------------------------------------------

TEST(HandlerTokens, LegacySfuGetMatchesSpecVector) {
    Handler h(baseConfig());
    Step s = h.start(post("/sfu/get", legacyBody()), kNow);
    ASSERT_TRUE(std::holds_alternative<VerifyOpenId>(s.action));
    const auto& verify = std::get<VerifyOpenId>(s.action);
    EXPECT_EQ(verify.serverName, "example.org");
    EXPECT_EQ(verify.accessToken.exposeSecret(), "tok");
    s = h.resume(std::move(s.flow), VerifyResult{UserId("@alice:example.org")}, kNow);
    const auto& r = respond(s);
    ASSERT_EQ(r.response.status, 200);
    EXPECT_EQ(header(r.response, "Content-Type"), "application/json");
    const auto j = bodyJson(r);
    EXPECT_EQ(j["url"], "wss://sfu.example.org");
    auto claims = verifyHs256(j["jwt"].get<std::string>(), kSecret, kNow);
    ASSERT_TRUE(claims.ok()) << claims.error().message;
    EXPECT_EQ(claims->subject, "@alice:example.org:ALICEDEV");
    EXPECT_EQ(claims->issuer, "devkey");
    EXPECT_EQ(claims->expiry - claims->notBefore, 3600);
    EXPECT_EQ(claims->notBefore, 1'700'000'000);
    ASSERT_TRUE(claims->video.has_value());
    EXPECT_EQ(claims->video->room, "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E");
    EXPECT_TRUE(claims->video->roomJoin);
    EXPECT_EQ(claims->video->canPublish, true);
    EXPECT_EQ(claims->video->canSubscribe, true);
    EXPECT_EQ(claims->video->canUpdateOwnMetadata, true);
    EXPECT_FALSE(claims->video->roomCreate);
    EXPECT_EQ(r.outcome.userId, "@alice:example.org");
    EXPECT_FALSE(r.outcome.fullAccess);
    EXPECT_TRUE(r.outcome.errcode.empty());
}

TEST(HandlerTokens, GetTokenUsesHashedIdentityAndAlias) {
    Handler h(baseConfig());
    const auto s = run(h, post("/get_token", getTokenBody()), UserId("@alice:example.org"));
    const auto& r = respond(s);
    ASSERT_EQ(r.response.status, 200);
    auto claims = verifyHs256(bodyJson(r)["jwt"].get<std::string>(), kSecret, kNow);
    ASSERT_TRUE(claims.ok());
    EXPECT_EQ(claims->subject, core::hashedMemberIdentity(UserId("@alice:example.org"), DeviceId("ALICEDEV"),
                                                          MemberId("member1"), core::JsonEscaping::Go));
    EXPECT_EQ(claims->video->room, "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E");
}

TEST(HandlerTokens, IdentityHashUsesGoEscapingLikeLkJwtService) {
    Handler h(baseConfig());
    std::string body = getTokenBody();
    body.replace(body.find("member1"), 7, "x<y");
    const auto s = run(h, post("/get_token", body), UserId("@alice:example.org"));
    auto claims = verifyHs256(bodyJson(respond(s))["jwt"].get<std::string>(), kSecret, kNow);
    ASSERT_TRUE(claims.ok());
    EXPECT_EQ(claims->subject, core::hashedMemberIdentity(UserId("@alice:example.org"), DeviceId("ALICEDEV"),
                                                          MemberId("x<y"), core::JsonEscaping::Go));
    EXPECT_NE(claims->subject, core::hashedMemberIdentity(UserId("@alice:example.org"), DeviceId("ALICEDEV"),
                                                          MemberId("x<y"), core::JsonEscaping::Js));
}

TEST(HandlerTokens, EachRoomAndSlotGetsItsOwnAliasFromTheMemo) {
    Handler h(baseConfig());
    auto aliasOf = [&](const std::string& room, const std::string& slot) {
        std::string body = getTokenBody();
        body.replace(body.find("!room:example.org"), 17, room);
        body.replace(body.find("m.call#ROOM"), 11, slot);
        const auto s = run(h, post("/get_token", body), UserId("@alice:example.org"));
        return respond(s).outcome.liveKitRoom;
    };
    for (int round = 0; round < 2; ++round) {  // second round: served from the memo
        EXPECT_EQ(aliasOf("!a:x", "m.call#ROOM"),
                  core::liveKitRoomAlias(RoomId("!a:x"), SlotId("m.call#ROOM"), core::JsonEscaping::Go));
        EXPECT_EQ(aliasOf("!a:xm", ".call#ROOM"),
                  core::liveKitRoomAlias(RoomId("!a:xm"), SlotId(".call#ROOM"), core::JsonEscaping::Go));
        EXPECT_EQ(aliasOf("!b:x", "m.call#other"),
                  core::liveKitRoomAlias(RoomId("!b:x"), SlotId("m.call#other"), core::JsonEscaping::Go));
    }
}

TEST(HandlerTokens, SecondRequestWithSameTokenIsServedFromCache) {
    Handler h(baseConfig());
    ASSERT_EQ(
        respond(run(h, post("/get_token", getTokenBody()), UserId("@alice:example.org"))).response.status,
        200);
    const Step again = h.start(post("/get_token", getTokenBody()), kNow + Duration{1000});
    ASSERT_TRUE(again.done());
    EXPECT_EQ(respond(again).response.status, 200);
    EXPECT_TRUE(respond(again).outcome.cacheHit);
    // The cached identity still has to match each request's claimed user.
    expectUnauthorised(h.start(post("/get_token", getTokenBody("example.org", "@eve:example.org")), kNow),
                       "claimed_user_mismatch");
    // Same token claimed for another server: a different cache key, so it is verified again.
    EXPECT_FALSE(h.start(post("/get_token", getTokenBody("other.org", "@alice:other.org")), kNow).done());
    // After the TTL the token is verified again.
    EXPECT_FALSE(
        h.start(post("/get_token", getTokenBody()), kNow + h.config().cacheTtl + Duration{1}).done());
}

TEST(HandlerTokens, OverrideIsPassedToTheVerifier) {
    auto c = baseConfig();
    c.homeservers["localhost:8008"] = HomeserverOverride{"http://127.0.0.1:8008", VerifyVia::Client};
    Handler h(c);
    const Step s = h.start(post("/sfu/get", legacyBody("localhost:8008")), kNow);
    ASSERT_TRUE(std::holds_alternative<VerifyOpenId>(s.action));
    EXPECT_EQ(std::get<VerifyOpenId>(s.action).homeserver.baseUrl, "http://127.0.0.1:8008");
    EXPECT_EQ(std::get<VerifyOpenId>(s.action).homeserver.via, VerifyVia::Client);
}

TEST(HandlerTokens, FullAccessUsersGetTheRoomCreatedFirst) {
    Handler h(baseConfig());
    Step s = h.start(post("/get_token", getTokenBody("full.org", "@alice:full.org")), kNow);
    s = h.resume(std::move(s.flow), VerifyResult{UserId("@alice:full.org")}, kNow);
    ASSERT_TRUE(std::holds_alternative<Fetch>(s.action));
    const auto& req = std::get<Fetch>(s.action).request;
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url, "https://sfu.example.org/twirp/livekit.RoomService/CreateRoom");
    const std::string alias =
        core::liveKitRoomAlias(RoomId("!room:example.org"), SlotId("m.call#ROOM"), core::JsonEscaping::Go);
    EXPECT_EQ(req.body, encodeCreateRoomRequest(CreateRoomParams{alias}));
    const Step ok = h.resume(Flow(s.flow), FetchResult{200, "", ""}, kNow);
    EXPECT_EQ(respond(ok).response.status, 200);
    EXPECT_TRUE(respond(ok).outcome.roomCreated);
    EXPECT_TRUE(respond(ok).outcome.fullAccess);
    const Step failed = h.resume(Flow(s.flow), FetchResult{0, "", "connection refused"}, kNow);
    EXPECT_EQ(respond(failed).response.status, 500);
    EXPECT_EQ(bodyJson(respond(failed))["errcode"], "M_UNKNOWN");
    EXPECT_EQ(bodyJson(respond(failed))["error"], "Unable to create room on SFU");
    EXPECT_NE(respond(failed).outcome.detail.find("connection refused"), std::string::npos);
}

TEST(HandlerTokens, RoomCreationCanBeTurnedOff) {
    auto c = baseConfig();
    c.createRooms = false;
    Handler h(c);
    const Step s =
        run(h, post("/get_token", getTokenBody("full.org", "@alice:full.org")), UserId("@alice:full.org"));
    EXPECT_EQ(respond(s).response.status, 200);
    EXPECT_FALSE(respond(s).outcome.roomCreated);
}

TEST(HandlerTokens, WildcardMakesEveryoneFullAccess) {
    auto c = baseConfig();
    c.fullAccessHomeservers = {"*"};
    Handler h(c);
    Step s = h.start(post("/sfu/get", legacyBody()), kNow);
    s = h.resume(std::move(s.flow), VerifyResult{UserId("@alice:example.org")}, kNow);
    EXPECT_TRUE(std::holds_alternative<Fetch>(s.action));
}

// ---- membership check ------------------------------------------------------------------------

AuthConfig membershipConfig(bool failOpen = false) {
    auto c = baseConfig();
    c.membership.enabled = true;
    c.membership.homeserverUrl = "http://127.0.0.1:8008";
    c.membership.accessToken = Redacted<std::string>(std::string("svc"));
    c.membership.failOpen = failOpen;
    return c;
}

TEST(HandlerMembership, AsksTheHomeserverWithTheServiceAccount) {
    Handler h(membershipConfig());
    Step s = h.start(post("/sfu/get", legacyBody()), kNow);
    s = h.resume(std::move(s.flow), VerifyResult{UserId("@alice:example.org")}, kNow);
    ASSERT_TRUE(std::holds_alternative<Fetch>(s.action));
    const auto& req = std::get<Fetch>(s.action).request;
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.url,
              "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.member/"
              "%40alice%3Aexample.org");
    EXPECT_EQ(req.headers,
              (std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer svc"}}));
}

TEST(HandlerMembership, OutcomesMapToResponses) {
    Handler h(membershipConfig());
    EXPECT_EQ(respond(run(h, post("/sfu/get", legacyBody()), UserId("@alice:example.org"),
                          FetchResult{200, R"({"membership":"join"})", ""}))
                  .response.status,
              200);
    const auto left = run(h, post("/sfu/get", legacyBody()), UserId("@alice:example.org"),
                          FetchResult{200, R"({"membership":"leave"})", ""});
    EXPECT_EQ(respond(left).response.status, 403);
    EXPECT_EQ(bodyJson(respond(left))["errcode"], "M_FORBIDDEN");
    EXPECT_EQ(respond(run(h, post("/sfu/get", legacyBody()), UserId("@alice:example.org"),
                          FetchResult{404, "{}", ""}))
                  .response.status,
              403);
    const auto unknown =
        run(h, post("/sfu/get", legacyBody()), UserId("@alice:example.org"), FetchResult{403, "{}", ""});
    EXPECT_EQ(respond(unknown).response.status, 503);
    Handler open(membershipConfig(true));
    EXPECT_EQ(respond(run(open, post("/sfu/get", legacyBody()), UserId("@alice:example.org"),
                          FetchResult{0, "", "timeout"}))
                  .response.status,
              200);
}

}  // namespace
}  // namespace mxrtc::auth
