#include "mxrtc/e2ee/key_messages.hpp"

#include "../core/json_fields.hpp"

namespace mxrtc::e2ee {
namespace {

using Json = nlohmann::json;
using core::detail::asInt;
using core::detail::fieldError;
using core::detail::find;

const std::string* stringField(const Json& obj, std::string_view key) {
    const Json* v = find(obj, key);
    return v != nullptr && v->is_string() ? v->get_ptr<const std::string*>() : nullptr;
}

// {"index": 0-255, "key": base64 (either alphabet, padded or not)}
Result<MediaKey> parseKeyEntry(const Json& entry, std::string_view path) {
    if (!entry.is_object()) return fieldError(path, "must be an object");
    const Json* index = find(entry, "index");
    if (index == nullptr) return fieldError(std::string(path) + ".index", "is missing");
    auto i = asInt(*index);
    if (!i) return fieldError(std::string(path) + ".index", "must be an integer");
    if (*i < 0 || *i > 255) return fieldError(std::string(path) + ".index", "must be within 0-255");
    const std::string* key = stringField(entry, "key");
    if (key == nullptr || key->empty())
        return fieldError(std::string(path) + ".key", "must be a non-empty string");
    auto bytes = base64Decode(*key);
    if (!bytes || bytes->empty()) return fieldError(std::string(path) + ".key", "is not base64");
    if (bytes->size() > 64) return fieldError(std::string(path) + ".key", "is longer than 64 bytes");
    return MediaKey{static_cast<std::uint8_t>(*i), std::move(*bytes)};
}

}  // namespace

Result<ReceivedKey> parseToDeviceKeyMessage(const Json& content, const ToDeviceOrigin& origin,
                                            const RoomId& roomId, TimePoint receivedAt) {
    if (!content.is_object()) return fieldError("content", "must be an object");
    if (!origin.encrypted) {
        return makeError(errcode::kForbidden,
                         "media keys must arrive Olm-encrypted; plaintext key message dropped");
    }
    const std::string* room = stringField(content, "room_id");
    if (room == nullptr) return fieldError("room_id", "must be a string");
    if (*room != roomId.str()) return makeError(errcode::kWrongRoom, "'room_id' is for another room");
    const Json* keys = find(content, "keys");
    if (keys == nullptr) return fieldError("keys", "is missing");
    MXRTC_TRY_ASSIGN(key, parseKeyEntry(*keys, "keys"));
    const Json* member = find(content, "member");
    if (member == nullptr || !member->is_object()) return fieldError("member", "must be an object");
    const std::string* device = stringField(*member, "claimed_device_id");
    if (device == nullptr || device->empty())
        return fieldError("member.claimed_device_id", "must be a non-empty string");
    if (!origin.senderDevice.str().empty() && origin.senderDevice.str() != *device) {
        return makeError(errcode::kForbidden, "key message claims device " + *device +
                                                  " but was sent by device " + origin.senderDevice.str());
    }
    ReceivedKey r;
    r.sender = origin.sender;
    r.device = DeviceId(*device);
    const std::string* memberId = stringField(*member, "id");
    r.memberId = memberId != nullptr && !memberId->empty() ? *memberId : origin.sender.str() + ":" + *device;
    r.key = std::move(key);
    r.timestamp = receivedAt;
    return r;
}

Result<std::vector<ReceivedKey>> parseRoomKeyEvent(const Json& content, const UserId& sender,
                                                   TimePoint originServerTs) {
    if (!content.is_object()) return fieldError("content", "must be an object");
    const std::string* callId = stringField(content, "call_id");
    if (callId == nullptr) return fieldError("call_id", "must be a string");
    if (!callId->empty()) return fieldError("call_id", "must be \"\" (room calls only)");
    const std::string* device = stringField(content, "device_id");
    if (device == nullptr || device->empty()) return fieldError("device_id", "must be a non-empty string");
    const Json* keys = find(content, "keys");
    if (keys == nullptr || !keys->is_array()) return fieldError("keys", "must be an array");
    if (keys->empty()) return fieldError("keys", "must not be empty");
    std::vector<ReceivedKey> out;
    out.reserve(keys->size());
    for (std::size_t i = 0; i < keys->size(); ++i) {
        MXRTC_TRY_ASSIGN(key, parseKeyEntry((*keys)[i], "keys[" + std::to_string(i) + "]"));
        ReceivedKey r;
        r.sender = sender;
        r.device = DeviceId(*device);
        r.memberId = sender.str() + ":" + *device;
        r.key = std::move(key);
        r.timestamp = originServerTs;
        out.push_back(std::move(r));
    }
    return out;
}

Json buildToDeviceKeyMessage(const MediaKey& key, const std::string& memberId, const DeviceId& device,
                             const RoomId& roomId, const KeyMessageSession& session, TimePoint sentAt) {
    return Json{
        {"keys", {{"index", key.index}, {"key", base64Encode(key.key)}}},
        {"member", {{"id", memberId}, {"claimed_device_id", device.str()}}},
        {"room_id", roomId.str()},
        {"session",
         {{"application", session.application}, {"call_id", session.callId}, {"scope", session.scope}}},
        {"sent_ts", toUnixMs(sentAt)}};
}

Json buildRoomKeyEvent(const MediaKey& key, const DeviceId& device, TimePoint sentAt) {
    return Json{
        {"keys",
         Json::array({{{"index", key.index},
                       {"key", base64Encode(key.key, Base64Alphabet::Standard, Base64Padding::Unpadded)}}})},
        {"device_id", device.str()},
        {"call_id", ""},
        {"sent_ts", toUnixMs(sentAt)}};
}

Result<KeyRequest> parseKeyRequest(const Json& content, const UserId& sender, const RoomId& roomId) {
    if (!content.is_object()) return fieldError("content", "must be an object");
    const std::string* room = stringField(content, "room_id");
    if (room == nullptr) return fieldError("room_id", "must be a string");
    if (*room != roomId.str()) return makeError(errcode::kWrongRoom, "'room_id' is for another room");
    const std::string* device = stringField(content, "device_id");
    if (device == nullptr || device->empty()) return fieldError("device_id", "must be a non-empty string");
    const std::string* conf = stringField(content, "conf_id");
    return KeyRequest{sender, DeviceId(*device), conf != nullptr ? *conf : std::string()};
}

}  // namespace mxrtc::e2ee
