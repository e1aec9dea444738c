#include "mxrtc/core/event.hpp"

namespace mxrtc::core {

namespace {

std::string key(std::string_view k) {
    return std::string(k);
}

}  // namespace

std::optional<nlohmann::json> RoomEvent::prevContent() const {
    if (unsignedData.is_object()) {
        auto it = unsignedData.find(key(wire::kPrevContent));
        if (it != unsignedData.end() && it->is_object()) return *it;
    }
    if (raw.is_object()) {
        auto it = raw.find(key(wire::kPrevContent));
        if (it != raw.end() && it->is_object()) return *it;
    }
    return std::nullopt;
}

Result<RoomEvent> parseRoomEvent(const nlohmann::json& event) {
    if (!event.is_object()) return makeError(errcode::kBadJson, "event must be a JSON object");
    RoomEvent out;
    const auto type = event.find(key(wire::kType));
    if (type == event.end() || !type->is_string())
        return makeError(errcode::kBadJson, "'type' must be a string");
    out.type = type->get<std::string>();

    const auto sender = event.find(key(wire::kSender));
    if (sender == event.end() || !sender->is_string())
        return makeError(errcode::kBadJson, "'sender' must be a string");
    out.sender = UserId(sender->get<std::string>());

    const auto ts = event.find(key(wire::kOriginServerTs));
    if (ts == event.end() || !ts->is_number_integer())
        return makeError(errcode::kBadJson, "'origin_server_ts' must be an integer");
    out.originServerTs = fromUnixMs(ts->get<std::int64_t>());

    if (const auto sk = event.find(key(wire::kStateKey)); sk != event.end()) {
        if (!sk->is_string()) return makeError(errcode::kBadJson, "'state_key' must be a string");
        out.stateKey = sk->get<std::string>();
    }
    if (const auto id = event.find(key(wire::kEventId)); id != event.end()) {
        if (!id->is_string()) return makeError(errcode::kBadJson, "'event_id' must be a string");
        out.eventId = EventId(id->get<std::string>());
    }
    if (const auto room = event.find(key(wire::kRoomId)); room != event.end()) {
        if (!room->is_string()) return makeError(errcode::kBadJson, "'room_id' must be a string");
        out.roomId = RoomId(room->get<std::string>());
    }
    if (const auto content = event.find(key(wire::kContent)); content != event.end() && !content->is_null()) {
        if (!content->is_object()) return makeError(errcode::kBadJson, "'content' must be an object");
        out.content = *content;
    }
    if (const auto u = event.find(key(wire::kUnsigned)); u != event.end() && !u->is_null()) {
        if (!u->is_object()) return makeError(errcode::kBadJson, "'unsigned' must be an object");
        out.unsignedData = *u;
    }
    out.raw = event;
    return out;
}

Result<RoomEvent> parseRoomEvent(std::string_view text) {
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return makeError(errcode::kNotJson, "event is not valid JSON");
    return parseRoomEvent(json);
}

}  // namespace mxrtc::core
