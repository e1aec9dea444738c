// Request and response bodies of the lk-jwt-service API (spec §8.1-8.4): parse + validate side by
// side. Decoding follows Go's encoding/json with DisallowUnknownFields, as lk-jwt-service does:
// unknown keys, wrong JSON types or non-integer numbers are "not JSON" (400 M_NOT_JSON), field
// names match case-insensitively, `null` leaves a field empty; validation failures are
// 400 M_BAD_JSON with lk-jwt-service's exact messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/result.hpp"

namespace mxrtc::auth {

// Endpoint paths (relative to the service root; see AuthConfig::basePath).
namespace path {
inline constexpr std::string_view kSfuGet = "/sfu/get";
inline constexpr std::string_view kGetToken = "/get_token";
inline constexpr std::string_view kDelegateDelayedLeave = "/delegate_delayed_leave";
inline constexpr std::string_view kSfuWebhook = "/sfu_webhook";
inline constexpr std::string_view kHealthz = "/healthz";
inline constexpr std::string_view kReadyz = "/readyz";
inline constexpr std::string_view kMetrics = "/metrics";
inline constexpr std::string_view kVersion = "/version";
}  // namespace path

// JSON field names, one definition each.
namespace field {
inline constexpr std::string_view kRoom = "room";
inline constexpr std::string_view kRoomId = "room_id";
inline constexpr std::string_view kSlotId = "slot_id";
inline constexpr std::string_view kOpenIdToken = "openid_token";
inline constexpr std::string_view kAccessToken = "access_token";
inline constexpr std::string_view kTokenType = "token_type";
inline constexpr std::string_view kMatrixServerName = "matrix_server_name";
inline constexpr std::string_view kExpiresIn = "expires_in";
inline constexpr std::string_view kDeviceId = "device_id";
inline constexpr std::string_view kMember = "member";
inline constexpr std::string_view kMemberId = "id";
inline constexpr std::string_view kClaimedUserId = "claimed_user_id";
inline constexpr std::string_view kClaimedDeviceId = "claimed_device_id";
inline constexpr std::string_view kDelayId = "delay_id";
inline constexpr std::string_view kDelayTimeout = "delay_timeout";
inline constexpr std::string_view kDelayCsApiUrl = "delay_cs_api_url";
inline constexpr std::string_view kUrl = "url";
inline constexpr std::string_view kJwt = "jwt";
}  // namespace field

// The slot every legacy /sfu/get request is for.
inline constexpr std::string_view kLegacySlotId = "m.call#ROOM";

struct OpenIdToken {
    Redacted<std::string> accessToken;
    std::string tokenType;
    std::string matrixServerName;
    std::int64_t expiresIn = 0;
};

struct RtcMember {
    std::string id;
    std::string claimedUserId;
    std::string claimedDeviceId;
};

// POST /sfu/get (deprecated, still served).
struct LegacySfuRequest {
    std::string room;
    OpenIdToken openIdToken;
    std::string deviceId;
    std::string delayId;
    std::int64_t delayTimeout = 0;
    std::string delayCsApiUrl;  // accepted and ignored, as lk-jwt-service does
};

// POST /get_token.
struct GetTokenRequest {
    std::string roomId;
    std::string slotId;
    OpenIdToken openIdToken;
    RtcMember member;
    std::string delayId;  // deprecated here, still accepted
    std::int64_t delayTimeout = 0;
    std::string delayCsApiUrl;
};

// POST /delegate_delayed_leave (every field required).
struct DelegateDelayedLeaveRequest {
    std::string roomId;
    std::string slotId;
    OpenIdToken openIdToken;
    RtcMember member;
    std::string delayId;
    std::int64_t delayTimeout = 0;
    std::string delayCsApiUrl;
};

// The three token-request bodies share one field reader: every field any of them can carry, read
// and validated according to `kind` (which keys are allowed, which are required, and
// lk-jwt-service's exact message for each endpoint).
enum class RequestKind { LegacySfuGet, GetToken, DelegateDelayedLeave };

struct TokenRequest {
    RequestKind kind = RequestKind::GetToken;
    std::string roomId;  // "room" (legacy) or "room_id"
    std::string slotId;  // "slot_id"; kLegacySlotId for the legacy body
    OpenIdToken openIdToken;
    RtcMember member;      // not in the legacy body
    std::string deviceId;  // legacy "device_id" (the others carry member.claimed_device_id)
    std::string delayId;
    std::int64_t delayTimeout = 0;
    std::string delayCsApiUrl;
};

// A Matrix-style error response: status + {"errcode","error"}.
struct ErrorResponse {
    int status = 500;
    Error error;
    friend bool operator==(const ErrorResponse&, const ErrorResponse&) = default;
};

template <typename T>
using Parsed = std::variant<T, ErrorResponse>;

// Decode (M_NOT_JSON on failure) and validate (M_BAD_JSON) a request body.
Parsed<TokenRequest> parseTokenRequest(RequestKind kind, std::string_view body);
// The same, per endpoint shape.
Parsed<LegacySfuRequest> parseLegacySfuRequest(std::string_view body);
Parsed<GetTokenRequest> parseGetTokenRequest(std::string_view body);
Parsed<DelegateDelayedLeaveRequest> parseDelegateDelayedLeaveRequest(std::string_view body);

// {"errcode":"…","error":"…"} (plus "retry_after_ms" when given).
std::string errorBody(const Error& error, std::int64_t retryAfterMs = -1);
// {"url":"…","jwt":"…"}
std::string tokenResponseBody(std::string_view url, std::string_view jwt);

}  // namespace mxrtc::auth
