#include "mxrtc/auth/requests.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "mxrtc/core/identity.hpp"

namespace mxrtc::auth {

namespace {

// lk-jwt-service answers every decode failure with this one message.
constexpr const char* kErrorReadingRequest = "Error reading request";

ErrorResponse notJson() {
    return ErrorResponse{400, makeError(errcode::kNotJson, kErrorReadingRequest)};
}
ErrorResponse badJson(std::string message) {
    return ErrorResponse{400, makeError(errcode::kBadJson, std::move(message))};
}

// Go's encoding/json matches a key to a field exactly, else case-insensitively (ASCII folding;
// the Unicode special cases K/ſ are not worth the code).
bool foldEquals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Where a decoded value goes. Objects are tables of fields; one level of nesting is enough here.
struct Field;
struct Table {
    const Field* fields;
    std::size_t size;
};
struct Field {
    enum class Kind { String, Secret, Int, Object } kind;
    std::string_view name;
    void* target;  // std::string* / Redacted<std::string>* / std::int64_t* ; unused for Object
    Table object{nullptr, 0};
};

// A small decoder with Go's encoding/json semantics for our flat request shapes, straight into
// the request struct (no DOM, no per-value allocations beyond the field strings):
//  * the first JSON value is decoded and anything after it is ignored (json.Decoder.Decode);
//  * strings: escapes as in JSON; invalid UTF-8 and lone surrogates become U+FFFD, as Go does;
//  * unknown keys, arrays, booleans, floats and type mismatches are errors (M_NOT_JSON).
class Decoder {
  public:
    explicit Decoder(std::string_view text) : m_p(text.data()), m_end(text.data() + text.size()) {}

    bool root(Table t) {
        ws();
        if (literal("null")) return true;  // decoding null into a struct is a no-op in Go
        return object(t, 0);
    }

  private:
    static constexpr int kMaxDepth = 2;

    void ws() {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\t' || *m_p == '\n' || *m_p == '\r'))
            ++m_p;
    }
    bool literal(std::string_view lit) {
        if (static_cast<std::size_t>(m_end - m_p) < lit.size() || std::string_view(m_p, lit.size()) != lit)
            return false;
        m_p += lit.size();
        return true;
    }

    bool object(Table t, int depth) {
        if (m_p == m_end || *m_p != '{') return false;
        ++m_p;
        ws();
        if (m_p < m_end && *m_p == '}') {
            ++m_p;
            return true;
        }
        std::string key;
        for (;;) {
            key.clear();
            if (!string(key)) return false;
            const Field* f = find(t, key);
            if (f == nullptr) return false;  // DisallowUnknownFields
            ws();
            if (m_p == m_end || *m_p != ':') return false;
            ++m_p;
            ws();
            if (!value(*f, depth)) return false;
            ws();
            if (m_p == m_end) return false;
            if (*m_p == ',') {
                ++m_p;
                ws();
                continue;
            }
            if (*m_p == '}') {
                ++m_p;
                return true;
            }
            return false;
        }
    }

    static const Field* find(Table t, std::string_view key) {
        const Field* match = nullptr;
        for (std::size_t i = 0; i < t.size; ++i)
            if (t.fields[i].name == key) return &t.fields[i];
        for (std::size_t i = 0; i < t.size && match == nullptr; ++i)
            if (foldEquals(t.fields[i].name, key)) match = &t.fields[i];
        return match;
    }

    bool value(const Field& f, int depth) {
        if (m_p == m_end) return false;
        if (*m_p == 'n') return literal("null");  // leaves the field as it is
        switch (f.kind) {
            case Field::Kind::String: {
                auto& out = *static_cast<std::string*>(f.target);
                out.clear();
                return string(out);
            }
            case Field::Kind::Secret: {
                std::string out;
                if (!string(out)) return false;
                *static_cast<Redacted<std::string>*>(f.target) = Redacted<std::string>(std::move(out));
                return true;
            }
            case Field::Kind::Int:
                return integer(*static_cast<std::int64_t*>(f.target));
            case Field::Kind::Object:
                return depth + 1 < kMaxDepth + 1 && object(f.object, depth + 1);
        }
        return false;
    }

