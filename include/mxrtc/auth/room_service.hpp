// LiveKit RoomService over Twirp (what server-sdk-go's RoomServiceClient sends): the request for
// CreateRoom, protobuf-encoded, authorised by a short JWT with video.roomCreate, and the
// classification of the answer. Pure: the edge sends the request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

// An HTTP request the edge must perform on the handler's behalf.
struct OutboundRequest {
    std::string method{"GET"};
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    friend bool operator==(const OutboundRequest&, const OutboundRequest&) = default;
};

inline constexpr std::string_view kCreateRoomPath = "/twirp/livekit.RoomService/CreateRoom";

// livekit.CreateRoomRequest with the values lk-jwt-service uses.
struct CreateRoomParams {
    std::string name;
    std::uint32_t emptyTimeoutSeconds = 5 * 60;  // keep the room open if no one joins
    std::uint32_t departureTimeoutSeconds = 20;  // keep the room after everyone leaves
    std::uint32_t maxParticipants = 0;           // no limit
};

// Protobuf wire encoding (fields in number order, defaults omitted, as Go's proto.Marshal does).
std::string encodeCreateRoomRequest(const CreateRoomParams& params);

// POST <liveKitHttpUrl>/twirp/livekit.RoomService/CreateRoom, Content-Type application/protobuf,
// Authorization: Bearer <HS256 JWT {iss: key, video: {roomCreate: true}}>.
OutboundRequest createRoomRequest(std::string_view liveKitHttpUrl, std::string_view apiKey,
                                  const Hs256Signer& signer, const CreateRoomParams& params, TimePoint now);

// 200 = created or already existing. Otherwise the Twirp error ({"code","msg"}) as M_UNKNOWN with
// the code and message for the logs; status 0 = the request never got an answer.
Result<void> checkCreateRoomResponse(int status, std::string_view body);

}  // namespace mxrtc::auth
