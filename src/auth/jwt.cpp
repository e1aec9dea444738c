#include "mxrtc/auth/jwt.hpp"

// HMAC-SHA256 is built from OpenSSL's SHA256_CTX (deprecated in 3.0, still shipped and
// SHA-NI accelerated): the keyed inner/outer states are computed once and copied by value per
// token, which avoids EVP_MAC's per-call context allocations on the hot path.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <vector>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/core/identity.hpp"

namespace mxrtc::auth {

namespace {

using core::JsonEscaping;

std::int64_t unixSeconds(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Unpadded base64url, written in place (the hot path encodes ~0.5 KB per token).
void appendB64url(std::string& out, std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    const std::size_t start = out.size();
    out.resize(start + (n * 4 + 2) / 3);
    char* o = out.data() + start;
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
        *o++ = kAlphabet[v >> 18];
        *o++ = kAlphabet[(v >> 12) & 63];
        *o++ = kAlphabet[(v >> 6) & 63];
        *o++ = kAlphabet[v & 63];
    }
    if (n - i == 1) {
        const std::uint32_t v = std::uint32_t{in[i]} << 16;
        *o++ = kAlphabet[v >> 18];
        *o++ = kAlphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8);
        *o++ = kAlphabet[v >> 18];
        *o++ = kAlphabet[(v >> 12) & 63];
        *o++ = kAlphabet[(v >> 6) & 63];
    }
}

std::string b64url(std::string_view bytes) {
    std::string out;
    appendB64url(out, bytes);
    return out;
}

// Appends `"key":value` with a leading comma when needed.
class ObjectWriter {
  public:
    explicit ObjectWriter(std::string& out) : m_out(out) { m_out.push_back('{'); }
    void raw(std::string_view key, std::string_view value) {
        if (!m_first) m_out.push_back(',');
        m_first = false;
        m_out.push_back('"');
        m_out.append(key);  // keys are fixed ASCII identifiers
        m_out.append("\":");
        m_out.append(value);
    }
    void str(std::string_view key, std::string_view value) {
        raw(key, {});
        core::appendJsonQuoted(m_out, value, JsonEscaping::Go);
    }
    void boolean(std::string_view key, bool value) { raw(key, value ? "true" : "false"); }
    void close() { m_out.push_back('}'); }

  private:
    std::string& m_out;
    bool m_first = true;
};

std::string videoJson(const VideoGrant& v) {
    // livekit/protocol auth.VideoGrant field order.
    std::string out;
    ObjectWriter w(out);
    if (v.roomCreate) w.boolean("roomCreate", true);
    if (v.roomList) w.boolean("roomList", true);
    if (v.roomAdmin) w.boolean("roomAdmin", true);
    if (v.roomJoin) w.boolean("roomJoin", true);
    if (!v.room.empty()) w.str("room", v.room);
    if (v.canPublish) w.boolean("canPublish", *v.canPublish);
    if (v.canSubscribe) w.boolean("canSubscribe", *v.canSubscribe);
    if (v.canPublishData) w.boolean("canPublishData", *v.canPublishData);
    if (v.canUpdateOwnMetadata) w.boolean("canUpdateOwnMetadata", *v.canUpdateOwnMetadata);
    if (v.hidden) w.boolean("hidden", true);
    w.close();
    return out;
}

constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

Error unauthorized(std::string message) {
    return makeError(errcode::kUnauthorized, std::move(message));
}

std::optional<bool> optBool(const nlohmann::json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_boolean()) return std::nullopt;
    return it->get<bool>();
}

// Untrusted JSON never throws: a member of another type reads as absent.
std::string strOr(const nlohmann::json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}
bool boolOr(const nlohmann::json& obj, const char* key) {
    return optBool(obj, key).value_or(false);
}

}  // namespace

AccessTokenClaims joinTokenClaims(std::string_view apiKey, std::string_view identity,
                                  std::string_view roomAlias, TimePoint now) {
    AccessTokenClaims c;
    c.issuer = std::string(apiKey);
    c.subject = std::string(identity);
    c.identity = c.subject;
    c.notBefore = unixSeconds(now);
    c.issuedAt = c.notBefore;
    c.expiry = c.notBefore + kJoinTokenValiditySeconds;
    VideoGrant v;
    v.roomJoin = true;
    v.room = std::string(roomAlias);
    v.canPublish = true;
    v.canSubscribe = true;
    v.canUpdateOwnMetadata = true;
    c.video = std::move(v);
    return c;
}

