#include "mxrtc/core/identity.hpp"

#include <cstdint>

#include "mxrtc/common/encoding.hpp"

namespace mxrtc::core {

namespace {

void appendUnicodeEscape(std::string& out, std::uint32_t cp) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\u";
    out.push_back(kHex[(cp >> 12) & 15]);
    out.push_back(kHex[(cp >> 8) & 15]);
    out.push_back(kHex[(cp >> 4) & 15]);
    out.push_back(kHex[cp & 15]);
}

// Bytes that leave the fast path: control characters, '"', '\\'; for Go also < > & and 0xE2
// (the lead byte of U+2028/U+2029, checked in the slow path).
struct EscapeTable {
    bool js[256]{};
    bool go[256]{};
    constexpr EscapeTable() {
        for (int c = 0; c < 0x20; ++c)
            js[c] = go[c] = true;
        for (unsigned char c : {'"', '\\'})
            js[c] = go[c] = true;
        for (unsigned char c : {'<', '>', '&'})
            go[c] = true;
        go[0xE2] = true;
    }
};
constexpr EscapeTable kEscapeTable{};

void appendJsonString(std::string& out, std::string_view s, JsonEscaping escaping) {
    out.push_back('"');
    for (std::size_t i = 0; i < s.size(); ++i) {
        // Fast path: copy the run of bytes that need no escaping in one append.
        const bool* table = escaping == JsonEscaping::Go ? kEscapeTable.go : kEscapeTable.js;
        std::size_t run = i;
        while (run < s.size() && !table[static_cast<unsigned char>(s[run])])
            ++run;
        if (run > i) {
            out.append(s.data() + i, run - i);
            i = run;
            if (i == s.size()) break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\b':
                out += "\\b";
                continue;
            case '\f':
                out += "\\f";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            default:
                break;
        }
        if (c < 0x20) {
            appendUnicodeEscape(out, c);
            continue;
        }
        if (escaping == JsonEscaping::Go) {
            if (c == '<' || c == '>' || c == '&') {
                appendUnicodeEscape(out, c);
                continue;
            }
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
            if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                 static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
                appendUnicodeEscape(out, static_cast<unsigned char>(s[i + 2]) == 0xA8 ? 0x2028 : 0x2029);
                i += 2;
                continue;
            }
        }
        out.push_back(static_cast<char>(c));
    }
    out.push_back('"');
}

}  // namespace

void appendJsonQuoted(std::string& out, std::string_view s, JsonEscaping escaping) {
    appendJsonString(out, s, escaping);
}

std::string jsonQuote(std::string_view s, JsonEscaping escaping) {
    std::string out;
    out.reserve(s.size() + 2);
    appendJsonString(out, s, escaping);
    return out;
}

std::string jsonStringArray(std::initializer_list<std::string_view> items, JsonEscaping escaping) {
    std::string out = "[";
    bool first = true;
    for (auto item : items) {
        if (!first) out.push_back(',');
        first = false;
        appendJsonString(out, item, escaping);
    }
    out.push_back(']');
    return out;
}

std::string hashJsonArray(std::initializer_list<std::string_view> items, JsonEscaping escaping) {
    const auto digest = sha256(jsonStringArray(items, escaping));
    return base64Encode(digest, Base64Alphabet::Standard, Base64Padding::Unpadded);
}

std::string sessionMemberIdentity(const UserId& user, const DeviceId& device) {
    return user.str() + ":" + device.str();
}

std::string hashedMemberIdentity(const UserId& user, const DeviceId& device, const MemberId& member,
                                 JsonEscaping escaping) {
    return hashJsonArray({user.str(), device.str(), member.str()}, escaping);
}

std::string liveKitRoomAlias(const RoomId& room, const SlotId& slot, JsonEscaping escaping) {
    return hashJsonArray({room.str(), slot.str()}, escaping);
}

}  // namespace mxrtc::core
