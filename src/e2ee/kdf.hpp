// Internal: the key-derivation primitives e2ee needs, on OpenSSL 3 (HKDF, PBKDF2, HMAC).
// Not on any per-frame path: keys are derived when they are set or ratcheted.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace mxrtc::e2ee::detail {

enum class Hash { Sha256, Sha512 };

// Full HKDF (extract + expand) writing out.size() bytes. False only on an OpenSSL failure.
bool hkdf(Hash hash, std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
          std::span<const std::uint8_t> info, std::span<std::uint8_t> out);
// HKDF-Extract (RFC 5869 §2.2): out must be the hash size.
bool hkdfExtract(Hash hash, std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm,
                 std::span<std::uint8_t> prk);
// HKDF-Expand (RFC 5869 §2.3).
bool hkdfExpand(Hash hash, std::span<const std::uint8_t> prk, std::span<const std::uint8_t> info,
                std::span<std::uint8_t> out);
bool pbkdf2Sha256(std::string_view password, std::span<const std::uint8_t> salt, unsigned iterations,
                  std::span<std::uint8_t> out);

}  // namespace mxrtc::e2ee::detail
