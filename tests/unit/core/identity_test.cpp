#include "mxrtc/core/identity.hpp"

#include <gtest/gtest.h>

namespace mxrtc::core {
namespace {

// Vectors from spec §12.5 (three of them match MSC4195's table) and §12.2 S1.
TEST(Identity, HashedMemberIdentityMatchesStickyMembershipVector) {
    EXPECT_EQ(hashedMemberIdentity(UserId("@alice:example.org"), DeviceId("ALICEDEVICE"),
                                   MemberId("8f6c1b2a-0d7e-4c55-9a3e-2b1f0e9d4c11")),
              "Vh8URMYNjqyx51ju6pf8zHfOzU8YmM1VTsV7wyGOqTM");
    EXPECT_EQ(
        hashedMemberIdentity(UserId("@alice:example.com"), DeviceId("DEVICE123"), MemberId("memberABC")),
        "J+T45tGruxc+HrUOqJJlyQSV33m728Cme4+vt8/SWrU");
}

TEST(Identity, RoomAliasMatchesMsc4195Table) {
    EXPECT_EQ(liveKitRoomAlias(RoomId("!roomid:example.com"), SlotId("slot1234")),
              "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc");
    EXPECT_EQ(hashJsonArray({"!roomid:example.com", "slot123", "random123"}, JsonEscaping::Js),
              "IMeDd+K3MIqJTI20EXBIrepKkhhORvf3q8fx3rlrhTk");
    EXPECT_EQ(liveKitRoomAlias(RoomId("!room:example.org"), SlotId("m.call#ROOM")),
              "TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E");
}

TEST(Identity, GoEscapingDiffersFromJsForAngleBrackets) {
    const UserId bob("@bob:example.org");
    const DeviceId dev("BOBDEV");
    const MemberId member("x<y");
    EXPECT_EQ(hashedMemberIdentity(bob, dev, member, JsonEscaping::Js),
              "kX/3sJ+mYD0CnhK4VJjnjFvyIkztbMO0V/U9rQ8DQ9s");
    EXPECT_EQ(hashedMemberIdentity(bob, dev, member, JsonEscaping::Go),
              "J0avm7bQTZ80xjaai07FwILfQUBx1Rog+fX32wiFKI0");
}

TEST(Identity, JsonArrayEscapesControlAndSeparatorCharacters) {
    EXPECT_EQ(jsonStringArray({"a\"b\\c\n\x01"}, JsonEscaping::Js), R"(["a\"b\\c\n\u0001"])");
    EXPECT_EQ(jsonStringArray({"a&b", "\xE2\x80\xA8"}, JsonEscaping::Js), "[\"a&b\",\"\xE2\x80\xA8\"]");
    EXPECT_EQ(jsonStringArray({"a&b", "\xE2\x80\xA8"}, JsonEscaping::Go), R"(["a\u0026b","\u2028"])");
}

TEST(Identity, SessionIdentityIsUserColonDevice) {
    EXPECT_EQ(sessionMemberIdentity(UserId("@alice:example.org"), DeviceId("ALICEDEV")),
              "@alice:example.org:ALICEDEV");
}

TEST(Identity, JsonQuoteEscapesLikeTheChosenSerialiser) {
    EXPECT_EQ(jsonQuote("@a<b>:x&y", JsonEscaping::Js), R"("@a<b>:x&y")");
    EXPECT_EQ(jsonQuote("@a<b>:x&y", JsonEscaping::Go), R"("@a\u003cb\u003e:x\u0026y")");
    EXPECT_EQ(jsonQuote("q\"\x1f", JsonEscaping::Go), R"("q\"\u001f")");
    EXPECT_EQ(jsonQuote("", JsonEscaping::Go), R"("")");
    std::string out = "x:";
    appendJsonQuoted(out, "a&b", JsonEscaping::Go);
    EXPECT_EQ(out, R"(x:"a\u0026b")");
}

}  // namespace
}  // namespace mxrtc::core
