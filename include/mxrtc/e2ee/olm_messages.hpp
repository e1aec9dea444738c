// Matrix end-to-end encryption wire formats (Olm to-device, Megolm room events, device keys):
// parse and build, with no crypto state. The crypto lives in the `olm` edge module (libolm);
// everything here is pure so that it can be fuzzed and unit-tested on its own.
//
//  * m.room.encrypted, m.olm.v1.curve25519-aes-sha2:
//      {"algorithm", "sender_key", "ciphertext": {"<recipient curve25519>": {"type": 0|1, "body"}}}
//    decrypted plaintext: {"type", "content", "sender", "sender_device", "recipient",
//                          "recipient_keys": {"ed25519"}, "keys": {"ed25519"},
//                          "sender_device_keys": {device keys, MSC4147}}
//  * m.room.encrypted, m.megolm.v1.aes-sha2:
//      {"algorithm", "sender_key", "ciphertext", "session_id", "device_id"}
//    decrypted plaintext: {"type", "content", "room_id"}
//  * m.room_key (sent inside Olm): {"algorithm", "room_id", "session_id", "session_key"}
//  * device keys (/keys/upload, /keys/query): {"user_id", "device_id", "algorithms",
//      "keys": {"curve25519:<dev>", "ed25519:<dev>"}, "signatures": {...}, "unsigned": {...}}
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"

