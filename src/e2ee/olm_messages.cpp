#include "mxrtc/e2ee/olm_messages.hpp"

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

const std::string* nonEmptyString(const Json& obj, std::string_view key) {
    const std::string* s = stringField(obj, key);
    return s != nullptr && !s->empty() ? s : nullptr;
}

Error forbidden(std::string message) {
    return makeError(errcode::kForbidden, std::move(message));
}

Result<Json> parseObject(std::string_view text) {
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) return makeError(errcode::kNotJson, "decrypted plaintext is not JSON");
    if (!j.is_object()) return fieldError("plaintext", "must be a JSON object");
    return j;
}

Result<void> checkAlgorithm(const Json& content, std::string_view expected) {
    const std::string* algorithm = stringField(content, "algorithm");
    if (algorithm == nullptr) return fieldError("algorithm", "must be a string");
    if (*algorithm != expected)
        return makeError(errcode::kUnsupported,
                         "algorithm " + *algorithm + " is not " + std::string(expected));
    return {};
}

}  // namespace

Result<OlmEnvelope> parseOlmEnvelope(const Json& content, const Curve25519Key& ourKey) {
    if (!content.is_object()) return fieldError("content", "must be an object");
    if (auto r = checkAlgorithm(content, kOlmAlgorithm); !r) return r.error();
    const std::string* senderKey = nonEmptyString(content, "sender_key");
    if (senderKey == nullptr) return fieldError("sender_key", "must be a non-empty string");
    const Json* ciphertext = find(content, "ciphertext");
    if (ciphertext == nullptr || !ciphertext->is_object())
        return fieldError("ciphertext", "must be an object");
    const Json* ours = find(*ciphertext, ourKey.str());
    if (ours == nullptr)
        return makeError(errcode::kNotFound, "'ciphertext' has no entry for our curve25519 key");
    if (!ours->is_object()) return fieldError("ciphertext.<our key>", "must be an object");
    const Json* type = find(*ours, "type");
    auto t = type != nullptr ? asInt(*type) : std::nullopt;
    if (!t || (*t != 0 && *t != 1)) return fieldError("ciphertext.<our key>.type", "must be 0 or 1");
    const std::string* body = nonEmptyString(*ours, "body");
    if (body == nullptr) return fieldError("ciphertext.<our key>.body", "must be a non-empty string");
    return OlmEnvelope{Curve25519Key(*senderKey), *t == 0 ? OlmMessageType::PreKey : OlmMessageType::Normal,
                       *body};
}

Json buildOlmEnvelope(const Curve25519Key& senderKey, const Curve25519Key& recipientKey, OlmMessageType type,
                      const std::string& body) {
    Json entry = Json::object();
    entry["type"] = static_cast<int>(type);
    entry["body"] = body;
    Json ciphertext = Json::object();
    ciphertext[recipientKey.str()] = std::move(entry);
    Json content = Json::object();
    content["algorithm"] = kOlmAlgorithm;
    content["sender_key"] = senderKey.str();
    content["ciphertext"] = std::move(ciphertext);
    return content;
}

Result<OlmPayload> parseOlmPayload(std::string_view plaintext, const UserId& eventSender,
                                   const OlmRecipient& us) {
    MXRTC_TRY_ASSIGN(j, parseObject(plaintext));
    const std::string* type = nonEmptyString(j, "type");
    if (type == nullptr) return fieldError("type", "must be a non-empty string");
    const Json* content = find(j, "content");
    if (content == nullptr || !content->is_object()) return fieldError("content", "must be an object");
    const std::string* sender = stringField(j, "sender");
    if (sender == nullptr) return fieldError("sender", "must be a string");
    if (*sender != eventSender.str())
        return forbidden("Olm plaintext 'sender' " + *sender + " is not the to-device sender " +
                         eventSender.str());
    const std::string* recipient = stringField(j, "recipient");
    if (recipient == nullptr) return fieldError("recipient", "must be a string");
    if (*recipient != us.user.str()) return forbidden("Olm plaintext 'recipient' is not us");
    const Json* recipientKeys = find(j, "recipient_keys");
    const std::string* recipientEd =
        recipientKeys != nullptr ? stringField(*recipientKeys, kEd25519) : nullptr;
    if (recipientEd == nullptr) return fieldError("recipient_keys.ed25519", "must be a string");
    if (*recipientEd != us.ed25519.str())
        return forbidden("Olm plaintext 'recipient_keys.ed25519' is not ours");
    const Json* keys = find(j, "keys");
    const std::string* senderEd = keys != nullptr ? nonEmptyString(*keys, kEd25519) : nullptr;
    if (senderEd == nullptr) return fieldError("keys.ed25519", "must be a non-empty string");
    OlmPayload p;
    if (const Json* device = find(j, "sender_device"); device != nullptr) {
        if (!device->is_string() || device->get_ref<const std::string&>().empty())
            return fieldError("sender_device", "must be a non-empty string");
        p.senderDevice = DeviceId(device->get<std::string>());
    }
    if (const Json* deviceKeys = find(j, kSenderDeviceKeys);
        deviceKeys != nullptr && !deviceKeys->is_null()) {
        if (!deviceKeys->is_object()) return fieldError("sender_device_keys", "must be an object");
        p.senderDeviceKeys = *deviceKeys;
    }
    p.type = *type;
    p.content = *content;
    p.sender = eventSender;
    p.senderEd25519 = Ed25519Key(*senderEd);
    return p;
}

