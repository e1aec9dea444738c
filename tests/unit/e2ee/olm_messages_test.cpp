#include "mxrtc/e2ee/olm_messages.hpp"

#include <gtest/gtest.h>

namespace mxrtc::e2ee {
namespace {

using Json = nlohmann::json;

const Curve25519Key kOurKey("OURCURVE");
const UserId kBob("@bob:example.org");
const UserId kAlice("@alice:example.org");
const OlmRecipient kUs{kBob, Ed25519Key("BOBED")};

Json envelope() {
    return Json::parse(R"({"algorithm": "m.olm.v1.curve25519-aes-sha2", "sender_key": "ALICECURVE",
        "ciphertext": {"OURCURVE": {"type": 0, "body": "Awog..."}, "OTHER": {"type": 1, "body": "x"}}})");
}

Json payload() {
    return Json::parse(R"({"type": "io.element.call.encryption_keys", "content": {"a": 1},
        "sender": "@alice:example.org", "sender_device": "ALICEDEV", "recipient": "@bob:example.org",
        "recipient_keys": {"ed25519": "BOBED"}, "keys": {"ed25519": "ALICEED"}})");
}

TEST(OlmEnvelope, PicksTheCiphertextAddressedToUs) {
    auto e = parseOlmEnvelope(envelope(), kOurKey);
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(e->senderKey, Curve25519Key("ALICECURVE"));
    EXPECT_EQ(e->type, OlmMessageType::PreKey);
    EXPECT_EQ(e->body, "Awog...");
    // Built and parsed back.
    auto built = buildOlmEnvelope(Curve25519Key("S"), kOurKey, OlmMessageType::Normal, "B");
    auto back = parseOlmEnvelope(built, kOurKey);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->type, OlmMessageType::Normal);
    EXPECT_EQ(built["algorithm"], "m.olm.v1.curve25519-aes-sha2");
}

TEST(OlmEnvelope, RejectsMalformedOrForeignMessagesNamingTheField) {
    struct Case {
        const char* pointer;
        Json value;
        const char* errcode;
    };
    const Case cases[] = {
        {"/algorithm", "m.megolm.v1.aes-sha2", errcode::kUnsupported},
        {"/algorithm", 5, errcode::kBadJson},
        {"/sender_key", "", errcode::kBadJson},
        {"/ciphertext", Json::array(), errcode::kBadJson},
        {"/ciphertext/OURCURVE/type", 2, errcode::kBadJson},
        {"/ciphertext/OURCURVE/type", "0", errcode::kBadJson},
        {"/ciphertext/OURCURVE/body", 7, errcode::kBadJson},
        {"/ciphertext/OURCURVE", "body", errcode::kBadJson},
    };
    for (const auto& c : cases) {
        Json e = envelope();
        e[Json::json_pointer(c.pointer)] = c.value;
        auto r = parseOlmEnvelope(e, kOurKey);
        ASSERT_FALSE(r.ok()) << c.pointer;
        EXPECT_EQ(r.error().errcode, c.errcode) << c.pointer << ": " << r.error().message;
    }
    Json notForUs = envelope();
    notForUs["ciphertext"].erase("OURCURVE");
    EXPECT_EQ(parseOlmEnvelope(notForUs, kOurKey).error().errcode, errcode::kNotFound);
    EXPECT_FALSE(parseOlmEnvelope(Json("x"), kOurKey).ok());
}