AccessTokenClaims roomCreateTokenClaims(std::string_view apiKey, TimePoint now) {
    AccessTokenClaims c;
    c.issuer = std::string(apiKey);
    c.notBefore = unixSeconds(now);
    c.issuedAt = c.notBefore;
    c.expiry = c.notBefore + kAdminTokenValiditySeconds;
    VideoGrant v;
    v.roomCreate = true;
    c.video = std::move(v);
    return c;
}

std::string claimsPayloadJson(const AccessTokenClaims& c) {
    std::string out;
    out.reserve(256);
    ObjectWriter w(out);
    // golang-jwt RegisteredClaims (iss, sub, aud, exp, nbf, iat, jti), then livekit ClaimGrants.
    if (!c.issuer.empty()) w.str("iss", c.issuer);
    if (!c.subject.empty()) w.str("sub", c.subject);
    w.raw("exp", std::to_string(c.expiry));
    w.raw("nbf", std::to_string(c.notBefore));
    if (c.issuedAt != 0) w.raw("iat", std::to_string(c.issuedAt));
    if (!c.identity.empty()) w.str("identity", c.identity);
    if (!c.name.empty()) w.str("name", c.name);
    if (c.video) w.raw("video", videoJson(*c.video));
    if (!c.sha256.empty()) w.str("sha256", c.sha256);
    if (!c.metadata.empty()) w.str("metadata", c.metadata);
    w.close();
    return out;
}

void appendJoinTokenPayload(std::string& out, std::string_view apiKey, std::string_view identity,
                            std::string_view roomAlias, TimePoint now) {
    // Field for field what claimsPayloadJson(joinTokenClaims(...)) writes (jwt_test checks it).
    const auto nbf = unixSeconds(now);
    char num[24];
    auto appendInt = [&](std::int64_t v) {
        const auto r = std::to_chars(num, num + sizeof num, v);
        out.append(num, static_cast<std::size_t>(r.ptr - num));
    };
    ObjectWriter w(out);
    if (!apiKey.empty()) w.str("iss", apiKey);
    if (!identity.empty()) w.str("sub", identity);
    w.raw("exp", {});
    appendInt(nbf + kJoinTokenValiditySeconds);
    w.raw("nbf", {});
    appendInt(nbf);
    if (nbf != 0) {
        w.raw("iat", {});
        appendInt(nbf);
    }
    if (!identity.empty()) w.str("identity", identity);
    w.raw("video", {});
    {
        ObjectWriter v(out);
        v.boolean("roomJoin", true);
        if (!roomAlias.empty()) v.str("room", roomAlias);
        v.boolean("canPublish", true);
        v.boolean("canSubscribe", true);
        v.boolean("canUpdateOwnMetadata", true);
        v.close();
    }
    w.close();
}

struct Hs256Signer::Impl {
    SHA256_CTX inner;  // after absorbing key ^ ipad
    SHA256_CTX outer;  // after absorbing key ^ opad
};

Hs256Signer::Hs256Signer(const Redacted<std::string>& secret) : m_impl(std::make_unique<Impl>()) {
    constexpr std::size_t kBlock = 64;
    std::array<unsigned char, kBlock> key{};
    const auto& k = secret.exposeSecret();
    if (k.size() > kBlock) {
        SHA256(reinterpret_cast<const unsigned char*>(k.data()), k.size(), key.data());
    } else {
        std::copy(k.begin(), k.end(), key.begin());
    }
    std::array<unsigned char, kBlock> pad{};
    for (std::size_t i = 0; i < kBlock; ++i)
        pad[i] = key[i] ^ 0x36;
    SHA256_Init(&m_impl->inner);
    SHA256_Update(&m_impl->inner, pad.data(), kBlock);
    for (std::size_t i = 0; i < kBlock; ++i)
        pad[i] = key[i] ^ 0x5c;
    SHA256_Init(&m_impl->outer);
    SHA256_Update(&m_impl->outer, pad.data(), kBlock);
    OPENSSL_cleanse(key.data(), key.size());
    OPENSSL_cleanse(pad.data(), pad.size());
}

Hs256Signer::~Hs256Signer() {
    if (m_impl) OPENSSL_cleanse(m_impl.get(), sizeof(Impl));
}
Hs256Signer::Hs256Signer(Hs256Signer&&) noexcept = default;
Hs256Signer& Hs256Signer::operator=(Hs256Signer&&) noexcept = default;

