// LiveKit participant identity and room alias derivation (spec §5.7, §8.3).
// One implementation, used by the call client (core) and by mxrtc-auth.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "mxrtc/common/ids.hpp"

namespace mxrtc::core {

// How the JSON array that gets hashed is serialised. matrix-js-sdk uses JSON.stringify (Js);
// lk-jwt-service uses Go's json.Marshal, which additionally escapes < > & U+2028 U+2029 (Go).
// Identities that contain those characters hash differently between the two (spec §8.3).
enum class JsonEscaping { Js, Go };

// One JSON string literal (quotes included), escaped as JS or Go would. mxrtc-auth uses the Go form
// for JWT payloads so that they are byte-identical to what lk-jwt-service (go-jose) signs.
std::string jsonQuote(std::string_view s, JsonEscaping escaping);
// Same, appended to `out` (no temporary).
void appendJsonQuoted(std::string& out, std::string_view s, JsonEscaping escaping);

// Compact JSON array of strings, e.g. ["a","b"], escaped as JS or Go would.
std::string jsonStringArray(std::initializer_list<std::string_view> items, JsonEscaping escaping);

// unpadded standard base64 of SHA-256(jsonStringArray(items)).
std::string hashJsonArray(std::initializer_list<std::string_view> items, JsonEscaping escaping);

// Identity of a per-device state membership (gen 2): "<user_id>:<device_id>".
std::string sessionMemberIdentity(const UserId& user, const DeviceId& device);

// Identity of a sticky rtc.member (gen 3) and of /get_token: b64(SHA-256(["user","device","member.id"])).
std::string hashedMemberIdentity(const UserId& user, const DeviceId& device, const MemberId& member,
                                 JsonEscaping escaping = JsonEscaping::Js);

// LiveKit room alias for (room, slot): b64(SHA-256(["room_id","slot_id"])).
std::string liveKitRoomAlias(const RoomId& room, const SlotId& slot,
                             JsonEscaping escaping = JsonEscaping::Js);

}  // namespace mxrtc::core
