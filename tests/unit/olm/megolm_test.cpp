// Megolm room events: room key sharing over Olm, encrypt/decrypt, replay detection, rotation.
#include <gtest/gtest.h>

#include "olm_peers.hpp"

namespace mxrtc::olm::test {
namespace {

const RoomId kRoom("!room:example.org");

class Megolm : public ::testing::Test {
  protected:
    void SetUp() override {
        for (Peer* p : {&bob, &carol}) {
            learnKeys(*p, alice);
            introduce(alice, *p);
        }
    }
    // Alice shares her room key with whoever needs it; they import it.
    RoomKeyShare share(const std::vector<DeviceRef>& members, TimePoint now = kT0) {
        auto s = alice.machine->prepareRoomKey(kRoom, members, now);
        MXRTC_ASSERT(s.ok(), "prepareRoomKey");
        for (const auto& r : s->recipients) {
            Peer& to = r == bob.ref() ? bob : carol;
            auto c = alice.machine->encryptToDevice(r, "m.room_key", s->roomKeyContent);
            MXRTC_ASSERT(c.ok(), "encrypt m.room_key");
            auto d = to.machine->decryptToDevice(toDevice(alice, *c), now);
            MXRTC_ASSERT(d.ok(), "decrypt m.room_key");
            EXPECT_TRUE(to.machine->importRoomKey(*d).ok());
        }
        MXRTC_ASSERT(alice.machine->markRoomKeyShared(kRoom, s->sessionId, s->recipients).ok(), "mark");
        return *s;
    }
    Json roomEvent(const Json& content, const std::string& eventId, std::int64_t ts = 1) {
        return {{"type", "m.room.encrypted"},
                {"sender", alice.user.str()},
                {"event_id", eventId},
                {"origin_server_ts", ts},
                {"content", content}};
    }
    Peer alice{"@alice:example.org", "ALICEDEV"};
    Peer bob{"@bob:example.org", "BOBDEV"};
    Peer carol{"@carol:example.org", "CAROLDEV"};
};

TEST_F(Megolm, SharedRoomKeyDecryptsRoomEventsWithIncreasingIndex) {
    auto s = share({bob.ref(), alice.ref()});
    EXPECT_TRUE(s.rotated);
    EXPECT_EQ(s.recipients, std::vector<DeviceRef>{bob.ref()}) << "never ourselves";
    EXPECT_EQ(s.roomKeyContent["algorithm"], "m.megolm.v1.aes-sha2");
    EXPECT_EQ(s.roomKeyContent["room_id"], kRoom.str());

    for (std::uint32_t i = 0; i < 3; ++i) {
        auto c = alice.machine->encryptRoomEvent(kRoom, "io.element.call.encryption_keys", {{"i", i}});
        ASSERT_TRUE(c.ok());
        EXPECT_EQ((*c)["algorithm"], "m.megolm.v1.aes-sha2");
        EXPECT_EQ((*c)["session_id"], s.sessionId.str());
        EXPECT_EQ((*c)["device_id"], "ALICEDEV");
        auto d = bob.machine->decryptRoomEvent(kRoom, roomEvent(*c, "$e" + std::to_string(i)));
        ASSERT_TRUE(d.ok()) << d.error().message;
        EXPECT_EQ(d->type, "io.element.call.encryption_keys");
        EXPECT_EQ(d->content["i"], i);
        EXPECT_EQ(d->messageIndex, i);
        EXPECT_EQ(d->sender, alice.user);
        EXPECT_EQ(d->senderDevice, alice.device);
        // Alice reads her own events too.
        EXPECT_TRUE(alice.machine->decryptRoomEvent(kRoom, roomEvent(*c, "$e" + std::to_string(i))).ok());
    }
}

TEST_F(Megolm, ReusedMessageIndexIsAReplay) {
    share({bob.ref()});
    auto c = alice.machine->encryptRoomEvent(kRoom, "m.room.message", {{"body", "pay 5"}}).value();
    ASSERT_TRUE(bob.machine->decryptRoomEvent(kRoom, roomEvent(c, "$original", 10)).ok());
    EXPECT_TRUE(bob.machine->decryptRoomEvent(kRoom, roomEvent(c, "$original", 10)).ok())
        << "the same event seen twice (e.g. /sync and /messages) is not a replay";
    auto replay = bob.machine->decryptRoomEvent(kRoom, roomEvent(c, "$replayed", 20));
    ASSERT_FALSE(replay.ok());
    EXPECT_EQ(replay.error().errcode, errcode::kReplay);
    bob.reopen();
    EXPECT_EQ(bob.machine->decryptRoomEvent(kRoom, roomEvent(c, "$replayed", 20)).error().errcode,
              errcode::kReplay)
        << "replay detection survives a restart";
}

TEST_F(Megolm, EventsFromAnotherRoomOrSenderOrTamperedAreRejected) {
    share({bob.ref()});
    auto c = alice.machine->encryptRoomEvent(kRoom, "m.room.message", {{"body", "hi"}}).value();
    EXPECT_EQ(bob.machine->decryptRoomEvent(RoomId("!other:example.org"), roomEvent(c, "$x")).error().errcode,
              errcode::kUnknownGroupSession);
    Json fromCarol = roomEvent(c, "$x");
    fromCarol["sender"] = carol.user.str();
    EXPECT_EQ(bob.machine->decryptRoomEvent(kRoom, fromCarol).error().errcode, mxrtc::errcode::kForbidden);
    Json tampered = c;
    std::string ct = tampered["ciphertext"].get<std::string>();
    ct[ct.size() / 2] = ct[ct.size() / 2] == 'A' ? 'B' : 'A';
    tampered["ciphertext"] = ct;
    EXPECT_FALSE(bob.machine->decryptRoomEvent(kRoom, roomEvent(tampered, "$t")).ok());
    EXPECT_EQ(bob.machine->decryptRoomEvent(kRoom, roomEvent(c, "$ok")).value().messageIndex, 0u)
        << "a tampered copy did not burn the index";
}

TEST_F(Megolm, WithoutTheRoomKeyTheEventIsUndecryptable) {
    share({bob.ref()});
    auto c = alice.machine->encryptRoomEvent(kRoom, "m.room.message", {{"body", "hi"}}).value();
    auto r = carol.machine->decryptRoomEvent(kRoom, roomEvent(c, "$x"));
    EXPECT_EQ(r.error().errcode, errcode::kUnknownGroupSession);
}

TEST_F(Megolm, JoinerGetsTheCurrentSessionFromItsCurrentIndexOnly) {
    auto first = share({bob.ref()});
    auto early = alice.machine->encryptRoomEvent(kRoom, "m.room.message", {{"n", 0}}).value();
    auto second = share({bob.ref(), carol.ref()});
    EXPECT_FALSE(second.rotated) << "a join does not rotate";
    EXPECT_EQ(second.sessionId, first.sessionId);
    EXPECT_EQ(second.recipients, std::vector<DeviceRef>{carol.ref()});
    auto late = alice.machine->encryptRoomEvent(kRoom, "m.room.message", {{"n", 1}}).value();
    EXPECT_TRUE(carol.machine->decryptRoomEvent(kRoom, roomEvent(late, "$late")).ok());
    EXPECT_FALSE(carol.machine->decryptRoomEvent(kRoom, roomEvent(early, "$early")).ok())
        << "history before the join stays unreadable";
}

TEST_F(Megolm, LeaverForcesANewSessionTheLeaverCannotRead) {
    auto both = share({bob.ref(), carol.ref()});
    auto onlyBob = share({bob.ref()});
    EXPECT_TRUE(onlyBob.rotated);
    EXPECT_NE(onlyBob.sessionId, both.sessionId);
    EXPECT_EQ(onlyBob.recipients, std::vector<DeviceRef>{bob.ref()});
    auto c = alice.machine->encryptRoomEvent(kRoom, "m.room.message", {{"secret", true}}).value();
    EXPECT_TRUE(bob.machine->decryptRoomEvent(kRoom, roomEvent(c, "$s")).ok());
    EXPECT_EQ(carol.machine->decryptRoomEvent(kRoom, roomEvent(c, "$s")).error().errcode,
              errcode::kUnknownGroupSession);
}

TEST_F(Megolm, SessionRotatesAfterItsMessageLimitOrAge) {
    MemoryPickleStore store;
    MachineConfig config;
    config.megolmRotationMessages = 2;
    auto m = OlmMachine::open(UserId("@z:x"), DeviceId("Z"), PickleKey("k"), store, systemRandom(), config);
    ASSERT_TRUE(m.ok());
    auto& z = **m;
    auto s1 = z.prepareRoomKey(kRoom, {}, kT0).value();
    ASSERT_TRUE(z.encryptRoomEvent(kRoom, "t", Json::object()).ok());
    EXPECT_FALSE(z.prepareRoomKey(kRoom, {}, kT0).value().rotated);
    ASSERT_TRUE(z.encryptRoomEvent(kRoom, "t", Json::object()).ok());
    auto s2 = z.prepareRoomKey(kRoom, {}, kT0).value();
    EXPECT_TRUE(s2.rotated);
    EXPECT_NE(s2.sessionId, s1.sessionId);
    auto s3 = z.prepareRoomKey(kRoom, {}, kT0 + config.megolmRotationPeriod).value();
    EXPECT_TRUE(s3.rotated) << "a week later";
    z.discardOutboundSession(kRoom);
    EXPECT_EQ(z.encryptRoomEvent(kRoom, "t", Json::object()).error().errcode, errcode::kNoSession);
}

TEST_F(Megolm, RoomKeyIsOnlyImportedFromAVerifiedOlmSender) {
    auto s = alice.machine->prepareRoomKey(kRoom, {bob.ref()}, kT0).value();
    Peer dave("@dave:example.org", "DAVEDEV");  // bob has never queried dave's keys
    introduce(dave, bob);
    auto c = dave.machine->encryptToDevice(bob.ref(), "m.room_key", s.roomKeyContent).value();
    auto d = bob.machine->decryptToDevice(toDevice(dave, c), kT0);
    ASSERT_TRUE(d.ok());
    DecryptedToDevice unverified = *d;  // as if dave had not included his device keys
    unverified.senderDeviceKeys.reset();
    unverified.senderDevice = DeviceId();
    ASSERT_FALSE(bob.machine->verifySender(unverified).ok());
    auto refused = bob.machine->importRoomKey(unverified);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().errcode, mxrtc::errcode::kForbidden);

    // A verified sender whose m.room_key names a session id that its key does not produce.
    Json lying = s.roomKeyContent;
    lying["session_id"] = "AAAA";
    auto c2 = alice.machine->encryptToDevice(bob.ref(), "m.room_key", lying).value();
    auto d2 = bob.machine->decryptToDevice(toDevice(alice, c2), kT0);
    ASSERT_TRUE(d2.ok());
    auto lied = bob.machine->importRoomKey(*d2);
    ASSERT_FALSE(lied.ok());
    EXPECT_EQ(lied.error().errcode, mxrtc::errcode::kForbidden);
}

}  // namespace
}  // namespace mxrtc::olm::test