TEST(OlmPayload, AcceptsAPlaintextAddressedToUsFromTheEventSender) {
    auto p = parseOlmPayload(payload().dump(), kAlice, kUs);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->type, "io.element.call.encryption_keys");
    EXPECT_EQ(p->content, Json::parse(R"({"a": 1})"));
    EXPECT_EQ(p->senderEd25519, Ed25519Key("ALICEED"));
    ASSERT_TRUE(p->senderDevice.has_value());
    EXPECT_EQ(*p->senderDevice, DeviceId("ALICEDEV"));
    // What we build is what we accept.
    auto built = buildOlmPayload("t", Json::object(),
                                 {kAlice, DeviceId("ALICEDEV"), Ed25519Key("ALICEED"), kBob,
                                  Ed25519Key("BOBED"), Json{{"device_id", "ALICEDEV"}}});
    auto back = parseOlmPayload(built.dump(), kAlice, kUs);
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(back->senderDeviceKeys.has_value()) << "MSC4147 sender_device_keys carried";
    EXPECT_EQ((*back->senderDeviceKeys)["device_id"], "ALICEDEV");
    EXPECT_FALSE(p->senderDeviceKeys.has_value());
    Json old = payload();
    old.erase("sender_device");  // older clients do not send it
    auto p2 = parseOlmPayload(old.dump(), kAlice, kUs);
    ASSERT_TRUE(p2.ok());
    EXPECT_FALSE(p2->senderDevice.has_value());
}

TEST(OlmPayload, RejectsEveryMismatchWithTheEnvelopeOrWithUs) {
    struct Case {
        const char* pointer;
        Json value;
        const char* errcode;
    };
    const Case cases[] = {
        {"/sender", "@mallory:example.org", errcode::kForbidden},
        {"/recipient", "@carol:example.org", errcode::kForbidden},
        {"/recipient_keys/ed25519", "OTHERED", errcode::kForbidden},
        {"/keys/ed25519", 1, errcode::kBadJson},
        {"/keys", "ALICEED", errcode::kBadJson},
        {"/type", "", errcode::kBadJson},
        {"/content", "x", errcode::kBadJson},
        {"/sender_device", "", errcode::kBadJson},
        {"/sender_device", 3, errcode::kBadJson},
        {"/recipient", nullptr, errcode::kBadJson},
        {"/sender_device_keys", "keys", errcode::kBadJson},
    };
    for (const auto& c : cases) {
        Json p = payload();
        p[Json::json_pointer(c.pointer)] = c.value;
        auto r = parseOlmPayload(p.dump(), kAlice, kUs);
        ASSERT_FALSE(r.ok()) << c.pointer;
        EXPECT_EQ(r.error().errcode, c.errcode) << c.pointer << ": " << r.error().message;
    }
    for (const char* field : {"type", "content", "sender", "recipient", "recipient_keys", "keys"}) {
        Json p = payload();
        p.erase(field);
        EXPECT_FALSE(parseOlmPayload(p.dump(), kAlice, kUs).ok()) << field;
    }
    EXPECT_EQ(parseOlmPayload("{not json", kAlice, kUs).error().errcode, errcode::kNotJson);
    EXPECT_EQ(parseOlmPayload("[1]", kAlice, kUs).error().errcode, errcode::kBadJson);
}

TEST(MegolmMessages, EnvelopeAndPayloadRoundTripAndRoomIsChecked) {
    const RoomId room("!r:example.org");
    MegolmEnvelope e{Curve25519Key("SK"), MegolmSessionId("SID"), "CIPHER", DeviceId("DEV")};
    auto parsed = parseMegolmEnvelope(buildMegolmEnvelope(e));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->sessionId, MegolmSessionId("SID"));
    EXPECT_EQ(parsed->ciphertext, "CIPHER");
    Json noDevice = buildMegolmEnvelope(e);
    noDevice.erase("device_id");  // deprecated field: optional
    EXPECT_TRUE(parseMegolmEnvelope(noDevice).ok());
    Json olm = buildMegolmEnvelope(e);
    olm["algorithm"] = "m.olm.v1.curve25519-aes-sha2";
    EXPECT_EQ(parseMegolmEnvelope(olm).error().errcode, errcode::kUnsupported);

    const auto payload = buildMegolmPayload("m.room.message", Json{{"body", "hi"}}, room).dump();
    auto p = parseMegolmPayload(payload, room);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->type, "m.room.message");
    EXPECT_EQ(parseMegolmPayload(payload, RoomId("!other:example.org")).error().errcode, errcode::kForbidden);
}

