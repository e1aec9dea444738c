// LiveKit access tokens: HS256 JWTs with LiveKit's claim layout (livekit/protocol auth.ClaimGrants),
// minted byte-for-byte as lk-jwt-service does today (livekit/protocol v1.48.1-0.20260624 signs with
// golang-jwt: registered claims iss, sub, exp, nbf, iat first, then the grants in struct order,
// identity repeated in "identity"; Go string escaping). Cross-checked against a Go program linking
// that exact protocol version (see tests/unit/auth/jwt_test.cpp).
// Pure: the caller passes `now`; OpenSSL HMAC does the signing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

// LiveKit VideoGrant (the subset lk-jwt-service and RoomService use). Booleans are `omitempty`
// in Go: false is not serialised. The optional ones are *bool in Go: set means serialised.
struct VideoGrant {
    bool roomCreate = false;
    bool roomList = false;
    bool roomAdmin = false;
    bool roomJoin = false;
    std::string room;
    std::optional<bool> canPublish;
    std::optional<bool> canSubscribe;
    std::optional<bool> canPublishData;
    std::optional<bool> canUpdateOwnMetadata;
    bool hidden = false;

    friend bool operator==(const VideoGrant&, const VideoGrant&) = default;
};

struct AccessTokenClaims {
    std::string issuer;          // iss = API key
    std::string subject;         // sub = participant identity (omitted when empty)
    std::int64_t notBefore = 0;  // nbf, Unix seconds
    std::int64_t expiry = 0;     // exp, Unix seconds
    std::int64_t issuedAt = 0;   // iat, Unix seconds (0 = omitted)
    std::string identity;        // "identity" grant (= sub in LiveKit's tokens; omitted when empty)
    std::string name;            // omitted when empty
    std::string metadata;        // omitted when empty
    std::optional<VideoGrant> video;
    std::string sha256;  // base64 SHA-256 of a webhook body (omitted when empty)

    friend bool operator==(const AccessTokenClaims&, const AccessTokenClaims&) = default;
};

// Validity of lk-jwt-service join tokens (SetValidFor(time.Hour)) and of server-sdk admin tokens
// (livekit/protocol defaultValidDuration).
inline constexpr std::int64_t kJoinTokenValiditySeconds = 3600;
inline constexpr std::int64_t kAdminTokenValiditySeconds = 6 * 3600;

// The claims lk-jwt-service's getJoinToken() issues: roomJoin, room, canPublish, canSubscribe,
// canUpdateOwnMetadata; identity in `sub` and `identity`; nbf = iat = now, exp = now + 1 h.
AccessTokenClaims joinTokenClaims(std::string_view apiKey, std::string_view identity,
                                  std::string_view roomAlias, TimePoint now);
// The claims server-sdk-go's RoomServiceClient signs for CreateRoom: video {roomCreate: true}.
AccessTokenClaims roomCreateTokenClaims(std::string_view apiKey, TimePoint now);

// JSON payload exactly as golang-jwt serialises livekit's tokenClaims (Go struct field order,
// omitempty, Go string escaping).
std::string claimsPayloadJson(const AccessTokenClaims& claims);
// The hot path's shortcut: appends exactly claimsPayloadJson(joinTokenClaims(...)) to `out`
// without building the claims.
void appendJoinTokenPayload(std::string& out, std::string_view apiKey, std::string_view identity,
                            std::string_view roomAlias, TimePoint now);

// An HS256 signer with the key schedule prepared once (thread-compatible: one per thread).
class Hs256Signer {
  public:
    explicit Hs256Signer(const Redacted<std::string>& secret);
    ~Hs256Signer();
    Hs256Signer(Hs256Signer&&) noexcept;
    Hs256Signer& operator=(Hs256Signer&&) noexcept;

    // header.payload.signature, header = {"alg":"HS256","typ":"JWT"}.
    std::string sign(const AccessTokenClaims& claims) const;
    // Appends the token for an already serialised payload to `out` (no other allocation).
    void appendToken(std::string& out, std::string_view payloadJson) const;
    // Raw HMAC-SHA256 of `data` (32 bytes).
    std::string mac(std::string_view data) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Verifies an HS256 JWT (signature, alg, nbf/exp against now with `leeway`) and decodes the claims.
// Errors: M_UNAUTHORIZED with a message naming what failed. Used by tests and the SFU webhook.
Result<AccessTokenClaims> verifyHs256(std::string_view jwt, const Redacted<std::string>& secret,
                                      TimePoint now, Duration leeway = Duration{60'000});

}  // namespace mxrtc::auth
