#include "mxrtc/common/canonical_json.hpp"

#include <cmath>
#include <cstdint>

namespace mxrtc {

namespace {

constexpr std::int64_t kMaxSafeInteger = (std::int64_t{1} << 53) - 1;

// Valid UTF-8 per RFC 3629 (no overlongs, no surrogates, max U+10FFFF).
bool validUtf8(const std::string& s) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

void appendString(std::string& out, const std::string& s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(kHex[c >> 4]);
                    out.push_back(kHex[c & 0xF]);
                } else {
                    out.push_back(ch);
                }
        }
    }
    out.push_back('"');
}

Result<void> encode(const nlohmann::json& v, std::string& out, const std::string& path, int depth) {
    if (depth > 128) return makeError(errcode::kBadJson, path + ": nested too deeply");
    switch (v.type()) {
        case nlohmann::json::value_t::null:
            out += "null";
            return {};
        case nlohmann::json::value_t::boolean:
            out += v.get<bool>() ? "true" : "false";
            return {};
        case nlohmann::json::value_t::number_integer: {
            const auto i = v.get<std::int64_t>();
            if (i > kMaxSafeInteger || i < -kMaxSafeInteger)
                return makeError(errcode::kBadJson, path + ": integer out of the canonical JSON range");
            out += std::to_string(i);
            return {};
        }
        case nlohmann::json::value_t::number_unsigned: {
            const auto u = v.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(kMaxSafeInteger))
                return makeError(errcode::kBadJson, path + ": integer out of the canonical JSON range");
            out += std::to_string(u);
            return {};
        }
        case nlohmann::json::value_t::number_float: {
            // 1e10 and 2.0 are integers written differently (the spec's own example); 1.5 is not.
            const double d = v.get<double>();
            if (!std::isfinite(d) || std::floor(d) != d)
                return makeError(errcode::kBadJson,
                                 path + ": non-integral numbers are not allowed in canonical JSON");
            if (std::fabs(d) > static_cast<double>(kMaxSafeInteger))
                return makeError(errcode::kBadJson, path + ": integer out of the canonical JSON range");
            out += std::to_string(static_cast<std::int64_t>(d));
            return {};
        }
        case nlohmann::json::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            if (!validUtf8(s)) return makeError(errcode::kBadJson, path + ": string is not valid UTF-8");
            appendString(out, s);
            return {};
        }
        case nlohmann::json::value_t::array: {
            out.push_back('[');
            std::size_t i = 0;
            for (const auto& e : v) {
                if (i > 0) out.push_back(',');
                auto r = encode(e, out, path + "[" + std::to_string(i) + "]", depth + 1);
                if (!r) return r;
                ++i;
            }
            out.push_back(']');
            return {};
        }
        case nlohmann::json::value_t::object: {
            // nlohmann::json objects are std::map<std::string, ...>: iteration is in byte order,
            // which for UTF-8 is code-point order.
            out.push_back('{');
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (!validUtf8(it.key()))
                    return makeError(errcode::kBadJson, path + ": object key is not valid UTF-8");
                if (!first) out.push_back(',');
                first = false;
                appendString(out, it.key());
                out.push_back(':');
                auto r = encode(it.value(), out, path + "." + it.key(), depth + 1);
                if (!r) return r;
            }
            out.push_back('}');
            return {};
        }
        case nlohmann::json::value_t::binary:
        case nlohmann::json::value_t::discarded:
            break;
    }
    return makeError(errcode::kBadJson, path + ": not a JSON value");
}

}  // namespace

Result<std::string> canonicalJson(const nlohmann::json& value) {
    std::string out;
    auto r = encode(value, out, "$", 0);
    if (!r) return r.error();
    return out;
}

Result<std::string> canonicalJsonForSigning(const nlohmann::json& object) {
    if (!object.is_object()) return makeError(errcode::kBadJson, "$: a signed value must be a JSON object");
    nlohmann::json copy = object;
    copy.erase("signatures");
    copy.erase("unsigned");
    return canonicalJson(copy);
}

}  // namespace mxrtc
