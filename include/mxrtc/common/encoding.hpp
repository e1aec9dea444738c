// Byte encodings used on the Matrix/LiveKit wire: base64 (standard and URL alphabets, padded or
// not, decoded leniently as matrix-js-sdk does), hex, SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mxrtc {

using Bytes = std::vector<std::uint8_t>;

enum class Base64Alphabet { Standard, Url };
enum class Base64Padding { Padded, Unpadded };

std::string base64Encode(std::span<const std::uint8_t> bytes,
                         Base64Alphabet alphabet = Base64Alphabet::Standard,
                         Base64Padding padding = Base64Padding::Padded);
// Accepts both alphabets, with or without '=' padding. nullopt on any other character or a
// length that cannot be base64.
std::optional<Bytes> base64Decode(std::string_view text);

std::string hexEncode(std::span<const std::uint8_t> bytes);
std::optional<Bytes> hexDecode(std::string_view text);

// SHA-256 (OpenSSL).
std::array<std::uint8_t, 32> sha256(std::span<const std::uint8_t> bytes);
std::array<std::uint8_t, 32> sha256(std::string_view text);

inline std::span<const std::uint8_t> asBytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace mxrtc
