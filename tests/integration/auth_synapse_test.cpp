// mxrtc-auth against the real world: the real binary on a free loopback port, real OpenID tokens
// from real users of the fixture's Synapse (cmake/Synapse.cmake), JWTs checked by
// livekit-server-sdk's TokenVerifier (interop/verify_jwt.mjs), and, when a livekit-server binary
// is installed (scripts/livekit/install.sh), room creation on a real LiveKit SFU.
#include "auth_it_support.hpp"

namespace {

using namespace mxrtc::auth_it;

// ---- tokens for real users ------------------------------------------------------------------

TEST_F(AuthWithSynapse, LegacySfuGetIssuesAJwtThatLiveKitsVerifierAccepts) {
    const User alice = registerUser("auth_alice");
    ASSERT_FALSE(alice.userId.empty());
    auto& auth = start(baseEnv());
    const auto token = openIdToken(alice);
    ASSERT_TRUE(token.contains("access_token")) << token.dump();

    const auto r = call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", token, "ALICEDEV"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
    const auto j = r.js();
    EXPECT_EQ(j["url"], "ws://127.0.0.1:7880");

    const auto verified = verifyWithNode(j["jwt"]);
    ASSERT_TRUE(verified.value("ok", false)) << verified.dump();
    const auto& claims = verified["claims"];
    EXPECT_EQ(claims["iss"], kKey);
    EXPECT_EQ(claims["sub"], alice.userId + ":ALICEDEV");
    EXPECT_EQ(claims["video"]["room"],
              mxrtc::core::liveKitRoomAlias(mxrtc::RoomId("!room:example.org"), mxrtc::SlotId("m.call#ROOM"),
                                            mxrtc::core::JsonEscaping::Go));
    EXPECT_EQ(claims["video"]["room"], "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E");  // spec §12.6
    EXPECT_EQ(claims["video"]["roomJoin"], true);
    EXPECT_EQ(claims["video"]["canPublish"], true);
    EXPECT_EQ(claims["video"]["canSubscribe"], true);
    EXPECT_EQ(claims["video"]["canUpdateOwnMetadata"], true);
    EXPECT_FALSE(claims["video"].contains("roomCreate"));
    EXPECT_EQ(claims["exp"].get<long>() - claims["nbf"].get<long>(), 3600);
    const long now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    EXPECT_NEAR(claims["nbf"].get<long>(), now, 30);

    // The same verifier with another secret refuses it.
    EXPECT_FALSE(verifyWithNode(j["jwt"], "not-the-secret").value("ok", true));
}

TEST_F(AuthWithSynapse, GetTokenUsesTheHashedMemberIdentity) {
    const User bob = registerUser("auth_bob");
    auto& auth = start(baseEnv());
    const auto r =
        call("POST", auth.url("/get_token"),
             getTokenBody("!call:example.org", openIdToken(bob), bob.userId, "BOBDEV", "member-1"));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto verified = verifyWithNode(r.js()["jwt"]);
    ASSERT_TRUE(verified.value("ok", false)) << verified.dump();
    EXPECT_EQ(verified["claims"]["sub"],
              mxrtc::core::hashedMemberIdentity(mxrtc::UserId(bob.userId), mxrtc::DeviceId("BOBDEV"),
                                                mxrtc::MemberId("member-1"), mxrtc::core::JsonEscaping::Go));
    EXPECT_EQ(verified["claims"]["video"]["room"],
              mxrtc::core::liveKitRoomAlias(mxrtc::RoomId("!call:example.org"), mxrtc::SlotId("m.call#ROOM"),
                                            mxrtc::core::JsonEscaping::Go));
}

TEST_F(AuthWithSynapse, VerifiedTokensAreCachedAndCounted) {
    const User carol = registerUser("auth_carol");
    auto& auth = start(baseEnv());
    const auto body = legacyBody("!room:example.org", openIdToken(carol), "CAROLDEV");
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(call("POST", auth.url("/sfu/get"), body).status, 200);
    const auto metrics = call("GET", auth.url("/metrics"));
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("mxrtc_auth_openid_cache_hits_total 2\n"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("mxrtc_auth_openid_verifications_total{outcome=\"ok\"} 1\n"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("mxrtc_auth_requests_total{endpoint=\"sfu_get\",status=\"200\"} 3\n"),
              std::string::npos);
}

TEST_F(AuthWithSynapse, ConcurrentRequestsWithOneTokenShareOneVerification) {
    const User kim = registerUser("auth_kim");
    auto& auth = start(baseEnv());
    const auto body = legacyBody("!room:example.org", openIdToken(kim), "KIMDEV");
    std::vector<std::thread> threads;
    std::vector<int> statuses(8);
    for (std::size_t i = 0; i < statuses.size(); ++i)
        threads.emplace_back([&, i] { statuses[i] = call("POST", auth.url("/sfu/get"), body).status; });
    for (auto& t : threads)
        t.join();
    for (int s : statuses)
        EXPECT_EQ(s, 200);
    const auto metrics = call("GET", auth.url("/metrics")).body;
    EXPECT_NE(metrics.find("mxrtc_auth_openid_verifications_total{outcome=\"ok\"} 1\n"), std::string::npos)
        << metrics;
}

// ---- rejections ------------------------------------------------------------------------------

TEST_F(AuthWithSynapse, ForgedTokenIsRejectedByTheHomeserver) {
    auto& auth = start(baseEnv());
    const json forged{{"access_token", "forged-token-that-synapse-never-issued"},
                      {"token_type", "Bearer"},
                      {"matrix_server_name", synapse().serverName},
                      {"expires_in", 3600}};
    expectUnauthorised(call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", forged, "DEV")),
                       "token_rejected");
    const auto metrics = call("GET", auth.url("/metrics"));
    EXPECT_NE(metrics.body.find("mxrtc_auth_errors_total{errcode=\"M_UNAUTHORIZED\"} 1\n"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("mxrtc_auth_openid_verifications_total{outcome=\"rejected\"} 1\n"),
              std::string::npos);
}

TEST_F(AuthWithSynapse, ExpiredTokenIsRejected) {
    const User dave = registerUser("auth_dave");
    auto token = openIdToken(dave);
    ASSERT_TRUE(token.contains("access_token"));
    // Age the token inside Synapse's own database: Synapse checks ts_valid_until_ms on every lookup.
    const std::string py =
        "import sqlite3,sys; db=sqlite3.connect(sys.argv[1], timeout=30); "
        "n=db.execute('UPDATE open_id_tokens SET ts_valid_until_ms=1 WHERE token=?', "
        "(sys.argv[2],)).rowcount; "
        "db.commit(); print(n)";
    const auto& env = synapse().env;
    const auto r =
        mxrtc::test::runWithInput(shellQuote(env.at("MXRTC_SYNAPSE_PYTHON")) + " -c " + shellQuote(py) + " " +
                                      shellQuote(env.at("MXRTC_SYNAPSE_STATE_DIR") + "/homeserver.db") + " " +
                                      shellQuote(token["access_token"].get<std::string>()),
                                  "");
    ASSERT_EQ(r.out, "1\n") << r.err;
    auto& auth = start(baseEnv());
    expectUnauthorised(call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", token, "DEV")),
                       "token_rejected");
}

TEST_F(AuthWithSynapse, TokenClaimedForAnotherServerIsRejected) {
    const User erin = registerUser("auth_erin");
    // "other.example.org" is routed to the same Synapse, which answers sub=@auth_erin:<its name>.
    auto env = baseEnv();
    env["MXRTC_AUTH_HOMESERVER_URLS"] += ",other.example.org=" + synapse().url;
    auto& auth = start(env);
    auto token = openIdToken(erin);
    token["matrix_server_name"] = "other.example.org";
    expectUnauthorised(call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", token, "DEV")),
                       "server_name_mismatch");
}

TEST_F(AuthWithSynapse, ClaimedUserMustMatchTheTokenOwner) {
    const User frank = registerUser("auth_frank");
    auto& auth = start(baseEnv());
    const auto r = call("POST", auth.url("/get_token"),
                        getTokenBody("!call:example.org", openIdToken(frank),
                                     "@someone_else:" + synapse().serverName, "DEV", "m"));
    expectUnauthorised(r, "claimed_user_mismatch");
}

TEST_F(AuthWithSynapse, LoopbackHomeserversAreRefusedUnlessAllowed) {
    const User gina = registerUser("auth_gina");
    auto env = baseEnv();
    env.erase("MXRTC_AUTH_HOMESERVER_URLS");  // discovery: https://localhost:<port> -> 127.0.0.1
    {
        auto& auth = start(env);
        expectUnauthorised(
            call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", openIdToken(gina), "DEV")),
            "refused_target");
        const auto logs = auth.logs();
        EXPECT_NE(logs.find("loopback address (SSRF policy)"), std::string::npos) << logs;
        // IP literals are policed without DNS too.
        auto token = openIdToken(gina);
        token["matrix_server_name"] = "127.0.0.1:" + synapse().env.at("MXRTC_SYNAPSE_PORT");
        expectUnauthorised(call("POST", auth.url("/sfu/get"), legacyBody("!r:x", token, "DEV")),
                           "refused_target");
        token["matrix_server_name"] = "169.254.169.254";
        expectUnauthorised(call("POST", auth.url("/sfu/get"), legacyBody("!r:x", token, "DEV")),
                           "refused_target");
    }
    // Allowed: discovery goes to https://localhost:<port>, which speaks plain HTTP: the TLS
    // handshake never completes, so the verification deadline ends it: unreachable, not refused.
    env["MXRTC_AUTH_ALLOW_LOOPBACK_TARGETS"] = "true";
    env["MXRTC_AUTH_VERIFY_TIMEOUT_MS"] = "800";
    auto& auth = start(env);
    expectUnauthorised(
        call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", openIdToken(gina), "DEV")),
        "homeserver_unreachable");
}

TEST_F(AuthWithSynapse, MalformedServerNamesNeverLeaveTheService) {
    auto& auth = start(baseEnv());
    for (const char* name : {"evil.example/path", "user@evil.example", "evil.example:99999"}) {
        const json token{{"access_token", "t"}, {"matrix_server_name", name}};
        expectUnauthorised(call("POST", auth.url("/sfu/get"), legacyBody("!r:x", token, "DEV")),
                           "invalid_server_name");
    }
}

// ---- the client-server API route (homeservers with federation off) ----------------------------

TEST_F(AuthWithSynapse, VerificationThroughTheClientServerApi) {
    const User hank = registerUser("auth_hank");
    auto env = baseEnv();
    env.erase("MXRTC_AUTH_HOMESERVER_URLS");
    env["MXRTC_AUTH_VERIFY_VIA"] = "client";
    env["LIVEKIT_CS_API_URL_OVERRIDES"] = synapse().serverName + "=" + synapse().url;
    auto& auth = start(env);
    const auto r =
        call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", openIdToken(hank), "HANKDEV"));
    ASSERT_EQ(r.status, 200) << r.body;
    auth.stop();  // flushes the buffered access log
    EXPECT_NE(auth.logs().find(synapse().url + "/_matrix/federation/v1/openid/userinfo"), std::string::npos);
}

// ---- optional room-membership check ----------------------------------------------------------

TEST_F(AuthWithSynapse, MembershipCheckUsesAServiceAccount) {
    const User owner = registerUser("auth_owner");
    const User bot = registerUser("auth_bot");
    const User outsider = registerUser("auth_outsider");
    const auto bearer = [](const User& u) {
        return mxrtc::net::Headers{{"Authorization", "Bearer " + u.accessToken}};
    };
    // owner creates a room and invites the bot, which joins; outsider never joins.
    const auto created =
        call("POST", synapse().url + "/_matrix/client/v3/createRoom",
             json{{"preset", "private_chat"}, {"invite", {bot.userId}}}.dump(), bearer(owner));
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string roomId = created.js()["room_id"];
    ASSERT_EQ(
        call("POST", synapse().url + "/_matrix/client/v3/rooms/" + mxrtc::net::urlEncode(roomId) + "/join",
             "{}", bearer(bot))
            .status,
        200);
    const auto otherRoom =
        call("POST", synapse().url + "/_matrix/client/v3/createRoom", "{}", bearer(outsider));
    ASSERT_EQ(otherRoom.status, 200);

    auto env = baseEnv();
    env["MXRTC_AUTH_MEMBERSHIP_CHECK_URL"] = synapse().url;
    env["MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN"] = bot.accessToken;
    auto& auth = start(env);
    EXPECT_EQ(call("POST", auth.url("/sfu/get"), legacyBody(roomId, openIdToken(owner), "OWNERDEV")).status,
              200);
    const auto refused =
        call("POST", auth.url("/sfu/get"), legacyBody(roomId, openIdToken(outsider), "OUTDEV"));
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.js().value("errcode", ""), "M_FORBIDDEN");
    // A room the service account cannot see: fail closed.
    const auto unknown =
        call("POST", auth.url("/sfu/get"), legacyBody(otherRoom.js()["room_id"], openIdToken(outsider), "D"));
    EXPECT_EQ(unknown.status, 503) << unknown.body;
    auth.stop();
    EXPECT_EQ(auth.logs().find(bot.accessToken), std::string::npos) << "service token leaked into the logs";
}

// ---- HTTP surface ----------------------------------------------------------------------------

// Spec §12.6 over the wire.
TEST_F(AuthWithSynapse, HttpSurfaceMatchesLkJwtService) {
    auto& auth = start(baseEnv());
    EXPECT_EQ(call("GET", auth.url("/get_token")).status, 405);
    const auto options = call("OPTIONS", auth.url("/get_token"));
    EXPECT_EQ(options.status, 200);
    EXPECT_EQ(options.header("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(options.header("Access-Control-Allow-Methods"), "POST");
    EXPECT_EQ(call("HEAD", auth.url("/healthz")).status, 200);
    EXPECT_EQ(call("GET", auth.url("/healthz")).status, 200);
    EXPECT_EQ(call("GET", auth.url("/nope")).status, 404);
    const auto extra =
        call("POST", auth.url("/get_token"), R"({"room_id":"!r:x","slot_id":"m.call#ROOM","device_id":"X"})");
    EXPECT_EQ(extra.status, 400);
    EXPECT_EQ(extra.js().value("errcode", ""), "M_NOT_JSON");
    const auto big = call("POST", auth.url("/sfu/get"), "{\"room\":\"" + std::string(200'000, 'x') + "\"}");
    EXPECT_EQ(big.status, 413);
}

TEST_F(AuthWithSynapse, CorsCanBeSwitchedOffForProxiesThatAddIt) {
    auto& auth = start(baseEnv(), {"--no-cors"});
    const auto options = call("OPTIONS", auth.url("/sfu/get"));
    EXPECT_EQ(options.status, 200);
    EXPECT_FALSE(options.header("Access-Control-Allow-Origin").has_value());
}

TEST_F(AuthWithSynapse, SlowAndIdleClientsAreCutOff) {
    const auto config =
        fs::temp_directory_path() / ("mxrtc-auth-timeouts-" + std::to_string(::getpid()) + ".json");
    std::ofstream(config) << R"({"listen": {"request_timeout_ms": 300, "idle_timeout_ms": 300}})";
    auto& auth = start(baseEnv(), {"--config", config.string()});
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(auth.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string partial = "POST /sfu/get HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"room\"";
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
    const auto t0 = std::chrono::steady_clock::now();
    char buf[256];
    const auto n = ::recv(fd, buf, sizeof buf, 0);  // blocks until the server closes
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(n, 0);
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 2000ms);
    ::close(fd);
    fs::remove(config);
}

TEST_F(AuthWithSynapse, PerClientRateLimit) {
    auto env = baseEnv();
    env["MXRTC_AUTH_RATE_LIMIT"] = "1/3";
    auto& auth = start(env);
    int limited = 0;
    Http last;
    for (int i = 0; i < 6; ++i) {
        auto r = call("POST", auth.url("/sfu/get"), "{}");
        if (r.status == 429) ++limited, last = r;
    }
    EXPECT_GE(limited, 2);
    EXPECT_EQ(last.js().value("errcode", ""), "M_LIMIT_EXCEEDED");
    EXPECT_GT(last.js().value("retry_after_ms", 0), 0);
    EXPECT_TRUE(last.header("Retry-After").has_value());
    EXPECT_EQ(call("GET", auth.url("/healthz")).status, 200);  // health checks are never limited
}

TEST_F(AuthWithSynapse, LogsAreJsonLinesWithoutSecrets) {
    const User ivy = registerUser("auth_ivy");
    auto& auth = start(baseEnv());
    const auto token = openIdToken(ivy);
    const auto r = call("POST", auth.url("/sfu/get"), legacyBody("!room:example.org", token, "IVYDEV"));
    ASSERT_EQ(r.status, 200);
    const std::string jwt = r.js()["jwt"];
    EXPECT_EQ(auth.stop(), 0);
    const auto logs = auth.logs();
    EXPECT_EQ(logs.find(token["access_token"].get<std::string>()), std::string::npos);
    EXPECT_EQ(logs.find(jwt), std::string::npos);
    EXPECT_EQ(logs.find(jwt.substr(jwt.rfind('.') + 1)), std::string::npos);  // not even the signature
    EXPECT_EQ(logs.find(kSecret), std::string::npos);
    std::istringstream lines(logs);
    std::string line;
    int count = 0, requests = 0;
    while (std::getline(lines, line)) {
        const auto j = json::parse(line, nullptr, false);
        ASSERT_TRUE(j.is_object()) << line;
        ASSERT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << line;
        ++count;
        if (j["msg"] == "request") {
            ++requests;
            EXPECT_EQ(j["user"], ivy.userId);
            EXPECT_EQ(j["status"], 200);
            EXPECT_TRUE(j.contains("request_id"));
            EXPECT_TRUE(j.contains("latency_ms"));
        }
    }
    EXPECT_EQ(requests, 1);
    EXPECT_GE(count, 3);  // listening, request, shutting down
}

TEST_F(AuthWithSynapse, BadConfigurationIsOneLineAndExitStatus2) {
    auto env = baseEnv();
    env.erase("LIVEKIT_FULL_ACCESS_HOMESERVERS");
    AuthProcess p(env, {});
    EXPECT_EQ(p.port(), 0);
    EXPECT_EQ(p.stop(), 2);
    const auto logs = p.logs();
    EXPECT_EQ(std::count(logs.begin(), logs.end(), '\n'), 1) << logs;
    EXPECT_NE(logs.find("LIVEKIT_FULL_ACCESS_HOMESERVERS"), std::string::npos) << logs;
}

// ---- LiveKit room creation (real SFU when available) -----------------------------------------

TEST_F(AuthWithSynapse, FullAccessUsersGetTheRoomCreatedOnARealLiveKit) {
    const std::string lk = MXRTC_LIVEKIT_SERVER;
    if (lk.empty() || !fs::exists(lk)) GTEST_SKIP() << "no livekit-server (scripts/livekit/install.sh)";
    const User judy = registerUser("auth_judy");
    // Free ports for LiveKit: ask the kernel, then release.
    std::random_device rd;
    const int lkPort = 20000 + static_cast<int>(rd() % 20000);
    const fs::path dir = fs::temp_directory_path() / ("mxrtc-lk-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "lk.yaml") << "port: " << lkPort << "\nbind_addresses: [127.0.0.1]\n"
                                   << "rtc: {udp_port: " << lkPort + 2
                                   << ", tcp_port: 0, node_ip: 127.0.0.1, use_external_ip: false}\n"
                                   << "keys: {" << kKey << ": " << kSecret
                                   << "}\nroom: {auto_create: false}\n";
    const std::string cmd = shellQuote(lk) + " --config " + shellQuote((dir / "lk.yaml").string()) + " > " +
                            shellQuote((dir / "lk.log").string()) + " 2>&1 & echo $!";
    const auto started = mxrtc::test::runWithInput(cmd, "");
    const pid_t lkPid = std::stoi(started.out);
    const std::string lkHttp = "http://127.0.0.1:" + std::to_string(lkPort);
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
        up = call("GET", lkHttp + "/").status == 200;
        if (!up) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(up) << readWholeFile(dir / "lk.log");

    auto env = baseEnv(synapse().serverName);
    env["LIVEKIT_URL"] = "ws://127.0.0.1:" + std::to_string(lkPort);
    auto& auth = start(env);
    const auto r =
        call("POST", auth.url("/get_token"),
             getTokenBody("!lkroom:example.org", openIdToken(judy), judy.userId, "JUDYDEV", "m-1"));
    EXPECT_EQ(r.status, 200) << r.body;

    // Ask LiveKit itself which rooms exist (Twirp JSON, token with roomList).
    mxrtc::auth::AccessTokenClaims admin = mxrtc::auth::roomCreateTokenClaims(
        kKey, std::chrono::time_point_cast<mxrtc::Duration>(std::chrono::system_clock::now()));
    admin.video->roomCreate = false;
    admin.video->roomList = true;
    const auto jwt = mxrtc::auth::Hs256Signer(mxrtc::Redacted<std::string>(std::string(kSecret))).sign(admin);
    const auto rooms = call("POST", lkHttp + "/twirp/livekit.RoomService/ListRooms", "{}",
                            {{"Authorization", "Bearer " + jwt}});
    EXPECT_EQ(rooms.status, 200) << rooms.body;
    const std::string alias = mxrtc::core::liveKitRoomAlias(
        mxrtc::RoomId("!lkroom:example.org"), mxrtc::SlotId("m.call#ROOM"), mxrtc::core::JsonEscaping::Go);
    bool found = false;
    for (const auto& room : rooms.js().value("rooms", json::array()))
        if (room.value("name", "") == alias) {
            found = true;
            EXPECT_EQ(room.value("empty_timeout", room.value("emptyTimeout", 0)), 300) << room.dump();
            EXPECT_EQ(room.value("departure_timeout", room.value("departureTimeout", 0)), 20) << room.dump();
        }
    EXPECT_TRUE(found) << rooms.body;

    // LiveKit gone: the full-access path fails like lk-jwt-service.
    ::kill(lkPid, SIGTERM);
    for (int i = 0; i < 100 && ::kill(lkPid, 0) == 0; ++i)
        std::this_thread::sleep_for(50ms);
    const auto down =
        call("POST", auth.url("/get_token"),
             getTokenBody("!lkroom2:example.org", openIdToken(judy), judy.userId, "JUDYDEV", "m-2"));
    EXPECT_EQ(down.status, 500) << down.body;
    EXPECT_EQ(down.js().value("error", ""), "Unable to create room on SFU");
    fs::remove_all(dir);
}

}  // namespace
