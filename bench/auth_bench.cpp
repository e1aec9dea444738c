// mxrtc-auth hot path without I/O: the pure Handler answering token requests whose OpenID token
// is already in the verified-token cache (the steady state under load), plus its parts.
// End-to-end HTTP figures (wrk over loopback): bench/auth_load.sh.
#include <benchmark/benchmark.h>

#include "mxrtc/auth/handler.hpp"
#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/auth/requests.hpp"
#include "mxrtc/auth/token_cache.hpp"

namespace {

using namespace mxrtc;
using namespace mxrtc::auth;

constexpr TimePoint kNow = fromUnixMs(1'700'000'000'000);

AuthConfig benchConfig() {
    AuthConfig c;
    c.liveKitUrl = "wss://sfu.example.org";
    c.liveKitKey = "devkey";
    c.liveKitSecret = Redacted<std::string>(std::string("secretsecretsecretsecretsecretsecret"));
    c.fullAccessHomeservers = {"other.org"};
    return c;
}

const std::string kLegacyBody =
    R"({"room":"!room:example.org","openid_token":{"access_token":"tcBrUyabOsTGYwaZcVsvSiCK","token_type":"Bearer",)"
    R"("matrix_server_name":"example.org","expires_in":3600},"device_id":"ALICEDEV"})";
const std::string kGetTokenBody =
    R"({"room_id":"!room:example.org","slot_id":"m.call#ROOM","openid_token":{"access_token":"tcBrUyabOsTGYwaZcVsvSiCK",)"
    R"("token_type":"Bearer","matrix_server_name":"example.org","expires_in":3600},)"
    R"("member":{"id":"8f6c1b2a-0d7e-4c55-9a3e-2b1f0e9d4c11","claimed_user_id":"@alice:example.org","claimed_device_id":"ALICEDEV"}})";

// Warm the cache by running one request through verification.
void warm(Handler& h, const std::string& path, const std::string& body) {
    Step s = h.start(IncomingRequest{"POST", path, body, "127.0.0.1", ""}, kNow);
    if (std::holds_alternative<VerifyOpenId>(s.action))
        s = h.resume(std::move(s.flow), VerifyResult{UserId("@alice:example.org")}, kNow);
}

void runWarm(benchmark::State& state, const std::string& path, const std::string& body) {
    Handler h(benchConfig());
    warm(h, path, body);
    const IncomingRequest req{"POST", path, body, "127.0.0.1", ""};
    for (auto _ : state) {
        Step s = h.start(req, kNow);
        if (!s.done()) state.SkipWithError("cache was not warm");
        benchmark::DoNotOptimize(s);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_HandlerSfuGetWarmCache(benchmark::State& state) {
    runWarm(state, "/sfu/get", kLegacyBody);
}
BENCHMARK(BM_HandlerSfuGetWarmCache);

void BM_HandlerGetTokenWarmCache(benchmark::State& state) {
    runWarm(state, "/get_token", kGetTokenBody);
}
BENCHMARK(BM_HandlerGetTokenWarmCache);

void BM_HandlerRejectsNotJson(benchmark::State& state) {
    Handler h(benchConfig());
    const std::string body = kGetTokenBody.substr(0, kGetTokenBody.size() - 3);
    const IncomingRequest req{"POST", "/get_token", body, "127.0.0.1", ""};
    for (auto _ : state)
        benchmark::DoNotOptimize(h.start(req, kNow));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandlerRejectsNotJson);

void BM_ParseGetTokenRequest(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(parseGetTokenRequest(kGetTokenBody));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseGetTokenRequest);

void BM_SignJoinToken(benchmark::State& state) {
    const Hs256Signer signer(benchConfig().liveKitSecret);
    const auto claims = joinTokenClaims("devkey", "Vh8URMYNjqyx51ju6pf8zHfOzU8YmM1VTsV7wyGOqTM",
                                        "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E", kNow);
    for (auto _ : state)
        benchmark::DoNotOptimize(signer.sign(claims));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignJoinToken);

void BM_TokenCacheHit(benchmark::State& state) {
    VerifiedTokenCache cache(100'000, Duration{300'000});
    for (int i = 0; i < 100'000; ++i)
        cache.insert(VerifiedTokenCache::keyFor("example.org", "tok" + std::to_string(i)),
                     UserId("@u:example.org"), kNow);
    int i = 0;
    for (auto _ : state) {
        const auto key = VerifiedTokenCache::keyFor("example.org", "tok" + std::to_string(i++ % 100'000));
        benchmark::DoNotOptimize(cache.find(key, kNow));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenCacheHit);

}  // namespace