std::string Hs256Signer::mac(std::string_view data) const {
    unsigned char innerHash[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx = m_impl->inner;
    SHA256_Update(&ctx, data.data(), data.size());
    SHA256_Final(innerHash, &ctx);
    std::string out(SHA256_DIGEST_LENGTH, '\0');
    ctx = m_impl->outer;
    SHA256_Update(&ctx, innerHash, sizeof innerHash);
    SHA256_Final(reinterpret_cast<unsigned char*>(out.data()), &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return out;
}

void Hs256Signer::appendToken(std::string& out, std::string_view payloadJson) const {
    static const std::string kHeaderB64 = b64url(kHeaderJson);
    const std::size_t start = out.size();
    out.reserve(start + kHeaderB64.size() + payloadJson.size() * 4 / 3 + 48);
    out += kHeaderB64;
    out.push_back('.');
    appendB64url(out, payloadJson);
    unsigned char innerHash[SHA256_DIGEST_LENGTH];
    unsigned char sig[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx = m_impl->inner;
    SHA256_Update(&ctx, out.data() + start, out.size() - start);
    SHA256_Final(innerHash, &ctx);
    ctx = m_impl->outer;
    SHA256_Update(&ctx, innerHash, sizeof innerHash);
    SHA256_Final(sig, &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    out.push_back('.');
    appendB64url(out, std::string_view(reinterpret_cast<const char*>(sig), sizeof sig));
}

std::string Hs256Signer::sign(const AccessTokenClaims& claims) const {
    static const std::string kHeaderB64 = b64url(kHeaderJson);
    const std::string payload = claimsPayloadJson(claims);
    std::string token;
    token.reserve(kHeaderB64.size() + payload.size() * 4 / 3 + 52);
    token = kHeaderB64;
    token.push_back('.');
    appendB64url(token, payload);
    const std::string sig = mac(token);
    token.push_back('.');
    appendB64url(token, sig);
    return token;
}

Result<AccessTokenClaims> verifyHs256(std::string_view jwt, const Redacted<std::string>& secret,
                                      TimePoint now, Duration leeway) {
    const auto dot1 = jwt.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos)
        return unauthorized("token is not a compact JWS (three parts)");
    const auto headerBytes = base64Decode(jwt.substr(0, dot1));
    const auto payloadBytes = base64Decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto sigBytes = base64Decode(jwt.substr(dot2 + 1));
    if (!headerBytes || !payloadBytes || !sigBytes) return unauthorized("token part is not base64url");

    const auto header = nlohmann::json::parse(headerBytes->begin(), headerBytes->end(), nullptr, false);
    if (!header.is_object() || strOr(header, "alg") != "HS256") return unauthorized("token alg is not HS256");

    const std::string expected = Hs256Signer(secret).mac(jwt.substr(0, dot2));
    if (sigBytes->size() != expected.size() ||
        CRYPTO_memcmp(sigBytes->data(), expected.data(), expected.size()) != 0)
        return unauthorized("token signature does not verify");

    const auto payload = nlohmann::json::parse(payloadBytes->begin(), payloadBytes->end(), nullptr, false);
    if (!payload.is_object()) return unauthorized("token payload is not a JSON object");
    AccessTokenClaims c;
    if (!payload.contains("exp") || !payload["exp"].is_number_integer() || !payload.contains("nbf") ||
        !payload["nbf"].is_number_integer())
        return unauthorized("token lacks integer exp/nbf");
    c.expiry = payload["exp"].get<std::int64_t>();
    c.notBefore = payload["nbf"].get<std::int64_t>();
    c.issuer = strOr(payload, "iss");
    c.subject = strOr(payload, "sub");
    if (auto it = payload.find("iat"); it != payload.end() && it->is_number_integer())
        c.issuedAt = it->get<std::int64_t>();
    c.identity = strOr(payload, "identity");
    c.name = strOr(payload, "name");
    c.metadata = strOr(payload, "metadata");
    c.sha256 = strOr(payload, "sha256");
    if (auto it = payload.find("video"); it != payload.end() && it->is_object()) {
        VideoGrant v;
        v.roomCreate = boolOr(*it, "roomCreate");
        v.roomList = boolOr(*it, "roomList");
        v.roomAdmin = boolOr(*it, "roomAdmin");
        v.roomJoin = boolOr(*it, "roomJoin");
        v.room = strOr(*it, "room");
        v.canPublish = optBool(*it, "canPublish");
        v.canSubscribe = optBool(*it, "canSubscribe");
        v.canPublishData = optBool(*it, "canPublishData");
        v.canUpdateOwnMetadata = optBool(*it, "canUpdateOwnMetadata");
        v.hidden = boolOr(*it, "hidden");
        c.video = std::move(v);
    }
    const auto nowS = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const auto leewayS = std::chrono::duration_cast<std::chrono::seconds>(leeway).count();
    if (nowS + leewayS < c.notBefore) return unauthorized("token is not valid yet (nbf)");
    if (nowS - leewayS >= c.expiry) return unauthorized("token has expired (exp)");
    return c;
}

}  // namespace mxrtc::auth
