// Olm to-device encryption between in-process devices: pre-key then normal messages, session
// reuse, unwedging, tampering, forgery and sender-device verification.
#include <gtest/gtest.h>

#include "mxrtc/e2ee/key_messages.hpp"
#include "olm_peers.hpp"

namespace mxrtc::olm::test {
namespace {

const Json kHello = {{"hello", "world"}};

Result<DecryptedToDevice> send(Peer& from, Peer& to, const Json& content = kHello,
                               std::string_view type = "m.test") {
    auto encrypted = from.machine->encryptToDevice(to.ref(), type, content);
    if (!encrypted) return encrypted.error();
    return to.machine->decryptToDevice(toDevice(from, *encrypted), kT0);
}

class OlmSession : public ::testing::Test {
  protected:
    void SetUp() override {
        learnKeys(bob, alice);  // bob knows alice's device (to verify her messages)
        introduce(alice, bob);  // alice claims one of bob's one-time keys
    }
    Peer alice{"@alice:example.org", "ALICEDEV"};
    Peer bob{"@bob:example.org", "BOBDEV"};
};

TEST_F(OlmSession, PreKeyMessageThenNormalMessagesBothWays) {
    auto c1 = alice.machine->encryptToDevice(bob.ref(), "io.element.call.encryption_keys", kHello);
    ASSERT_TRUE(c1.ok()) << c1.error().message;
    EXPECT_EQ((*c1)["algorithm"], "m.olm.v1.curve25519-aes-sha2");
    EXPECT_EQ((*c1)["sender_key"], alice.machine->identityKeys().curve25519.str());
    EXPECT_EQ(messageType(*c1, bob), 0) << "first message is a pre-key message";

    auto d1 = bob.machine->decryptToDevice(toDevice(alice, *c1), kT0);
    ASSERT_TRUE(d1.ok()) << d1.error().message;
    EXPECT_EQ(d1->type, "io.element.call.encryption_keys");
    EXPECT_EQ(d1->content, kHello);
    EXPECT_EQ(d1->sender, alice.user);
    EXPECT_TRUE(d1->verified());
    EXPECT_EQ(d1->senderDevice, alice.device);
    EXPECT_EQ(d1->senderKey, alice.machine->identityKeys().curve25519);
    EXPECT_EQ(d1->origin().senderDevice, alice.device);
    EXPECT_TRUE(d1->origin().encrypted);

    // Bob answers on the session alice's pre-key message created: a normal message.
    learnKeys(alice, bob);
    auto c2 = bob.machine->encryptToDevice(alice.ref(), "m.test", {{"n", 2}});
    ASSERT_TRUE(c2.ok());
    EXPECT_EQ(messageType(*c2, alice), 1);
    auto d2 = alice.machine->decryptToDevice(toDevice(bob, *c2), kT0);
    ASSERT_TRUE(d2.ok()) << d2.error().message;
    EXPECT_EQ(d2->content["n"], 2);
    EXPECT_EQ(d2->senderDevice, bob.device);

    // Now that alice has heard from bob, her messages are normal ones too.
    auto c3 = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"n", 3}});
    EXPECT_EQ(messageType(*c3, bob), 1);
    auto d3 = bob.machine->decryptToDevice(toDevice(alice, *c3), kT0);
    ASSERT_TRUE(d3.ok()) << d3.error().message;
    EXPECT_EQ(d3->content["n"], 3);
    EXPECT_EQ(alice.machine->sessionCount(bob.ref()), 1u);
    EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 1u);
}

TEST_F(OlmSession, SeveralPreKeyMessagesBeforeAnAnswerShareOneSession) {
    for (int i = 0; i < 3; ++i) {
        auto d = send(alice, bob, {{"i", i}});
        ASSERT_TRUE(d.ok()) << i << ": " << d.error().message;
        EXPECT_EQ(d->content["i"], i);
    }
    EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 1u) << "pre-key messages matched the inbound session";
}

TEST_F(OlmSession, OutOfOrderMessagesDecrypt) {
    ASSERT_TRUE(send(alice, bob).ok());
    auto m1 = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"i", 1}});
    auto m2 = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"i", 2}});
    auto d2 = bob.machine->decryptToDevice(toDevice(alice, *m2), kT0);
    auto d1 = bob.machine->decryptToDevice(toDevice(alice, *m1), kT0);
    ASSERT_TRUE(d1.ok() && d2.ok());
    EXPECT_EQ(d1->content["i"], 1);
    EXPECT_EQ(d2->content["i"], 2);
}