namespace mxrtc::e2ee {

inline constexpr std::string_view kRoomEncryptedType = "m.room.encrypted";
inline constexpr std::string_view kOlmAlgorithm = "m.olm.v1.curve25519-aes-sha2";
inline constexpr std::string_view kMegolmAlgorithm = "m.megolm.v1.aes-sha2";
inline constexpr std::string_view kRoomKeyType = "m.room_key";
inline constexpr std::string_view kDummyType = "m.dummy";
inline constexpr std::string_view kSignedCurve25519 = "signed_curve25519";
inline constexpr std::string_view kCurve25519 = "curve25519";
inline constexpr std::string_view kEd25519 = "ed25519";
// MSC4147 (Matrix 1.15): the sender's signed device keys inside the Olm plaintext, so that a
// receiver that has not queried them yet can still authenticate the sending device.
inline constexpr std::string_view kSenderDeviceKeys = "sender_device_keys";

struct Curve25519Tag {};
struct Ed25519Tag {};
struct OlmSessionIdTag {};
struct MegolmSessionIdTag {};
using Curve25519Key = StrongId<Curve25519Tag>;         // unpadded base64 public key
using Ed25519Key = StrongId<Ed25519Tag>;               // unpadded base64 public key
using OlmSessionId = StrongId<OlmSessionIdTag>;        // libolm session id
using MegolmSessionId = StrongId<MegolmSessionIdTag>;  // Megolm session id (unpadded base64)

// ---- Olm to-device -------------------------------------------------------------------------------
enum class OlmMessageType { PreKey = 0, Normal = 1 };

// Our entry of an Olm-encrypted to-device message.
struct OlmEnvelope {
    Curve25519Key senderKey;
    OlmMessageType type = OlmMessageType::PreKey;
    std::string body;  // base64 Olm message, as libolm takes it
};

// Parses the content of an m.room.encrypted to-device event and picks the ciphertext addressed to
// `ourKey`. M_BAD_JSON naming the field; MXRTC_UNSUPPORTED for another algorithm; M_NOT_FOUND if
// the message has no ciphertext for us.
Result<OlmEnvelope> parseOlmEnvelope(const nlohmann::json& content, const Curve25519Key& ourKey);

nlohmann::json buildOlmEnvelope(const Curve25519Key& senderKey, const Curve25519Key& recipientKey,
                                OlmMessageType type, const std::string& body);

// Who we are, as the decrypted plaintext must say.
struct OlmRecipient {
    UserId user;
    Ed25519Key ed25519;
};

struct OlmPayload {
    std::string type;
    nlohmann::json content;
    UserId sender;
    std::optional<DeviceId> senderDevice;            // "sender_device" as claimed (absent in old clients)
    Ed25519Key senderEd25519;                        // "keys.ed25519" as claimed
    std::optional<nlohmann::json> senderDeviceKeys;  // "sender_device_keys" (unverified here)
};

// Validates a decrypted Olm plaintext: JSON object; "type" non-empty string; "content" object;
// "sender" equals the to-device event's sender; "recipient" and "recipient_keys.ed25519" are us;
// "keys.ed25519" a string; "sender_device" (if present) a non-empty string; "sender_device_keys"
// (if present) an object. Mismatches are M_FORBIDDEN, shape errors M_BAD_JSON.
Result<OlmPayload> parseOlmPayload(std::string_view plaintext, const UserId& eventSender,
                                   const OlmRecipient& us);

struct OlmPayloadFields {
    UserId sender;
    DeviceId senderDevice;
    Ed25519Key senderEd25519;
    UserId recipient;
    Ed25519Key recipientEd25519;
    std::optional<nlohmann::json> senderDeviceKeys;  // our signed device keys (MSC4147), if given
};
nlohmann::json buildOlmPayload(std::string_view type, const nlohmann::json& content,
                               const OlmPayloadFields& fields);

// ---- Megolm room events -----------------------------------------------------------------------
struct MegolmEnvelope {
    Curve25519Key senderKey;
    MegolmSessionId sessionId;
    std::string ciphertext;
    DeviceId deviceId;  // informational only (deprecated in the spec); "" if absent
};
Result<MegolmEnvelope> parseMegolmEnvelope(const nlohmann::json& content);
nlohmann::json buildMegolmEnvelope(const MegolmEnvelope& envelope);

struct MegolmPayload {
    std::string type;
    nlohmann::json content;
};
// "room_id" must equal `room` (M_FORBIDDEN otherwise: a session replayed into another room).
Result<MegolmPayload> parseMegolmPayload(std::string_view plaintext, const RoomId& room);
nlohmann::json buildMegolmPayload(std::string_view type, const nlohmann::json& content, const RoomId& room);

// m.room_key content (only ever accepted from inside an Olm message).
struct RoomKey {
    RoomId roomId;
    MegolmSessionId sessionId;
    std::string sessionKey;  // base64 exported Megolm session key (a secret)
};
Result<RoomKey> parseRoomKey(const nlohmann::json& content);
nlohmann::json buildRoomKey(const RoomKey& key);

// ---- device keys ------------------------------------------------------------------------------
struct DeviceKeys {
    UserId user;
    DeviceId device;
    std::vector<std::string> algorithms;
    Curve25519Key curve25519;
    Ed25519Key ed25519;
    std::string displayName;  // unsigned.device_display_name, "" if absent
};

// Shape checks of one device-keys object as listed under device_keys[user][device] in a
// /keys/query response: "user_id"/"device_id" must equal the map keys (M_FORBIDDEN), the keys
// "curve25519:<device>" and "ed25519:<device>" must be present. The signature is checked by the
// caller (it needs ed25519).
Result<DeviceKeys> parseDeviceKeys(const nlohmann::json& object, const UserId& user, const DeviceId& device);

// signatures[user]["ed25519:<device>"] (or any key id given), nullptr if absent / not a string.
const std::string* findSignature(const nlohmann::json& object, const UserId& user, std::string_view keyId);

// ---- one-time keys ---------------------------------------------------------------------------
struct SignedOneTimeKey {
    std::string keyId;  // "signed_curve25519:AAAAAQ"
    Curve25519Key key;
    bool fallback = false;
};
// One entry of a /keys/claim response (one_time_keys[user][device] is {"<algo>:<id>": {...}}):
// exactly one signed_curve25519 key. The signature is checked by the caller.
Result<SignedOneTimeKey> parseClaimedKey(const nlohmann::json& deviceEntry);

}  // namespace mxrtc::e2ee
