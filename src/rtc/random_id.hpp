// Internal: random identifiers for call ids and js-sdk's msgid (uniqueness is all they need).
#pragma once

#include <openssl/rand.h>

#include <string>

namespace mxrtc::rtc {

// 24 characters of [0-9A-Za-z] from OpenSSL's CSPRNG.
inline std::string randomToken() {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char raw[24];
    RAND_bytes(raw, sizeof raw);
    std::string out;
    out.reserve(sizeof raw);
    for (unsigned char c : raw)
        out.push_back(kAlphabet[c % (sizeof kAlphabet - 1)]);
    return out;
}

}  // namespace mxrtc::rtc