TEST_F(OlmSession, TheMostRecentlyUsedSessionIsReused) {
    // Both sides claimed a key at the same time: two sessions between the same devices.
    learnKeys(alice, bob);
    introduce(bob, alice);
    auto fromBob = bob.machine->encryptToDevice(alice.ref(), "m.test", {{"via", "bob's session"}});
    auto fromAlice = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"via", "alice's session"}});
    ASSERT_TRUE(alice.machine->decryptToDevice(toDevice(bob, *fromBob), kT0).ok());
    ASSERT_TRUE(bob.machine->decryptToDevice(toDevice(alice, *fromAlice), kT0).ok());
    EXPECT_EQ(alice.machine->sessionCount(bob.ref()), 2u);
    EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 2u);

    // Bob last decrypted on alice's session, so he answers on it; alice then uses it too.
    auto reply = bob.machine->encryptToDevice(alice.ref(), "m.test", kHello);
    EXPECT_EQ(messageType(*reply, alice), 1) << "an inbound session answers with normal messages";
    ASSERT_TRUE(alice.machine->decryptToDevice(toDevice(bob, *reply), kT0).ok());
    auto next = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello);
    EXPECT_EQ(messageType(*next, bob), 1);
    ASSERT_TRUE(bob.machine->decryptToDevice(toDevice(alice, *next), kT0).ok());
    EXPECT_EQ(alice.machine->sessionCount(bob.ref()), 2u) << "no new session was needed";
}

TEST_F(OlmSession, WedgedSessionIsReplacedAndAnnouncedWithDummy) {
    ASSERT_TRUE(send(alice, bob).ok());
    learnKeys(alice, bob);
    ASSERT_TRUE(send(bob, alice).ok());  // alice has now heard from bob: normal messages from here on
    // Bob loses his Olm sessions (e.g. a store restored from an old backup); the account survives.
    auto accounts = bob.store.load(PickleKind::Account);
    auto bobDevices = bob.store.load(PickleKind::Devices);
    MemoryPickleStore lost;
    ASSERT_TRUE(lost.write({{PickleKind::Account, (*accounts)[0].id, (*accounts)[0].value}}).ok());
    for (const auto& d : *bobDevices)
        ASSERT_TRUE(lost.write({{PickleKind::Devices, d.id, d.value}}).ok());
    auto lostBob = OlmMachine::open(bob.user, bob.device, bob.key, lost, systemRandom());
    ASSERT_TRUE(lostBob.ok());
    bob.machine = std::move(lostBob.value());

    auto normal = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello);
    ASSERT_EQ(messageType(*normal, bob), 1);
    auto failed = bob.machine->decryptToDevice(toDevice(alice, *normal), kT0);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().errcode, errcode::kDecryptFailed);
    EXPECT_EQ(bob.machine->devicesNeedingSession({alice.ref()}), std::vector<DeviceRef>{alice.ref()})
        << "the sender device is marked wedged";

    // Bob claims a fresh one-time key of alice's, and tells her with an m.dummy.
    auto claim = bob.machine->onKeysClaim(claimResponse({&alice}));
    EXPECT_EQ(claim.unwedged, std::vector<DeviceRef>{alice.ref()});
    EXPECT_TRUE(bob.machine->devicesNeedingSession({alice.ref()}).empty());
    auto dummy = bob.machine->encryptToDevice(alice.ref(), "m.dummy", Json::object());
    ASSERT_TRUE(dummy.ok());
    EXPECT_EQ(messageType(*dummy, alice), 0);
    auto gotDummy = alice.machine->decryptToDevice(toDevice(bob, *dummy), kT0);
    ASSERT_TRUE(gotDummy.ok()) << gotDummy.error().message;
    EXPECT_EQ(gotDummy->type, "m.dummy");

    // Alice's newest session is the new one: her next message reaches bob again.
    auto after = send(alice, bob, {{"back", true}});
    ASSERT_TRUE(after.ok()) << after.error().message;
    EXPECT_EQ(after->content["back"], true);
}

