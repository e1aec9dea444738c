#include "mxrtc/auth/webhook.hpp"

#include <gtest/gtest.h>

#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/common/encoding.hpp"

namespace mxrtc::auth {
namespace {

const Redacted<std::string> kSecret{std::string("webhook-secret")};
constexpr TimePoint kNow = fromUnixMs(1'700'000'000'000);

// What livekit-server sends for a participant leaving (protojson, abridged).
const std::string kLeftBody =
    R"({"event":"participant_left","room":{"sid":"RM_x","name":"lkroom","emptyTimeout":300},)"
    R"("participant":{"sid":"PA_y","identity":"alice-id","state":"DISCONNECTED","disconnectReason":"CLIENT_INITIATED"},)"
    R"("id":"EV_z","createdAt":"1700000000"})";

// The Authorization header LiveKit's webhook notifier writes for `body`.
std::string signedHeader(const std::string& body, const std::string& key = "devkey",
                         const Redacted<std::string>& secret = kSecret, TimePoint now = kNow) {
    AccessTokenClaims c;
    c.issuer = key;
    c.notBefore = toUnixMs(now) / 1000;
    c.expiry = c.notBefore + 300;
    c.sha256 = base64Encode(sha256(body));
    return Hs256Signer(secret).sign(c);
}

TEST(Webhook, SignedByLiveKitsKeyIsAccepted) {
    EXPECT_TRUE(verifyWebhookAuthorization(signedHeader(kLeftBody), kLeftBody, "devkey", kSecret, kNow));
    EXPECT_TRUE(
        verifyWebhookAuthorization("Bearer " + signedHeader(kLeftBody), kLeftBody, "devkey", kSecret, kNow));
}

TEST(Webhook, ForgedOrMismatchedSignaturesAreRefused) {
    const auto header = signedHeader(kLeftBody);
    auto refused = [](const Result<void>& r, std::string_view what) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().errcode, "M_UNAUTHORIZED");
        EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
    };
    refused(verifyWebhookAuthorization("", kLeftBody, "devkey", kSecret, kNow), "without Authorization");
    refused(verifyWebhookAuthorization(header, kLeftBody + " ", "devkey", kSecret, kNow), "sha256");
    refused(verifyWebhookAuthorization(header, kLeftBody, "otherkey", kSecret, kNow), "issuer");
    refused(
        verifyWebhookAuthorization(signedHeader(kLeftBody, "devkey", Redacted<std::string>(std::string("x"))),
                                   kLeftBody, "devkey", kSecret, kNow),
        "signature");
    refused(verifyWebhookAuthorization(header, kLeftBody, "devkey", kSecret, kNow + Duration{3'600'000}),
            "expired");
    refused(verifyWebhookAuthorization("a.b", kLeftBody, "devkey", kSecret, kNow), "three parts");
    // A token without the sha256 claim (e.g. a join token) does not sign any body.
    AccessTokenClaims c = joinTokenClaims("devkey", "alice", "room", kNow);
    refused(verifyWebhookAuthorization(Hs256Signer(kSecret).sign(c), kLeftBody, "devkey", kSecret, kNow),
            "sha256");
    // Wrong JSON types in the header never throw.
    refused(
        verifyWebhookAuthorization(
            base64Encode(asBytes(R"({"alg":5})"), Base64Alphabet::Url, Base64Padding::Unpadded) + ".e30.AAAA",
            kLeftBody, "devkey", kSecret, kNow),
        "alg");
}

struct EventCase {
    std::string body;
    std::optional<SfuEvent> expected;
};

class WebhookEvents : public ::testing::TestWithParam<EventCase> {};

TEST_P(WebhookEvents, DecodeToTheEventsDelegationActsOn) {
    const auto r = parseWebhookEvent(GetParam().body);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    LiveKit, WebhookEvents,
    ::testing::Values(
        EventCase{kLeftBody, SfuEvent{SfuEvent::Kind::ParticipantLeft, {"lkroom", "alice-id"}}},
        EventCase{R"({"event":"participant_joined","room":{"name":"r"},"participant":{"identity":"i"}})",
                  SfuEvent{SfuEvent::Kind::ParticipantJoined, {"r", "i"}}},
        EventCase{
            R"({"event":"participant_connection_aborted","room":{"name":"r"},"participant":{"identity":"i"}})",
            SfuEvent{SfuEvent::Kind::ParticipantLeft, {"r", "i"}}},
        EventCase{R"({"event":"room_finished","room":{"name":"r"}})",
                  SfuEvent{SfuEvent::Kind::RoomFinished, {"r", ""}}},
        EventCase{R"({"event":"room_started","room":{"name":"r"}})", std::nullopt},
        EventCase{R"({"event":"track_published","room":{"name":"r"},"participant":{"identity":"i"}})",
                  std::nullopt}));

TEST(Webhook, MalformedEventsAreBadJson) {
    for (const char* body :
         {"", "[]", "{}", R"({"event":7})", R"({"event":"participant_left"})",
          R"({"event":"participant_left","room":{"name":"r"}})",
          R"({"event":"participant_left","room":{"name":"r"},"participant":{"identity":5}})",
          R"({"event":"room_finished","room":{"name":""}})"}) {
        const auto r = parseWebhookEvent(body);
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().errcode, "M_BAD_JSON") << body;
    }
}

}  // namespace
}  // namespace mxrtc::auth
