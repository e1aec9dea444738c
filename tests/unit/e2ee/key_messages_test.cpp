#include "mxrtc/e2ee/key_messages.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace mxrtc::e2ee {
namespace {

using Json = nlohmann::json;
const RoomId kRoom("!room:example.org");

TEST(KeyMessages, SpecVectors) {
    const Json doc = test::loadVector("keys/messages.json");
    ASSERT_GE(doc["cases"].size(), 20u);
    for (const auto& c : doc["cases"]) {
        SCOPED_TRACE(c["name"].get<std::string>());
        const UserId sender(c["sender"].get<std::string>());
        std::vector<ReceivedKey> keys;
        std::optional<Error> error;
        if (c["transport"] == "to_device") {
            ToDeviceOrigin origin{sender, c["encrypted"].get<bool>(),
                                  DeviceId(c["sender_device"].get<std::string>())};
            auto r = parseToDeviceKeyMessage(c["content"], origin, kRoom, fromUnixMs(42));
            if (r)
                keys.push_back(*r);
            else
                error = r.error();
        } else {
            auto r = parseRoomKeyEvent(c["content"], sender,
                                       fromUnixMs(c["origin_server_ts"].get<std::int64_t>()));
            if (r)
                keys = *r;
            else
                error = r.error();
        }
        if (c["expect"] == "accept") {
            ASSERT_FALSE(error) << error->message;
            ASSERT_EQ(keys.size(), 1u);
            EXPECT_EQ(keys[0].key.index, c["index"].get<int>());
            EXPECT_EQ(hexEncode(keys[0].key.key), c["key_hex"].get<std::string>());
            EXPECT_EQ(keys[0].device.str(), "BOBDEV");
            EXPECT_EQ(keys[0].memberId, c["member_id"].get<std::string>());
            EXPECT_EQ(keys[0].sender, sender);
        } else {
            ASSERT_TRUE(error) << "accepted a message that must be rejected";
            EXPECT_NE(error->message.find(c["error_contains"].get<std::string>()), std::string::npos)
                << error->message;
        }
    }
}

TEST(KeyMessages, ToDeviceTimestampIsTheLocalReceiveTime) {
    const Json doc = test::loadVector("keys/messages.json");
    auto r = parseToDeviceKeyMessage(
        doc["cases"][0]["content"], {UserId("@bob:example.org"), true, DeviceId("")}, kRoom, fromUnixMs(777));
    ASSERT_TRUE(r);
    EXPECT_EQ(toUnixMs(r->timestamp), 777);
}

TEST(KeyMessages, BuiltMessagesAreWhatJsSdkSendsAndParseBack) {
    MediaKey key{3, hexDecode("000102030405060708090a0b0c0d0e0f").value()};
    Json td = buildToDeviceKeyMessage(key, "@alice:example.org:ALICEDEV", DeviceId("ALICEDEV"), kRoom, {},
                                      fromUnixMs(1760000095000));
    EXPECT_EQ(
        td.dump(),
        R"({"keys":{"index":3,"key":"AAECAwQFBgcICQoLDA0ODw=="},"member":{"claimed_device_id":"ALICEDEV",)"
        R"("id":"@alice:example.org:ALICEDEV"},"room_id":"!room:example.org","sent_ts":1760000095000,)"
        R"("session":{"application":"m.call","call_id":"","scope":"m.room"}})");
    auto back = parseToDeviceKeyMessage(td, {UserId("@alice:example.org"), true, DeviceId("ALICEDEV")}, kRoom,
                                        fromUnixMs(1));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->key.key, key.key);
    Json room = buildRoomKeyEvent(key, DeviceId("ALICEDEV"), fromUnixMs(5));
    EXPECT_EQ(room["keys"][0]["key"], "AAECAwQFBgcICQoLDA0ODw");
    auto roomBack = parseRoomKeyEvent(room, UserId("@alice:example.org"), fromUnixMs(5));
    ASSERT_TRUE(roomBack);
    EXPECT_EQ(roomBack->at(0).key.index, 3);
}

TEST(KeyMessages, AKeyForAnotherRoomIsToldApartFromAMalformedOne) {
    // The call shell ignores keys of other calls quietly and warns about broken ones: it needs the
    // errcode to tell them apart, not the message text.
    MediaKey key{1, hexDecode("000102030405060708090a0b0c0d0e0f").value()};
    const Json other = buildToDeviceKeyMessage(key, "@alice:example.org:ALICEDEV", DeviceId("ALICEDEV"),
                                               RoomId("!other:example.org"), {}, fromUnixMs(1));
    const ToDeviceOrigin origin{UserId("@alice:example.org"), true, DeviceId("ALICEDEV")};
    auto wrongRoom = parseToDeviceKeyMessage(other, origin, kRoom, fromUnixMs(2));
    ASSERT_FALSE(wrongRoom);
    EXPECT_EQ(wrongRoom.error().errcode, errcode::kWrongRoom);
    Json broken = other;
    broken["room_id"] = kRoom.str();
    broken.erase("keys");
    auto malformed = parseToDeviceKeyMessage(broken, origin, kRoom, fromUnixMs(2));
    ASSERT_FALSE(malformed);
    EXPECT_EQ(malformed.error().errcode, errcode::kBadJson);
    auto request = parseKeyRequest(Json{{"device_id", "BOBDEV"}, {"room_id", "!x:y"}},
                                   UserId("@bob:example.org"), kRoom);
    ASSERT_FALSE(request);
    EXPECT_EQ(request.error().errcode, errcode::kWrongRoom);
}

TEST(KeyMessages, FamedlyKeyRequest) {
    auto ok =
        parseKeyRequest(Json{{"conf_id", "c1"}, {"device_id", "BOBDEV"}, {"room_id", "!room:example.org"}},
                        UserId("@bob:example.org"), kRoom);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->device.str(), "BOBDEV");
    EXPECT_FALSE(parseKeyRequest(Json{{"device_id", "BOBDEV"}, {"room_id", "!x:y"}},
                                 UserId("@bob:example.org"), kRoom));
    EXPECT_FALSE(parseKeyRequest(Json::array(), UserId("@bob:example.org"), kRoom));
}

}  // namespace
}  // namespace mxrtc::e2ee
