#include "mxrtc/core/mesh_roster.hpp"

#include <gtest/gtest.h>

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

CallMembership member(const std::string& user, const std::string& device, std::int64_t createdMs,
                      const std::string& transport, std::optional<std::string> memberId = std::nullopt) {
    CallMembership m;
    m.user = UserId(user);
    m.device = DeviceId(device);
    m.createdTs = fromUnixMs(createdMs);
    m.transports.push_back(Transport{transport, Json{{"type", transport}}});
    if (memberId) m.memberId = MemberId(*memberId);
    return m;
}

TEST(MeshRoster, OnlyMembersAnnouncingTheMeshTakePartAndWeAreNotOurOwnPeer) {
    const auto self = member("@me:x", "MINE", 1000, "mesh");
    const auto alice = member("@alice:x", "A", 2000, "mesh");
    const auto sfuOnly = member("@bob:x", "B", 3000, "livekit");
    auto viaFocus = member("@carol:x", "C", 4000, "livekit");
    viaFocus.focusActive = FocusActive{"mesh", FocusSelection::Unknown, Json::object()};
    const auto roster =
        meshRosterOf({&self, &alice, &sfuOnly, &viaFocus, nullptr}, UserId("@me:x"), DeviceId("MINE"));
    ASSERT_TRUE(roster.ownSession);
    EXPECT_EQ(*roster.ownSession, "@me:x:MINE@1000");
    ASSERT_EQ(roster.members.size(), 2u);
    EXPECT_EQ(roster.members[0], (MeshMember{UserId("@alice:x"), DeviceId("A"), "@alice:x:A@2000"}));
    EXPECT_EQ(roster.members[1].user, UserId("@carol:x"));
}

TEST(MeshRoster, ARejoinIsANewSessionAndTheMemberIdNamesIt) {
    const auto before = member("@alice:x", "A", 2000, "mesh", "uuid-1");
    const auto after = member("@alice:x", "A", 9000, "mesh", "uuid-2");
    EXPECT_EQ(meshSessionOf(before), "uuid-1@2000");
    EXPECT_NE(meshSessionOf(before), meshSessionOf(after));
    auto sameJoinRewritten = before;
    sameJoinRewritten.expiresAt = fromUnixMs(99'000);  // a refresh of the same membership
    EXPECT_EQ(meshSessionOf(before), meshSessionOf(sameJoinRewritten));
}

TEST(MeshRoster, WithoutOurOwnMembershipWeAreNotInTheCall) {
    const auto alice = member("@alice:x", "A", 2000, "mesh");
    const auto otherDeviceOfMine = member("@me:x", "OTHER", 2500, "mesh");
    const auto roster = meshRosterOf({&alice, &otherDeviceOfMine}, UserId("@me:x"), DeviceId("MINE"));
    EXPECT_FALSE(roster.ownSession);
    ASSERT_EQ(roster.members.size(), 2u);  // our other device is a peer like any other
    EXPECT_EQ(roster.members[1].device, DeviceId("OTHER"));
}

TEST(MeshRoster, MeshTransportIsWhatJsSdkAnnounces) {
    EXPECT_EQ(meshTransport().raw.dump(), R"({"type":"mesh"})");
    EXPECT_EQ(meshTransport().type, "mesh");
}

TEST(SignallingAdmission, AnEncryptedMessageMustNameTheDeviceOlmVerified) {
    const SignallingOrigin olm{UserId("@alice:x"), true, DeviceId("A")};
    EXPECT_EQ(admitSignalling(olm, "m.call.invite", Json{{"device_id", "A"}}, true),
              SignallingVerdict::Accept);
    // Another device of the same user, a missing or non-string device_id: all refused.
    EXPECT_EQ(admitSignalling(olm, "m.call.invite", Json{{"device_id", "B"}}, true),
              SignallingVerdict::DeviceMismatch);
    EXPECT_EQ(admitSignalling(olm, "m.call.candidates", Json::object(), false),
              SignallingVerdict::DeviceMismatch);
    EXPECT_EQ(admitSignalling(olm, "m.call.answer", Json{{"device_id", 7}}, false),
              SignallingVerdict::DeviceMismatch);
    EXPECT_EQ(admitSignalling(olm, "m.call.answer", Json::array(), false), SignallingVerdict::DeviceMismatch);
    // Olm could not tell the device: an empty claim does not match an unknown device.
    const SignallingOrigin unknownDevice{UserId("@alice:x"), true, DeviceId("")};
    EXPECT_EQ(admitSignalling(unknownDevice, "m.call.invite", Json{{"device_id", ""}}, false),
              SignallingVerdict::DeviceMismatch);
}

TEST(SignallingAdmission, PlaintextOnlyWhenEncryptionIsNotRequired) {
    const SignallingOrigin plain{UserId("@alice:x"), false, DeviceId("")};
    EXPECT_EQ(admitSignalling(plain, "m.call.hangup", Json{{"device_id", "A"}}, true),
              SignallingVerdict::PlaintextRefused);
    EXPECT_EQ(admitSignalling(plain, "m.call.hangup", Json{{"device_id", "A"}}, false),
              SignallingVerdict::Accept);
    EXPECT_EQ(admitSignalling(plain, "org.matrix.call.sdp_stream_metadata_changed", Json::object(), false),
              SignallingVerdict::Accept);
}

TEST(SignallingAdmission, OtherToDeviceTypesAreNotSignalling) {
    const SignallingOrigin olm{UserId("@alice:x"), true, DeviceId("A")};
    for (const char* type : {"io.element.call.encryption_keys", "m.room_key", "m.callx", "m.call"})
        EXPECT_EQ(admitSignalling(olm, type, Json{{"device_id", "A"}}, true),
                  SignallingVerdict::NotSignalling)
            << type;
}

}  // namespace
}  // namespace mxrtc::core