Json buildOlmPayload(std::string_view type, const Json& content, const OlmPayloadFields& f) {
    Json p = Json::object();
    p["type"] = type;
    p["content"] = content;
    p["sender"] = f.sender.str();
    p["sender_device"] = f.senderDevice.str();
    p["keys"] = Json{{std::string(kEd25519), f.senderEd25519.str()}};
    p["recipient"] = f.recipient.str();
    p["recipient_keys"] = Json{{std::string(kEd25519), f.recipientEd25519.str()}};
    if (f.senderDeviceKeys) p[std::string(kSenderDeviceKeys)] = *f.senderDeviceKeys;
    return p;
}

Result<MegolmEnvelope> parseMegolmEnvelope(const Json& content) {
    if (!content.is_object()) return fieldError("content", "must be an object");
    if (auto r = checkAlgorithm(content, kMegolmAlgorithm); !r) return r.error();
    const std::string* senderKey = nonEmptyString(content, "sender_key");
    if (senderKey == nullptr) return fieldError("sender_key", "must be a non-empty string");
    const std::string* sessionId = nonEmptyString(content, "session_id");
    if (sessionId == nullptr) return fieldError("session_id", "must be a non-empty string");
    const std::string* ciphertext = nonEmptyString(content, "ciphertext");
    if (ciphertext == nullptr) return fieldError("ciphertext", "must be a non-empty string");
    MegolmEnvelope e;
    e.senderKey = Curve25519Key(*senderKey);
    e.sessionId = MegolmSessionId(*sessionId);
    e.ciphertext = *ciphertext;
    if (const std::string* device = stringField(content, "device_id")) e.deviceId = DeviceId(*device);
    return e;
}

Json buildMegolmEnvelope(const MegolmEnvelope& e) {
    Json content = Json::object();
    content["algorithm"] = kMegolmAlgorithm;
    content["sender_key"] = e.senderKey.str();
    content["session_id"] = e.sessionId.str();
    content["ciphertext"] = e.ciphertext;
    content["device_id"] = e.deviceId.str();
    return content;
}

Result<MegolmPayload> parseMegolmPayload(std::string_view plaintext, const RoomId& room) {
    MXRTC_TRY_ASSIGN(j, parseObject(plaintext));
    const std::string* type = nonEmptyString(j, "type");
    if (type == nullptr) return fieldError("type", "must be a non-empty string");
    const Json* content = find(j, "content");
    if (content == nullptr || !content->is_object()) return fieldError("content", "must be an object");
    const std::string* roomId = stringField(j, "room_id");
    if (roomId == nullptr) return fieldError("room_id", "must be a string");
    if (*roomId != room.str())
        return forbidden("Megolm plaintext is for room " + *roomId + ", not this room");
    return MegolmPayload{*type, *content};
}

Json buildMegolmPayload(std::string_view type, const Json& content, const RoomId& room) {
    Json p = Json::object();
    p["type"] = type;
    p["content"] = content;
    p["room_id"] = room.str();
    return p;
}