    // Go int: an integer literal (no fraction or exponent) that fits in int64.
    bool integer(std::int64_t& out) {
        const char* start = m_p;
        bool negative = false;
        if (m_p < m_end && *m_p == '-') negative = true, ++m_p;
        if (m_p == m_end || *m_p < '0' || *m_p > '9') return false;
        if (*m_p == '0' && m_p + 1 < m_end && m_p[1] >= '0' && m_p[1] <= '9') return false;  // leading zero
        std::uint64_t v = 0;
        while (m_p < m_end && *m_p >= '0' && *m_p <= '9') {
            const auto digit = static_cast<std::uint64_t>(*m_p - '0');
            if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
            v = v * 10 + digit;
            ++m_p;
        }
        if (m_p < m_end && (*m_p == '.' || *m_p == 'e' || *m_p == 'E')) return false;
        const std::uint64_t limit =
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
        if (v > limit) return false;
        out = negative ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
        (void)start;
        return true;
    }

    static void appendUtf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool hex4(std::uint32_t& out) {
        if (m_end - m_p < 4) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_p[i];
            out <<= 4;
            if (c >= '0' && c <= '9')
                out |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                out |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                out |= static_cast<std::uint32_t>(c - 'A' + 10);
            else
                return false;
        }
        m_p += 4;
        return true;
    }

    // Length of a valid UTF-8 sequence at p (Go utf8.DecodeRune rules), 0 if invalid.
    std::size_t utf8Length(const unsigned char* p) const {
        const auto avail = static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(m_end) - p);
        const unsigned char c = p[0];
        auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
            return i < avail && p[i] >= lo && p[i] <= hi;
        };
        if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
        if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
        if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
        if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
        if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
        if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
        if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
        return 0;
    }

    bool string(std::string& out) {
        if (m_p == m_end || *m_p != '"') return false;
        ++m_p;
        for (;;) {
            // Copy the run of plain ASCII in one go.
            const char* run = m_p;
            while (m_p < m_end) {
                const auto c = static_cast<unsigned char>(*m_p);
                if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
                ++m_p;
            }
            out.append(run, static_cast<std::size_t>(m_p - run));
            if (m_p == m_end) return false;
            const auto c = static_cast<unsigned char>(*m_p);
            if (c == '"') {
                ++m_p;
                return true;
            }
            if (c < 0x20) return false;  // raw control characters are invalid JSON
            if (c >= 0x80) {
                const std::size_t n = utf8Length(reinterpret_cast<const unsigned char*>(m_p));
                if (n == 0) {
                    out += "\xEF\xBF\xBD";  // Go: invalid byte -> U+FFFD
                    ++m_p;
                } else {
                    out.append(m_p, n);
                    m_p += n;
                }
                continue;
            }
            // Escape.
            if (++m_p == m_end) return false;
            const char e = *m_p++;
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp < 0xDC00) {
                        // High surrogate: combine with a following low surrogate, else U+FFFD.
                        std::uint32_t lo = 0;
                        const char* save = m_p;
                        if (m_end - m_p >= 6 && m_p[0] == '\\' && m_p[1] == 'u') {
                            m_p += 2;
                            if (hex4(lo) && lo >= 0xDC00 && lo < 0xE000) {
                                appendUtf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                                break;
                            }
                        }
                        m_p = save;
                        appendUtf8(out, 0xFFFD);
                    } else if (cp >= 0xDC00 && cp < 0xE000) {
                        appendUtf8(out, 0xFFFD);
                    } else {
                        appendUtf8(out, cp);
                    }
                    break;
                }
                default:
                    return false;
            }
        }
    }

    const char* m_p;
    const char* m_end;
};