TEST(RoomKey, RoundTripsAndNeedsEveryField) {
    RoomKey k{RoomId("!r:x"), MegolmSessionId("SID"), "SESSIONKEY"};
    const Json content = buildRoomKey(k);
    auto back = parseRoomKey(content);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->sessionKey, "SESSIONKEY");
    for (const char* field : {"algorithm", "room_id", "session_id", "session_key"}) {
        Json c = content;
        c.erase(field);
        EXPECT_FALSE(parseRoomKey(c).ok()) << field;
    }
}

TEST(DeviceKeys, ListedIdsMustMatchTheMapKeys) {
    const Json d = Json::parse(
        R"({"user_id": "@alice:x", "device_id": "DEV", "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": {"curve25519:DEV": "C", "ed25519:DEV": "E"}, "unsigned": {"device_display_name": "phone"}})");
    auto k = parseDeviceKeys(d, UserId("@alice:x"), DeviceId("DEV"));
    ASSERT_TRUE(k.ok()) << k.error().message;
    EXPECT_EQ(k->curve25519, Curve25519Key("C"));
    EXPECT_EQ(k->ed25519, Ed25519Key("E"));
    EXPECT_EQ(k->displayName, "phone");
    EXPECT_EQ(parseDeviceKeys(d, UserId("@mallory:x"), DeviceId("DEV")).error().errcode, errcode::kForbidden);
    EXPECT_EQ(parseDeviceKeys(d, UserId("@alice:x"), DeviceId("OTHER")).error().errcode, errcode::kForbidden);
    Json noCurve = d;
    noCurve["keys"].erase("curve25519:DEV");
    EXPECT_FALSE(parseDeviceKeys(noCurve, UserId("@alice:x"), DeviceId("DEV")).ok());
    Json wrongKeyId = d;
    wrongKeyId["keys"] = Json{{"curve25519:OTHER", "C"}, {"ed25519:DEV", "E"}};
    EXPECT_FALSE(parseDeviceKeys(wrongKeyId, UserId("@alice:x"), DeviceId("DEV")).ok());
    Json signedD = d;
    signedD["signatures"]["@alice:x"]["ed25519:DEV"] = "SIG";
    ASSERT_NE(findSignature(signedD, UserId("@alice:x"), "ed25519:DEV"), nullptr);
    EXPECT_EQ(*findSignature(signedD, UserId("@alice:x"), "ed25519:DEV"), "SIG");
    EXPECT_EQ(findSignature(signedD, UserId("@bob:x"), "ed25519:DEV"), nullptr);
}

TEST(ClaimedKey, ExactlyOneSignedCurve25519Key) {
    auto k = parseClaimedKey(Json::parse(R"({"signed_curve25519:AAAAAQ": {"key": "K", "signatures": {}}})"));
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->keyId, "signed_curve25519:AAAAAQ");
    EXPECT_FALSE(k->fallback);
    auto f = parseClaimedKey(Json::parse(R"({"signed_curve25519:F": {"key": "K", "fallback": true}})"));
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(f->fallback);
    EXPECT_EQ(parseClaimedKey(Json::parse(R"({"curve25519:AAAAAQ": "K"})")).error().errcode,
              errcode::kUnsupported);
    EXPECT_FALSE(parseClaimedKey(Json::parse(R"({})")).ok());
    EXPECT_FALSE(
        parseClaimedKey(
            Json::parse(R"({"signed_curve25519:A": {"key": "K"}, "signed_curve25519:B": {"key": "K"}})"))
            .ok());
    EXPECT_FALSE(parseClaimedKey(Json::parse(R"({"signed_curve25519:A": {"key": 1}})")).ok());
}

}  // namespace
}  // namespace mxrtc::e2ee