TEST_F(OlmSession, UnwedgingIsRateLimitedPerDevice) {
    ASSERT_TRUE(send(alice, bob).ok());
    // A normal message, claiming alice's curve key, that none of bob's sessions with her can read.
    Peer other("@x:example.org", "X");
    introduce(other, bob);
    ASSERT_TRUE(send(other, bob).ok());
    learnKeys(bob, other);
    ASSERT_TRUE(send(bob, other).ok());
    auto normalFromOther = other.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    Json forged = normalFromOther;
    forged["sender_key"] = alice.machine->identityKeys().curve25519.str();
    auto r1 = bob.machine->decryptToDevice(toDevice(alice, forged), kT0);
    ASSERT_FALSE(r1.ok());
    ASSERT_EQ(bob.machine->devicesNeedingSession({alice.ref()}).size(), 1u);
    bob.machine->onKeysClaim(claimResponse({&alice}));
    auto r2 = bob.machine->decryptToDevice(toDevice(alice, forged), kT0 + Duration{60'000});
    ASSERT_FALSE(r2.ok());
    EXPECT_TRUE(bob.machine->devicesNeedingSession({alice.ref()}).empty())
        << "at most one new session per hour";
    auto r3 = bob.machine->decryptToDevice(toDevice(alice, forged), kT0 + Duration{3'600'000});
    ASSERT_FALSE(r3.ok());
    EXPECT_EQ(bob.machine->devicesNeedingSession({alice.ref()}).size(), 1u);
}

TEST_F(OlmSession, TamperedCiphertextIsRejectedAndLeavesTheSessionUsable) {
    ASSERT_TRUE(send(alice, bob).ok());
    auto c = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    Json tampered = c;
    auto& body = tampered["ciphertext"][bob.machine->identityKeys().curve25519.str()]["body"];
    std::string b = body.get<std::string>();
    b[b.size() / 2] = b[b.size() / 2] == 'A' ? 'B' : 'A';
    body = b;
    auto bad = bob.machine->decryptToDevice(toDevice(alice, tampered), kT0);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().errcode, errcode::kDecryptFailed);
    auto good = bob.machine->decryptToDevice(toDevice(alice, c), kT0);
    ASSERT_TRUE(good.ok()) << "the failed attempt did not advance the ratchet: " << good.error().message;
}

TEST_F(OlmSession, TamperedPreKeyMessageCreatesNoSession) {
    auto c = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    Json tampered = c;
    auto& body = tampered["ciphertext"][bob.machine->identityKeys().curve25519.str()]["body"];
    std::string b = body.get<std::string>();
    b[b.size() - 10] = b[b.size() - 10] == 'A' ? 'B' : 'A';
    body = b;
    EXPECT_FALSE(bob.machine->decryptToDevice(toDevice(alice, tampered), kT0).ok());
    EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 0u);
    EXPECT_TRUE(bob.machine->decryptToDevice(toDevice(alice, c), kT0).ok())
        << "the one-time key is still there";
}

TEST_F(OlmSession, ReplayedMessageIsRejected) {
    auto c = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    ASSERT_TRUE(bob.machine->decryptToDevice(toDevice(alice, c), kT0).ok());
    auto again = bob.machine->decryptToDevice(toDevice(alice, c), kT0);
    ASSERT_FALSE(again.ok()) << "a message key is used once";
    auto c2 = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    ASSERT_TRUE(bob.machine->decryptToDevice(toDevice(alice, c2), kT0).ok());
    EXPECT_FALSE(bob.machine->decryptToDevice(toDevice(alice, c2), kT0).ok());
}

TEST_F(OlmSession, EnvelopeSenderMustBeThePlaintextSender) {
    auto c = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    Json event = toDevice(alice, c);
    event["sender"] = "@mallory:example.org";  // the server (or a bug) attributes it to someone else
    auto r = bob.machine->decryptToDevice(event, kT0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errcode, mxrtc::errcode::kForbidden);
}