bool decode(std::string_view body, Table root) {
    Decoder d(body);
    return d.root(root);
}

template <std::size_t N>
Table table(const Field (&fields)[N]) {
    return Table{fields, N};
}

Field str(std::string_view name, std::string& s) {
    return Field{Field::Kind::String, name, &s};
}
Field secret(std::string_view name, Redacted<std::string>& s) {
    return Field{Field::Kind::Secret, name, &s};
}
Field integer(std::string_view name, std::int64_t& v) {
    return Field{Field::Kind::Int, name, &v};
}
Field object(std::string_view name, Table t) {
    return Field{Field::Kind::Object, name, nullptr, t};
}

bool delayParamsInconsistent(const std::string& delayId, std::int64_t delayTimeout) {
    const bool all = !delayId.empty() && delayTimeout > 0;
    const bool any = !delayId.empty() || delayTimeout > 0;
    return any && !all;
}

constexpr const char* kMissingDelayParams = "The request body is missing `delay_id` or `delay_timeout`";

// lk-jwt-service's validation messages, per body shape (the legacy body has no member).
struct Messages {
    const char* missingRoom;
    const char* missingMember;
    const char* missingToken;
};
constexpr Messages kLegacyMessages{"Missing room parameter", nullptr, "Missing OpenID token parameters"};
constexpr Messages kGetTokenMessages{
    "The request body is missing `room_id` or `slot_id`",
    "The request body `member` is missing a `id`, `claimed_user_id` or `claimed_device_id`",
    "The request body `openid_token` is missing a `access_token` or `matrix_server_name`"};
constexpr Messages kDelegateMessages{
    "The request body is missing `room_id` or `slot_id`",
    "The request body `member` is missing `id`, `claimed_user_id` or `claimed_device_id`",
    "The request body `openid_token` is missing `access_token` or `matrix_server_name`"};

}  // namespace

// The one field reader for all three bodies: the key tables differ only in the room key, the
// legacy device_id and the member object; validation differs only in messages and in whether the
// delay parameters are required.
Parsed<TokenRequest> parseTokenRequest(RequestKind kind, std::string_view body) {
    TokenRequest r;
    r.kind = kind;
    const bool legacy = kind == RequestKind::LegacySfuGet;
    const Field token[] = {secret(field::kAccessToken, r.openIdToken.accessToken),
                           str(field::kTokenType, r.openIdToken.tokenType),
                           str(field::kMatrixServerName, r.openIdToken.matrixServerName),
                           integer(field::kExpiresIn, r.openIdToken.expiresIn)};
    const Field member[] = {str(field::kMemberId, r.member.id),
                            str(field::kClaimedUserId, r.member.claimedUserId),
                            str(field::kClaimedDeviceId, r.member.claimedDeviceId)};
    const Field legacyRoot[] = {str(field::kRoom, r.roomId),
                                object(field::kOpenIdToken, table(token)),
                                str(field::kDeviceId, r.deviceId),
                                str(field::kDelayId, r.delayId),
                                integer(field::kDelayTimeout, r.delayTimeout),
                                str(field::kDelayCsApiUrl, r.delayCsApiUrl)};
    const Field root[] = {str(field::kRoomId, r.roomId),
                          str(field::kSlotId, r.slotId),
                          object(field::kOpenIdToken, table(token)),
                          object(field::kMember, table(member)),
                          str(field::kDelayId, r.delayId),
                          integer(field::kDelayTimeout, r.delayTimeout),
                          str(field::kDelayCsApiUrl, r.delayCsApiUrl)};
    if (!decode(body, legacy ? table(legacyRoot) : table(root))) return notJson();

    const Messages& m = legacy                          ? kLegacyMessages
                        : kind == RequestKind::GetToken ? kGetTokenMessages
                                                        : kDelegateMessages;
    if (r.roomId.empty() || (!legacy && r.slotId.empty())) return badJson(m.missingRoom);
    if (!legacy &&
        (r.member.id.empty() || r.member.claimedUserId.empty() || r.member.claimedDeviceId.empty()))
        return badJson(m.missingMember);
    if (r.openIdToken.accessToken.empty() || r.openIdToken.matrixServerName.empty())
        return badJson(m.missingToken);
    if (kind == RequestKind::DelegateDelayedLeave ? (r.delayId.empty() || r.delayTimeout <= 0)
                                                  : delayParamsInconsistent(r.delayId, r.delayTimeout))
        return badJson(kMissingDelayParams);
    if (legacy) r.slotId = std::string(kLegacySlotId);
    return r;
}

