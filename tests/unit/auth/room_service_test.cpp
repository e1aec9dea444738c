#include "mxrtc/auth/room_service.hpp"

#include <gtest/gtest.h>

#include "mxrtc/common/encoding.hpp"

namespace mxrtc::auth {
namespace {

constexpr TimePoint kNow = fromUnixMs(1'700'000'000'000);

TEST(RoomService, CreateRoomBodyIsProtobufAsGoMarshalsIt) {
    // Cross-checked with Go proto.Marshal(&livekit.CreateRoomRequest{Name, EmptyTimeout: 300,
    // DepartureTimeout: 20}).
    const auto body =
        encodeCreateRoomRequest(CreateRoomParams{"TK4o8wNCXi5t5936bOvIzE/X3XFc7cgp3jGRDqK0j5E"});
    EXPECT_EQ(hexEncode(asBytes(body)),
              "0a2b544b346f38774e435869357435393336624f76497a452f583358466337636770336a475244714b306a354510ac"
              "025014");
}

TEST(RoomService, CreateRoomRequestTargetsTwirpWithAdminToken) {
    const Redacted<std::string> secret(std::string("secret"));
    const Hs256Signer signer(secret);
    const auto r =
        createRoomRequest("https://sfu.example.org", "devkey", signer, CreateRoomParams{"alias"}, kNow);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, "https://sfu.example.org/twirp/livekit.RoomService/CreateRoom");
    ASSERT_EQ(r.headers.size(), 3u);
    EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"Content-Type", "application/protobuf"}));
    ASSERT_EQ(r.headers[0].first, "Authorization");
    const std::string bearer = r.headers[0].second;
    ASSERT_EQ(bearer.rfind("Bearer ", 0), 0u);
    auto claims = verifyHs256(bearer.substr(7), secret, kNow);
    ASSERT_TRUE(claims.ok());
    EXPECT_EQ(claims->issuer, "devkey");
    EXPECT_TRUE(claims->subject.empty());
    ASSERT_TRUE(claims->video.has_value());
    EXPECT_TRUE(claims->video->roomCreate);
    EXPECT_FALSE(claims->video->roomJoin);
    EXPECT_EQ(r.body, encodeCreateRoomRequest(CreateRoomParams{"alias"}));
}

TEST(RoomService, ClassifiesTwirpErrors) {
    EXPECT_TRUE(checkCreateRoomResponse(200, "\x0a\x01x").ok());
    const auto err = checkCreateRoomResponse(401, R"({"code":"unauthenticated","msg":"invalid token"})");
    ASSERT_FALSE(err.ok());
    EXPECT_EQ(err.error().errcode, "M_UNKNOWN");
    EXPECT_NE(err.error().message.find("unauthenticated"), std::string::npos);
    EXPECT_NE(err.error().message.find("invalid token"), std::string::npos);
    EXPECT_FALSE(checkCreateRoomResponse(0, "").ok());
    EXPECT_FALSE(checkCreateRoomResponse(502, "<html>bad gateway</html>").ok());
}

}  // namespace
}  // namespace mxrtc::auth
