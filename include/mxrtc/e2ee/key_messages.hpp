// Media-key messages (spec §5.2, §5.3, §5.5, vectors §12.4): parse and build.
//
//  * to-device `io.element.call.encryption_keys` (current js-sdk / Element Call; must arrive
//    Olm-encrypted): {"keys":{"index","key"}, "member":{"id","claimed_device_id"}, "room_id",
//    "session":{...}, "sent_ts"}
//  * room event `io.element.call.encryption_keys` (legacy): {"keys":[{"index","key"}], "device_id",
//    "call_id":"", "sent_ts"}
//  * Famedly key request `com.famedly.call.member.encryption_keys_request` {conf_id, device_id, room_id}
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::e2ee {

inline constexpr std::string_view kEncryptionKeysType = "io.element.call.encryption_keys";
inline constexpr std::string_view kFamedlyKeyRequestType = "com.famedly.call.member.encryption_keys_request";

struct MediaKey {
    std::uint8_t index = 0;
    Bytes key;
};

// A key as received, after validation: who sent it (as the transport authenticated it), which
// device and member it claims, and when (to drop outdated keys).
struct ReceivedKey {
    UserId sender;
    DeviceId device;
    std::string memberId;  // falls back to "<sender>:<device>"
    MediaKey key;
    TimePoint timestamp;
};

// How a to-device message arrived. Plaintext key messages are refused (MSC4143; spec §12.4 K5),
// and an Olm message must come from the device it names.
struct ToDeviceOrigin {
    UserId sender;
    bool encrypted = false;
    DeviceId senderDevice;  // the Olm-verified sending device ("" if the transport cannot tell)
};

// Validates a to-device key message for `roomId`. Errors name the field (M_BAD_JSON) or the policy
// (M_FORBIDDEN for plaintext / device mismatch). `receivedAt` becomes the key timestamp.
Result<ReceivedKey> parseToDeviceKeyMessage(const nlohmann::json& content, const ToDeviceOrigin& origin,
                                            const RoomId& roomId, TimePoint receivedAt);

// Validates a legacy room-event key message; ignores nothing itself: the caller drops our own
// (user, device) echo (K9) with isOwnEcho(). Every entry of "keys" is returned.
Result<std::vector<ReceivedKey>> parseRoomKeyEvent(const nlohmann::json& content, const UserId& sender,
                                                   TimePoint originServerTs);

struct KeyMessageSession {
    std::string application{"m.call"};
    std::string callId;
    std::string scope{"m.room"};
};

// Exactly what js-sdk sends (padded standard base64 key).
nlohmann::json buildToDeviceKeyMessage(const MediaKey& key, const std::string& memberId,
                                       const DeviceId& device, const RoomId& roomId,
                                       const KeyMessageSession& session, TimePoint sentAt);
// Legacy room-event form (unpadded base64), for peers that still only read room events.
nlohmann::json buildRoomKeyEvent(const MediaKey& key, const DeviceId& device, TimePoint sentAt);

struct KeyRequest {
    UserId sender;
    DeviceId device;
    std::string confId;
};
Result<KeyRequest> parseKeyRequest(const nlohmann::json& content, const UserId& sender, const RoomId& roomId);

}  // namespace mxrtc::e2ee
