#include "mxrtc/auth/jwt.hpp"

#include <gtest/gtest.h>

#include "mxrtc/common/encoding.hpp"

namespace mxrtc::auth {
namespace {

const Redacted<std::string> kSecret{std::string("secret")};
constexpr TimePoint kNow = fromUnixMs(1'700'000'000'000);

// Spec §12.6 /sfu/get vector; the expected token was computed independently (Python hmac) from the
// payload layout that livekit/protocol (as pinned by lk-jwt-service) produces.
TEST(Jwt, JoinTokenMatchesLkJwtServiceBytes) {
    const auto claims = joinTokenClaims("devkey", "@alice:example.org:ALICEDEV",
                                        "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E", kNow);
    EXPECT_EQ(claimsPayloadJson(claims),
              R"({"iss":"devkey","sub":"@alice:example.org:ALICEDEV","exp":1700003600,"nbf":1700000000,)"
              R"("iat":1700000000,"identity":"@alice:example.org:ALICEDEV","video":{"roomJoin":true,)"
              R"("room":"TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E","canPublish":true,"canSubscribe":true,)"
              R"("canUpdateOwnMetadata":true}})");
    EXPECT_EQ(
        Hs256Signer(kSecret).sign(claims),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJkZXZrZXkiLCJzdWIiOiJAYWxpY2U6ZXhhbXBsZS5vcmc6QUxJQ0V"
        "ERVYiLCJleHAiOjE3MDAwMDM2MDAsIm5iZiI6MTcwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAwLCJpZGVudGl0eSI6IkBhbGljZTp"
        "leGFtcGxlLm9yZzpBTElDRURFViIsInZpZGVvIjp7InJvb21Kb2luIjp0cnVlLCJyb29tIjoiVEs0bzh3TkNYaTV0NTkzNmJPdkl"
        "6RS9YM1hGYzdjZ3AzakdSRHFLMGo1RSIsImNhblB1Ymxpc2giOnRydWUsImNhblN1YnNjcmliZSI6dHJ1ZSwiY2FuVXBkYXRlT3d"
        "uTWV0YWRhdGEiOnRydWV9fQ.RRgZHB79lKUxoQg2VMKEH3j-70CmmSjJ8AqAS2tkrhA");
}

// Tokens printed by a Go program linking github.com/livekit/protocol v1.48.1-0.20260624204523-bd5703442db6
// (lk-jwt-service's go.mod): getJoinToken()'s grant with identity "@alice:example.org:AL<I>&CE", and
// server-sdk-go's CreateRoom admin token, both signed with "secret" at Unix time 1795635070. Same
// claims + same time must give the same bytes, signature included.
TEST(Jwt, ByteIdenticalToLiveKitProtocolGoOutput) {
    constexpr TimePoint goNow = fromUnixMs(1'795'635'070'000);
    const Hs256Signer signer(kSecret);
    EXPECT_EQ(
        signer.sign(joinTokenClaims("devkey", "@alice:example.org:AL<I>&CE",
                                    "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E", goNow)),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJpc3MiOiJkZXZrZXkiLCJzdWIiOiJAYWxpY2U6ZXhhbXBsZS5vcmc6QUxcdTAw"
        "M2NJXHUwMDNlXHUwMDI2Q0UiLCJleHAiOjE3OTU2Mzg2NzAsIm5iZiI6MTc5NTYzNTA3MCwiaWF0IjoxNzk1NjM1MDcwLCJpZGVu"
        "dGl0"
        "eSI6IkBhbGljZTpleGFtcGxlLm9yZzpBTFx1MDAzY0lcdTAwM2VcdTAwMjZDRSIsInZpZGVvIjp7InJvb21Kb2luIjp0cnVlLCJy"
        "b29t"
        "IjoiVEs0bzh3TkNYaTV0NTkzNmJPdkl6RS9YM1hGYzdjZ3AzakdSRHFLMGo1RSIsImNhblB1Ymxpc2giOnRydWUsImNhblN1YnNj"
        "cmli"
        "ZSI6dHJ1ZSwiY2FuVXBkYXRlT3duTWV0YWRhdGEiOnRydWV9fQ.p8nLHTi6noXYxumWbuK8eJH83XDyDRfa-Lvke2rdz0M");
    EXPECT_EQ(signer.sign(roomCreateTokenClaims("devkey", goNow)),
              "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
              "eyJpc3MiOiJkZXZrZXkiLCJleHAiOjE3OTU2NTY2NzAsIm5iZiI6MTc5NTYzNTA3MCwi"
              "aWF0IjoxNzk1NjM1MDcwLCJ2aWRlbyI6eyJyb29tQ3JlYXRlIjp0cnVlfX0."
              "JKSe1lp7hm20c09k4k7aB3KzZDz9Wae9a19ivUsEhk8");
}

TEST(Jwt, JoinTokenHasNoRoomCreateNoNameAndOneHourValidity) {
    const auto c = joinTokenClaims("k", "id", "room", kNow);
    EXPECT_EQ(c.expiry - c.notBefore, 3600);
    EXPECT_EQ(c.issuedAt, c.notBefore);
    EXPECT_EQ(c.identity, c.subject);
    ASSERT_TRUE(c.video.has_value());
    EXPECT_FALSE(c.video->roomCreate);
    EXPECT_TRUE(c.name.empty());
    const auto payload = claimsPayloadJson(c);
    EXPECT_EQ(payload.find("roomCreate"), std::string::npos);
    EXPECT_EQ(payload.find("\"name\""), std::string::npos);
}

TEST(Jwt, PayloadEscapesIdentityLikeGo) {
    const auto c = joinTokenClaims("k", "@a<b>:x&y:DEV", "r", kNow);
    EXPECT_NE(claimsPayloadJson(c).find(R"("sub":"@a\u003cb\u003e:x\u0026y:DEV")"), std::string::npos);
}

TEST(Jwt, RoomCreateTokenIsWhatServerSdkSigns) {
    const auto c = roomCreateTokenClaims("devkey", kNow);
    EXPECT_EQ(
        claimsPayloadJson(c),
        R"({"iss":"devkey","exp":1700021600,"nbf":1700000000,"iat":1700000000,"video":{"roomCreate":true}})");
}

TEST(Jwt, VerifyRoundTripsClaims) {
    const auto c = joinTokenClaims("devkey", "@bob:example.org:DEV", "alias", kNow);
    const auto token = Hs256Signer(kSecret).sign(c);
    auto back = verifyHs256(token, kSecret, kNow + Duration{1000});
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, c);
}

TEST(Jwt, VerifyRejectsWrongSecretTamperingAndExpiry) {
    const auto token = Hs256Signer(kSecret).sign(joinTokenClaims("devkey", "id", "room", kNow));
    EXPECT_FALSE(verifyHs256(token, Redacted<std::string>(std::string("other")), kNow).ok());
    std::string tampered = token;
    tampered[tampered.find('.') + 5] ^= 1;
    EXPECT_FALSE(verifyHs256(tampered, kSecret, kNow).ok());
    EXPECT_FALSE(verifyHs256(token, kSecret, kNow + Duration{3'700'000}).ok());
    EXPECT_FALSE(verifyHs256(token, kSecret, kNow - Duration{120'000}).ok());
    EXPECT_FALSE(verifyHs256("a.b", kSecret, kNow).ok());
    EXPECT_FALSE(verifyHs256("a.b.c.d", kSecret, kNow).ok());
}

TEST(Jwt, VerifyRejectsAlgNone) {
    const std::string header =
        base64Encode(asBytes(R"({"alg":"none","typ":"JWT"})"), Base64Alphabet::Url, Base64Padding::Unpadded);
    const std::string payload =
        base64Encode(asBytes(R"({"exp":9999999999,"nbf":0})"), Base64Alphabet::Url, Base64Padding::Unpadded);
    EXPECT_FALSE(verifyHs256(header + "." + payload + ".", kSecret, kNow).ok());
}

TEST(Jwt, MacIsHmacSha256) {
    // RFC 4231 test case 2.
    const Hs256Signer signer(Redacted<std::string>(std::string("Jefe")));
    EXPECT_EQ(hexEncode(asBytes(signer.mac("what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// The hot path writes the join-token payload and signature directly; the bytes must be exactly
// those of the claims-based path (which the tests above pin to livekit/protocol's output).
TEST(Jwt, DirectJoinTokenPathIsByteIdenticalToTheClaimsPath) {
    const Hs256Signer signer(kSecret);
    struct Case {
        std::string key, identity, room;
        std::int64_t unixMs;
    };
    for (const auto& c : {Case{"devkey", "@alice:example.org:ALICEDEV",
                               "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E", 1'700'000'000'000},
                          Case{"k<&>", "id \"quoted\" \xe2\x80\xa8 <b>", "r\\oom", 1'795'635'070'999},
                          Case{"", "", "", 0}, Case{"devkey", "x", "", 1'000}}) {
        const auto now = fromUnixMs(c.unixMs);
        const auto claims = joinTokenClaims(c.key, c.identity, c.room, now);
        std::string payload = "prefix";
        appendJoinTokenPayload(payload, c.key, c.identity, c.room, now);
        EXPECT_EQ(payload, "prefix" + claimsPayloadJson(claims)) << c.identity;
        std::string token = "x";
        signer.appendToken(token, claimsPayloadJson(claims));
        EXPECT_EQ(token, "x" + signer.sign(claims)) << c.identity;
    }
}

}  // namespace
}  // namespace mxrtc::auth
