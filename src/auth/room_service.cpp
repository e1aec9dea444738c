#include "mxrtc/auth/room_service.hpp"

#include <nlohmann/json.hpp>

namespace mxrtc::auth {

namespace {

void putVarint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

void putTag(std::string& out, std::uint32_t field, std::uint32_t wireType) {
    putVarint(out, (field << 3) | wireType);
}

void putString(std::string& out, std::uint32_t field, std::string_view s) {
    if (s.empty()) return;
    putTag(out, field, 2);
    putVarint(out, s.size());
    out.append(s);
}

void putUint32(std::string& out, std::uint32_t field, std::uint32_t v) {
    if (v == 0) return;
    putTag(out, field, 0);
    putVarint(out, v);
}

}  // namespace

std::string encodeCreateRoomRequest(const CreateRoomParams& p) {
    // livekit_room.proto: name = 1, empty_timeout = 2, max_participants = 3, departure_timeout = 10.
    std::string out;
    putString(out, 1, p.name);
    putUint32(out, 2, p.emptyTimeoutSeconds);
    putUint32(out, 3, p.maxParticipants);
    putUint32(out, 10, p.departureTimeoutSeconds);
    return out;
}

OutboundRequest createRoomRequest(std::string_view liveKitHttpUrl, std::string_view apiKey,
                                  const Hs256Signer& signer, const CreateRoomParams& params, TimePoint now) {
    OutboundRequest r;
    r.method = "POST";
    r.url = std::string(liveKitHttpUrl) + std::string(kCreateRoomPath);
    r.headers = {{"Authorization", "Bearer " + signer.sign(roomCreateTokenClaims(apiKey, now))},
                 {"Content-Type", "application/protobuf"},
                 {"Accept", "application/protobuf"}};
    r.body = encodeCreateRoomRequest(params);
    return r;
}

Result<void> checkCreateRoomResponse(int status, std::string_view body) {
    if (status == 200) return {};
    if (status == 0) return makeError(errcode::kUnknown, "LiveKit RoomService unreachable");
    std::string detail = "HTTP " + std::to_string(status);
    const auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_object()) {
        if (json.contains("code") && json["code"].is_string())
            detail += " twirp code " + json["code"].get<std::string>();
        if (json.contains("msg") && json["msg"].is_string()) detail += ": " + json["msg"].get<std::string>();
    }
    return makeError(errcode::kUnknown, "LiveKit CreateRoom failed (" + detail + ")");
}

}  // namespace mxrtc::auth
