// Shared vocabulary of the olm module: the pickle key, the random source, device references and
// the error codes its results carry.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/redacted.hpp"
#include "mxrtc/e2ee/olm_messages.hpp"

namespace mxrtc::olm {

// The user-controlled secret that encrypts every pickle (libolm: AES-256-CBC + HMAC-SHA-256
// under keys derived from it with HKDF-SHA-256). Use 32 random bytes; it is not stretched.
using PickleKey = Redacted<std::string>;

// Fills the span with cryptographically secure random bytes. systemRandom() = OpenSSL RAND_bytes.
using RandomSource = std::function<void(std::span<std::uint8_t>)>;
RandomSource systemRandom();

struct IdentityKeys {
    e2ee::Curve25519Key curve25519;
    e2ee::Ed25519Key ed25519;
};

struct DeviceRef {
    UserId user;
    DeviceId device;
    friend auto operator<=>(const DeviceRef&, const DeviceRef&) = default;
    friend bool operator==(const DeviceRef&, const DeviceRef&) = default;
};

namespace errcode {
inline constexpr const char* kOlm = "MXRTC_OLM";                           // libolm refused an input
inline constexpr const char* kBadPickleKey = "MXRTC_OLM_BAD_PICKLE_KEY";   // wrong key or corrupt pickle
inline constexpr const char* kDecryptFailed = "MXRTC_OLM_DECRYPT_FAILED";  // no session could decrypt
inline constexpr const char* kNoSession = "MXRTC_OLM_NO_SESSION";          // claim a one-time key first
inline constexpr const char* kUnknownDevice = "MXRTC_OLM_UNKNOWN_DEVICE";  // query its keys first
inline constexpr const char* kBadSignature = "MXRTC_OLM_BAD_SIGNATURE";    // ed25519 verification failed
inline constexpr const char* kUnknownGroupSession = "MXRTC_MEGOLM_UNKNOWN_SESSION";  // no room key (yet)
inline constexpr const char* kReplay = "MXRTC_MEGOLM_REPLAY";  // a message index reused by another event
}  // namespace errcode

}  // namespace mxrtc::olm