TEST_F(OlmSession, MessageForAnotherUserWithOurKeysIsRejected) {
    // The same Olm account also registered as @carol (a confused or malicious server listing bob's
    // keys for carol): alice encrypts to "carol", bob receives it.
    MemoryPickleStore carolStore;
    auto acct = bob.store.load(PickleKind::Account).value();
    Json a = Json::parse(acct[0].value);
    a["user_id"] = "@carol:example.org";
    ASSERT_TRUE(carolStore.write({{PickleKind::Account, "account", a.dump()}}).ok());
    auto carol =
        OlmMachine::open(UserId("@carol:example.org"), bob.device, bob.key, carolStore, systemRandom());
    ASSERT_TRUE(carol.ok()) << carol.error().message;
    Json keys = (*carol)->deviceKeys();
    // One of bob's real one-time keys, signed as carol's (same ed25519 key).
    const Json bobOtk = bob.claimEntry();
    Json otks = Json::object();
    otks[bobOtk.begin().key()] = (*carol)->signJson({{"key", bobOtk.begin().value()["key"]}}).value();
    Json query = {{"device_keys", {{"@carol:example.org", {{bob.device.str(), keys}}}}}};
    ASSERT_EQ(alice.machine->onKeysQuery(query).accepted.size(), 1u);
    Json claim = Json::object();
    claim["one_time_keys"]["@carol:example.org"][bob.device.str()][otks.begin().key()] = otks.begin().value();
    ASSERT_EQ(alice.machine->onKeysClaim(claim).sessionsCreated.size(), 1u);
    auto c = alice.machine->encryptToDevice({UserId("@carol:example.org"), bob.device}, "m.test", kHello);
    ASSERT_TRUE(c.ok());
    // The ciphertext is addressed to bob's curve key, and bob's account holds that one-time key.
    auto r = bob.machine->decryptToDevice(toDevice(alice, *c), kT0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errcode, mxrtc::errcode::kForbidden);
    EXPECT_NE(r.error().message.find("recipient"), std::string::npos) << r.error().message;
}

TEST_F(OlmSession, ImpostorDeviceClaimingAnotherDeviceIdIsRejected) {
    // A second account that calls itself alice/ALICEDEV but has its own keys.
    Peer impostor("@alice:example.org", "ALICEDEV");
    introduce(impostor, bob);
    auto r = send(impostor, bob);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errcode, mxrtc::errcode::kForbidden);
    EXPECT_NE(r.error().message.find("sender_device"), std::string::npos) << r.error().message;
}

TEST_F(OlmSession, UnqueriedSenderIsVerifiedByItsIncludedDeviceKeys) {
    Peer dave("@dave:example.org", "DAVEDEV");
    introduce(dave, bob);
    auto r = send(dave, bob, kHello);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->senderDeviceKeys.has_value()) << "we send MSC4147 sender_device_keys";
    EXPECT_EQ(*r->senderDeviceKeys, dave.machine->deviceKeys());
    EXPECT_TRUE(r->verified()) << "bob never queried dave, the signed keys in the message suffice";
    EXPECT_EQ(r->senderDevice, dave.device);
}

TEST_F(OlmSession, SenderWithoutIncludedKeysIsUnverifiedUntilQueried) {
    Peer dave("@dave:example.org", "DAVEDEV");
    introduce(dave, bob);
    auto r = send(dave, bob, kHello);
    ASSERT_TRUE(r.ok());
    DecryptedToDevice old = *r;  // as from a client without MSC4147
    old.senderDeviceKeys.reset();
    old.senderDevice = DeviceId();
    EXPECT_EQ(bob.machine->verifySender(old).error().errcode, errcode::kUnknownDevice);
    EXPECT_TRUE(old.origin().senderDevice.empty());
    learnKeys(bob, dave);
    ASSERT_TRUE(bob.machine->verifySender(old).ok());
    EXPECT_EQ(old.senderDevice, dave.device);
}

TEST_F(OlmSession, ForgedIncludedDeviceKeysAreRejected) {
    Peer dave("@dave:example.org", "DAVEDEV");
    Peer eve("@dave:example.org", "EVEDEV");
    introduce(dave, bob);
    auto r = send(dave, bob, kHello);
    ASSERT_TRUE(r.ok());
    auto reset = [&](DecryptedToDevice d) {
        d.senderDevice = DeviceId();
        return d;
    };
    DecryptedToDevice tampered = reset(*r);
    (*tampered.senderDeviceKeys)["algorithms"].push_back("m.plaintext");
    EXPECT_EQ(bob.machine->verifySender(tampered).error().errcode, mxrtc::errcode::kForbidden)
        << "bad signature";
    DecryptedToDevice otherKeys = reset(*r);
    otherKeys.senderDeviceKeys = eve.machine->deviceKeys();  // validly signed, but not the Olm sender's keys
    otherKeys.claimedDevice.reset();
    EXPECT_EQ(bob.machine->verifySender(otherKeys).error().errcode, mxrtc::errcode::kForbidden);
    DecryptedToDevice otherUser = reset(*r);
    otherUser.sender = UserId("@mallory:example.org");
    EXPECT_EQ(bob.machine->verifySender(otherUser).error().errcode, mxrtc::errcode::kForbidden)
        << "dave's keys listed for mallory";
}