Parsed<LegacySfuRequest> parseLegacySfuRequest(std::string_view body) {
    auto parsed = parseTokenRequest(RequestKind::LegacySfuGet, body);
    if (auto* e = std::get_if<ErrorResponse>(&parsed)) return std::move(*e);
    auto& r = std::get<TokenRequest>(parsed);
    return LegacySfuRequest{std::move(r.roomId),  std::move(r.openIdToken), std::move(r.deviceId),
                            std::move(r.delayId), r.delayTimeout,           std::move(r.delayCsApiUrl)};
}

Parsed<GetTokenRequest> parseGetTokenRequest(std::string_view body) {
    auto parsed = parseTokenRequest(RequestKind::GetToken, body);
    if (auto* e = std::get_if<ErrorResponse>(&parsed)) return std::move(*e);
    auto& r = std::get<TokenRequest>(parsed);
    return GetTokenRequest{std::move(r.roomId),       std::move(r.slotId),  std::move(r.openIdToken),
                           std::move(r.member),       std::move(r.delayId), r.delayTimeout,
                           std::move(r.delayCsApiUrl)};
}

Parsed<DelegateDelayedLeaveRequest> parseDelegateDelayedLeaveRequest(std::string_view body) {
    auto parsed = parseTokenRequest(RequestKind::DelegateDelayedLeave, body);
    if (auto* e = std::get_if<ErrorResponse>(&parsed)) return std::move(*e);
    auto& r = std::get<TokenRequest>(parsed);
    return DelegateDelayedLeaveRequest{
        std::move(r.roomId),  std::move(r.slotId), std::move(r.openIdToken),  std::move(r.member),
        std::move(r.delayId), r.delayTimeout,      std::move(r.delayCsApiUrl)};
}

// Bodies as Go's json.Encoder writes them: compact, HTML-escaped strings, trailing newline.
std::string errorBody(const Error& error, std::int64_t retryAfterMs) {
    std::string out = "{\"errcode\":";
    core::appendJsonQuoted(out, error.errcode, core::JsonEscaping::Go);
    out += ",\"error\":";
    core::appendJsonQuoted(out, error.message, core::JsonEscaping::Go);
    if (retryAfterMs >= 0) out += ",\"retry_after_ms\":" + std::to_string(retryAfterMs);
    out += "}\n";
    return out;
}

std::string tokenResponseBody(std::string_view url, std::string_view jwt) {
    std::string out;
    out.reserve(url.size() + jwt.size() + 24);
    out += "{\"url\":";
    core::appendJsonQuoted(out, url, core::JsonEscaping::Go);
    out += ",\"jwt\":";
    const auto isJwsChar = [](unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.';
    };
    if (std::all_of(jwt.begin(), jwt.end(),
                    [&](char c) { return isJwsChar(static_cast<unsigned char>(c)); })) {
        out.push_back('"');  // a compact JWS is base64url and dots: nothing to escape
        out.append(jwt);
        out.push_back('"');
    } else {
        core::appendJsonQuoted(out, jwt, core::JsonEscaping::Go);
    }
    out += "}\n";
    return out;
}

}  // namespace mxrtc::auth
