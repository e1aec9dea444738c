// OlmTransport::receiveRoomKeyEvent: legacy media keys in Megolm-encrypted room events (spec §5.2,
// vectors K7/K8), accepted only from the device that shared the Megolm session over Olm.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "mxrtc/matrix/olm_transport.hpp"
#include "unit/olm/olm_peers.hpp"

namespace mxrtc::matrix {
namespace {

using olm::test::kT0;
using olm::test::Peer;
using Json = nlohmann::json;

const RoomId kRoom("!room:example.org");

class RoomKeyEvent : public ::testing::Test {
  protected:
    void SetUp() override {
        olm::test::learnKeys(bob, alice);
        olm::test::introduce(alice, bob);
    }
    // Alice shares her outbound Megolm session with Bob (m.room_key over Olm); Bob imports it.
    void shareWithBob() {
        auto s = alice.machine->prepareRoomKey(kRoom, {bob.ref()}, kT0);
        ASSERT_TRUE(s.ok());
        auto c = alice.machine->encryptToDevice(bob.ref(), e2ee::kRoomKeyType, s->roomKeyContent);
        ASSERT_TRUE(c.ok());
        auto d = bob.machine->decryptToDevice(olm::test::toDevice(alice, *c), kT0);
        ASSERT_TRUE(d.ok() && d->verified());
        ASSERT_TRUE(bob.machine->importRoomKey(*d).ok());
    }
    // An m.room.encrypted timeline event from Alice carrying `type`/`content`.
    Json encrypted(std::string_view type, const Json& content, const std::string& eventId) {
        if (!alice.machine->prepareRoomKey(kRoom, {bob.ref()}, kT0).ok()) ADD_FAILURE() << "prepareRoomKey";
        auto c = alice.machine->encryptRoomEvent(kRoom, type, content);
        if (!c.ok()) ADD_FAILURE() << c.error().message;
        return {{"type", "m.room.encrypted"},
                {"sender", alice.user.str()},
                {"event_id", eventId},
                {"origin_server_ts", toUnixMs(kT0) + 5},
                {"content", c.ok() ? *c : Json::object()}};
    }

    Peer alice{"@alice:example.org", "ALICEDEV"};
    Peer bob{"@bob:example.org", "BOBDEV"};
    boost::asio::io_context io;
    Client client{io.get_executor(), "http://127.0.0.1:9"};  // never contacted here
    OlmTransport bobTransport{client, LoginSession{bob.user, bob.device, "", ""}, *bob.machine};
};

TEST_F(RoomKeyEvent, KeyFromTheDeviceThatSharedTheSessionIsAccepted) {
    shareWithBob();
    const e2ee::MediaKey key{1, Bytes{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
    auto ev = encrypted(e2ee::kEncryptionKeysType, e2ee::buildRoomKeyEvent(key, alice.device, kT0), "$k");
    auto keys = bobTransport.receiveRoomKeyEvent(kRoom, ev);
    ASSERT_TRUE(keys.ok()) << keys.error().message;
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_EQ((*keys)[0].sender, alice.user);
    EXPECT_EQ((*keys)[0].device, alice.device);
    EXPECT_EQ((*keys)[0].memberId, "@alice:example.org:ALICEDEV");
    EXPECT_EQ((*keys)[0].key.index, 1);
    EXPECT_EQ((*keys)[0].key.key, key.key);
    EXPECT_EQ((*keys)[0].timestamp, fromUnixMs(toUnixMs(kT0) + 5)) << "origin_server_ts";
}

TEST_F(RoomKeyEvent, KeyClaimingAnotherDeviceThanTheSessionOwnerIsRefused) {
    shareWithBob();
    const e2ee::MediaKey key{0, Bytes(16, 0x42)};
    auto ev = encrypted(e2ee::kEncryptionKeysType, e2ee::buildRoomKeyEvent(key, DeviceId("MALLORYDEV"), kT0),
                        "$forged");
    auto keys = bobTransport.receiveRoomKeyEvent(kRoom, ev);
    ASSERT_FALSE(keys.ok());
    EXPECT_EQ(keys.error().errcode, errcode::kForbidden);
    EXPECT_NE(keys.error().message.find("MALLORYDEV"), std::string::npos) << keys.error().message;
}

TEST_F(RoomKeyEvent, EventWithoutItsRoomKeyIsReportedForARetry) {
    // Alice sends the m.room_key first, but Bob sees the key event before it (another sync).
    auto share = alice.machine->prepareRoomKey(kRoom, {bob.ref()}, kT0);
    ASSERT_TRUE(share.ok());
    auto roomKey = alice.machine->encryptToDevice(bob.ref(), e2ee::kRoomKeyType, share->roomKeyContent);
    ASSERT_TRUE(roomKey.ok());
    const e2ee::MediaKey key{0, Bytes(16, 0x42)};
    auto ev = encrypted(e2ee::kEncryptionKeysType, e2ee::buildRoomKeyEvent(key, alice.device, kT0), "$early");
    auto keys = bobTransport.receiveRoomKeyEvent(kRoom, ev);
    ASSERT_FALSE(keys.ok());
    EXPECT_EQ(keys.error().errcode, olm::errcode::kUnknownGroupSession);
    auto d = bob.machine->decryptToDevice(olm::test::toDevice(alice, *roomKey), kT0);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(bob.machine->importRoomKey(*d).ok());
    auto retried = bobTransport.receiveRoomKeyEvent(kRoom, ev);
    ASSERT_TRUE(retried.ok()) << retried.error().message;
    EXPECT_EQ(retried->size(), 1u);
}

TEST_F(RoomKeyEvent, NonCallKeyCallIdAndOtherEventTypes) {
    shareWithBob();
    auto message = encrypted("m.room.message", {{"msgtype", "m.text"}, {"body", "hi"}}, "$msg");
    auto none = bobTransport.receiveRoomKeyEvent(kRoom, message);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    Json k8 = e2ee::buildRoomKeyEvent({0, Bytes(16, 1)}, alice.device, kT0);
    k8["call_id"] = "abc";  // K8: not the room call
    auto refused = bobTransport.receiveRoomKeyEvent(kRoom, encrypted(e2ee::kEncryptionKeysType, k8, "$k8"));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("call_id"), std::string::npos);
}

}  // namespace
}  // namespace mxrtc::matrix