TEST_F(OlmSession, VerifySenderChecksTheClaimedKeysAgainstThePublishedDevice) {
    auto good = send(alice, bob);
    ASSERT_TRUE(good.ok());
    DecryptedToDevice forgedEd = *good;
    forgedEd.senderDevice = DeviceId();
    forgedEd.senderEd25519 = bob.machine->identityKeys().ed25519;
    EXPECT_EQ(bob.machine->verifySender(forgedEd).error().errcode, mxrtc::errcode::kForbidden);
    DecryptedToDevice otherDevice = *good;
    otherDevice.senderDevice = DeviceId();
    otherDevice.claimedDevice = DeviceId("ALICEPHONE");
    EXPECT_EQ(bob.machine->verifySender(otherDevice).error().errcode, mxrtc::errcode::kForbidden);
    DecryptedToDevice otherUser = *good;
    otherUser.senderDevice = DeviceId();
    otherUser.sender = UserId("@mallory:example.org");
    EXPECT_FALSE(bob.machine->verifySender(otherUser).ok()) << "alice's curve key is not mallory's";
}

TEST_F(OlmSession, VerifiedCallKeyMessageIsAcceptedPlaintextCopyIsRefused) {
    const RoomId room("!call:example.org");
    const e2ee::MediaKey key{3, Bytes(16, 0x42)};
    const Json content =
        e2ee::buildToDeviceKeyMessage(key, "@alice:example.org:ALICEDEV", alice.device, room, {}, kT0);
    auto d = send(alice, bob, content, e2ee::kEncryptionKeysType);
    ASSERT_TRUE(d.ok()) << d.error().message;
    auto accepted = e2ee::parseToDeviceKeyMessage(d->content, d->origin(), room, kT0);
    ASSERT_TRUE(accepted.ok()) << accepted.error().message;
    EXPECT_EQ(accepted->key.key, key.key);
    EXPECT_EQ(accepted->device, alice.device);

    auto plaintext = e2ee::parseToDeviceKeyMessage(content, {alice.user, false, DeviceId()}, room, kT0);
    EXPECT_EQ(plaintext.error().errcode, mxrtc::errcode::kForbidden);

    // Alice's device claims (inside the encrypted content) to be another device of hers.
    const Json lying = e2ee::buildToDeviceKeyMessage(key, "x", DeviceId("ALICEPHONE"), room, {}, kT0);
    auto d2 = send(alice, bob, lying, e2ee::kEncryptionKeysType);
    ASSERT_TRUE(d2.ok());
    EXPECT_EQ(e2ee::parseToDeviceKeyMessage(d2->content, d2->origin(), room, kT0).error().errcode,
              mxrtc::errcode::kForbidden);
}

TEST_F(OlmSession, EncryptNeedsAKnownDeviceAndASession) {
    Peer carol("@carol:example.org", "CAROLDEV");
    EXPECT_EQ(alice.machine->encryptToDevice(carol.ref(), "m.test", kHello).error().errcode,
              errcode::kUnknownDevice);
    learnKeys(alice, carol);
    EXPECT_EQ(alice.machine->encryptToDevice(carol.ref(), "m.test", kHello).error().errcode,
              errcode::kNoSession);
}

TEST_F(OlmSession, MalformedEventsAreErrorsNotCrashes) {
    EXPECT_FALSE(bob.machine->decryptToDevice(Json("x"), kT0).ok());
    EXPECT_FALSE(bob.machine->decryptToDevice({{"type", "m.room.encrypted"}}, kT0).ok());
    EXPECT_FALSE(
        bob.machine->decryptToDevice({{"type", "m.other"}, {"sender", "@a:x"}, {"content", {}}}, kT0).ok());
    Json c = alice.machine->encryptToDevice(bob.ref(), "m.test", kHello).value();
    c["ciphertext"][bob.machine->identityKeys().curve25519.str()]["body"] = "!!!not base64!!!";
    EXPECT_FALSE(bob.machine->decryptToDevice(toDevice(alice, c), kT0).ok());
    c["ciphertext"][bob.machine->identityKeys().curve25519.str()]["type"] = 1;
    EXPECT_FALSE(bob.machine->decryptToDevice(toDevice(alice, c), kT0).ok());
}

}  // namespace
}  // namespace mxrtc::olm::test