Result<RoomKey> parseRoomKey(const Json& content) {
    if (!content.is_object()) return fieldError("content", "must be an object");
    if (auto r = checkAlgorithm(content, kMegolmAlgorithm); !r) return r.error();
    const std::string* room = nonEmptyString(content, "room_id");
    if (room == nullptr) return fieldError("room_id", "must be a non-empty string");
    const std::string* sessionId = nonEmptyString(content, "session_id");
    if (sessionId == nullptr) return fieldError("session_id", "must be a non-empty string");
    const std::string* sessionKey = nonEmptyString(content, "session_key");
    if (sessionKey == nullptr) return fieldError("session_key", "must be a non-empty string");
    return RoomKey{RoomId(*room), MegolmSessionId(*sessionId), *sessionKey};
}

Json buildRoomKey(const RoomKey& key) {
    Json content = Json::object();
    content["algorithm"] = kMegolmAlgorithm;
    content["room_id"] = key.roomId.str();
    content["session_id"] = key.sessionId.str();
    content["session_key"] = key.sessionKey;
    return content;
}

Result<DeviceKeys> parseDeviceKeys(const Json& object, const UserId& user, const DeviceId& device) {
    if (!object.is_object()) return fieldError("device_keys", "must be an object");
    const std::string* userId = stringField(object, "user_id");
    if (userId == nullptr) return fieldError("user_id", "must be a string");
    if (*userId != user.str()) return forbidden("device keys list user " + *userId + " under " + user.str());
    const std::string* deviceId = stringField(object, "device_id");
    if (deviceId == nullptr) return fieldError("device_id", "must be a string");
    if (*deviceId != device.str())
        return forbidden("device keys list device " + *deviceId + " under " + device.str());
    DeviceKeys k;
    k.user = user;
    k.device = device;
    if (const Json* algorithms = find(object, "algorithms")) {
        if (!algorithms->is_array()) return fieldError("algorithms", "must be an array");
        for (const auto& a : *algorithms) {
            if (!a.is_string()) return fieldError("algorithms", "must contain strings");
            k.algorithms.push_back(a.get<std::string>());
        }
    } else {
        return fieldError("algorithms", "is missing");
    }
    const Json* keys = find(object, "keys");
    if (keys == nullptr || !keys->is_object()) return fieldError("keys", "must be an object");
    const std::string* curve = nonEmptyString(*keys, std::string(kCurve25519) + ":" + device.str());
    if (curve == nullptr) return fieldError("keys.curve25519:" + device.str(), "must be a non-empty string");
    const std::string* ed = nonEmptyString(*keys, std::string(kEd25519) + ":" + device.str());
    if (ed == nullptr) return fieldError("keys.ed25519:" + device.str(), "must be a non-empty string");
    k.curve25519 = Curve25519Key(*curve);
    k.ed25519 = Ed25519Key(*ed);
    if (const Json* unsignedData = find(object, "unsigned")) {
        if (const std::string* name = stringField(*unsignedData, "device_display_name"))
            k.displayName = *name;
    }
    return k;
}

const std::string* findSignature(const Json& object, const UserId& user, std::string_view keyId) {
    const Json* signatures = find(object, "signatures");
    if (signatures == nullptr) return nullptr;
    const Json* byUser = find(*signatures, user.str());
    if (byUser == nullptr) return nullptr;
    return stringField(*byUser, keyId);
}

Result<SignedOneTimeKey> parseClaimedKey(const Json& deviceEntry) {
    if (!deviceEntry.is_object()) return fieldError("one_time_keys.<user>.<device>", "must be an object");
    if (deviceEntry.size() != 1)
        return fieldError("one_time_keys.<user>.<device>", "must hold exactly one key");
    const auto it = deviceEntry.begin();
    const std::string prefix = std::string(kSignedCurve25519) + ":";
    if (it.key().rfind(prefix, 0) != 0 || it.key().size() == prefix.size())
        return makeError(errcode::kUnsupported, "claimed key " + it.key() + " is not signed_curve25519");
    const Json& value = it.value();
    if (!value.is_object()) return fieldError(it.key(), "must be an object");
    const std::string* key = nonEmptyString(value, "key");
    if (key == nullptr) return fieldError(it.key() + ".key", "must be a non-empty string");
    SignedOneTimeKey k;
    k.keyId = it.key();
    k.key = Curve25519Key(*key);
    if (const Json* fallback = find(value, "fallback")) {
        if (!fallback->is_boolean()) return fieldError(it.key() + ".fallback", "must be a boolean");
        k.fallback = fallback->get<bool>();
    }
    return k;
}

}  // namespace mxrtc::e2ee
