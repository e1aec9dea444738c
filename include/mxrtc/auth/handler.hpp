// The mxrtc-auth request handler: a pure, sans-I/O state machine (design/architecture.md).
//
//   Step s = handler.start(request, now);
//   while (s is not Respond) {
//     VerifyOpenId -> the edge verifies the token with the homeserver -> handler.resume(flow, VerifyResult)
//     Fetch        -> the edge performs the HTTP request              -> handler.resume(flow, FetchResult)
//     ResolveCsApi -> the edge finds the user's client-server API      -> handler.resume(flow, CsApiResult)
//     RenderMetrics-> the edge renders its metrics                    -> done
//   }
//
// It routes, decodes and validates requests exactly like lk-jwt-service (status codes, errcodes and
// messages), consults the verified-token cache, applies the authorisation policy (claimed user,
// full-access homeservers, optional room membership), derives LiveKit identities and room aliases
// through core/identity (Go escaping, as lk-jwt-service hashes), mints the JWT and asks for room
// creation. Delayed-leave delegations and verified SFU webhook events leave the handler as values
// on the final Respond (the edge hands them to its DelegationManager). No sockets, no clocks:
// `now` is always an argument.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "mxrtc/auth/config.hpp"
#include "mxrtc/auth/delegation.hpp"
#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/auth/metrics.hpp"
#include "mxrtc/auth/requests.hpp"
#include "mxrtc/auth/room_service.hpp"
#include "mxrtc/auth/token_cache.hpp"
#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct IncomingRequest {
    std::string_view method;
    std::string_view target;  // path [?query]
    std::string_view body;
    std::string_view remoteAddress;
    std::string_view origin;           // Origin header, for the logs
    std::string_view authorization{};  // Authorization header (only /sfu_webhook reads it)
};

struct OutgoingResponse {
    int status = 200;
    // Headers shared by many responses (Content-Type + CORS of the token endpoints), owned by the
    // Handler and written first; then the response's own headers. Sharing saves allocations on
    // the hot path.
    const HeaderList* sharedHeaders = nullptr;
    HeaderList headers;
    std::string body;

    // First header with this name (exact case), shared ones included.
    std::optional<std::string_view> header(std::string_view name) const;
};

// Why an OpenID token could not be verified. Every kind is answered with lk-jwt-service's
// 401 M_UNAUTHORIZED; the kind travels as "mxrtc_reason" in the body and in logs/metrics.
enum class VerifyFailure {
    InvalidServerName,   // matrix_server_name is not a server name
    RefusedTarget,       // resolves to a loopback/private/reserved address (SSRF policy)
    Unreachable,         // DNS, connect, TLS or timeout
    Rejected,            // homeserver said 401/403/404 (bad or expired token)
    FederationDisabled,  // homeserver said M_FORBIDDEN/M_UNRECOGNIZED for federation, or 404 on the path
    ServerError,         // other non-200
    Malformed,           // 200 but no usable "sub"
    ServerNameMismatch,  // sub's server part != matrix_server_name
    ClaimedUserMismatch  // member.claimed_user_id != sub
};
std::string_view toString(VerifyFailure f);

using VerifyResult = std::variant<UserId, VerifyFailure>;

// What the edge answered for a Fetch. status 0 = no HTTP answer (network error/timeout).
struct FetchResult {
    int status = 0;
    std::string body;
    std::string error;  // transport error text for the logs (no secrets)
};

// What the edge found for the user's client-server API (empty baseUrl = not found; error says why).
struct CsApiResult {
    std::string baseUrl;
    std::string error;
};

// Everything worth one structured log line and the metrics.
struct Outcome {
    Endpoint endpoint = Endpoint::Other;
    std::string errcode;  // empty on success
    std::string reason;   // machine-readable detail (VerifyFailure name, membership result, ...)
    std::string detail;   // human-readable detail for operators (never secrets)
    std::string userId;
    std::string serverName;
    std::string matrixRoom;
    std::string liveKitRoom;
    std::string liveKitIdentity;
    bool fullAccess = false;
    bool cacheHit = false;
    bool roomCreated = false;
};

enum class Stage { Verifying, CheckingMembership, ResolvingCsApi, CreatingRoom };

// The state of one request between steps (a value; the edge keeps it across co_awaits).
struct Flow {
    Endpoint endpoint = Endpoint::Other;
    Stage stage = Stage::Verifying;
    std::string matrixRoom;  // room (legacy) or room_id
    std::string slotId;
    std::string deviceId;  // device_id (legacy) or member.claimed_device_id
    std::string memberId;  // empty for legacy
    std::string claimedUserId;
    OpenIdToken openIdToken;
    bool delayRequested = false;
    Redacted<std::string> delayId;
    std::int64_t delayTimeoutMs = 0;
    std::string csApiBaseUrl;  // resolved for delegations
    VerifiedTokenCache::Key cacheKey{};
    UserId userId;
    bool fullAccess = false;
    std::string liveKitIdentity;
    std::string liveKitRoom;
    std::string tokenBody;  // the 200 body {"url","jwt"}, JWT signed straight into it
    Outcome outcome;
};

struct Respond {
    OutgoingResponse response;
    Outcome outcome;
    std::optional<DelegatedLeave> delegation{};  // a delayed leave handed over (answered 200)
    std::optional<SfuEvent> sfuEvent{};          // a verified webhook event delegation acts on
};
struct VerifyOpenId {
    std::string serverName;
    Redacted<std::string> accessToken;
    HomeserverOverride homeserver;  // resolved override (base URL may be empty = discover)
};
struct Fetch {
    OutboundRequest request;
};
struct RenderMetrics {};
struct ResolveCsApi {
    std::string serverName;
};

struct Step {
    std::variant<Respond, VerifyOpenId, Fetch, RenderMetrics, ResolveCsApi> action;
    Flow flow;

    bool done() const { return std::holds_alternative<Respond>(action); }
};

// Exact lk-jwt-service message for every authorisation failure.
inline constexpr std::string_view kUnauthorisedMessage = "The request could not be authorised.";

class Handler {
  public:
    explicit Handler(AuthConfig config);
    // Responses point at handler-owned headers: the handler stays where it was built.
    Handler(const Handler&) = delete;
    Handler& operator=(const Handler&) = delete;

    Step start(const IncomingRequest& request, TimePoint now);
    Step resume(Flow flow, const VerifyResult& result, TimePoint now);
    Step resume(Flow flow, const FetchResult& result, TimePoint now);
    Step resume(Flow flow, const CsApiResult& result, TimePoint now);

    // 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After (CORS headers when enabled).
    OutgoingResponse rateLimited(Duration retryAfter) const;
    // A bare error response with the endpoint's headers (used by the edge for 413 / 503 ...).
    OutgoingResponse errorResponse(int status, const Error& error) const;
    // Metrics text response (the edge renders the body).
    OutgoingResponse metricsResponse(std::string body) const;

    const AuthConfig& config() const noexcept { return m_config; }
    const VerifiedTokenCache& cache() const noexcept { return m_cache; }
    VerifiedTokenCache& cache() noexcept { return m_cache; }
    CacheGauges cacheGauges() const;
    Endpoint route(std::string_view target) const;

  private:
    Step respondError(Flow flow, int status, std::string_view errcode, std::string_view message,
                      std::string_view reason = {}) const;
    Step afterVerified(Flow flow, TimePoint now);
    Step issue(Flow flow, TimePoint now);
    Step finish(Flow flow) const;
    Step startToken(Flow flow, TimePoint now);
    Step authorised(Flow flow, TimePoint now);
    Step webhook(Flow flow, const IncomingRequest& request, TimePoint now) const;
    DelegatedLeave delegationOf(const Flow& flow) const;
    AuthConfig m_config;
    HeaderList m_jsonHeaders;  // Content-Type: application/json (+ CORS when enabled)
    Hs256Signer m_signer;
    VerifiedTokenCache m_cache;
    std::string m_liveKitHttpUrl;
    // Memoised deterministic hashes, looked up without allocating (a reused key buffer and
    // heterogeneous lookup). Bounded: cleared when full.
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using Memo = std::unordered_map<std::string, std::string, StringHash, std::equal_to<>>;
    // (room, slot) -> LiveKit alias: many participants ask for the same few rooms.
    Memo m_aliases;
    // (sub, device, member) -> hashed LiveKit identity: clients ask again on every (re)join.
    Memo m_identities;
    std::string m_memoKey;
    std::string m_tokenPrefix;     // {"url":"<LIVEKIT_URL>","jwt":"
    std::string m_payloadScratch;  // JWT payload, reused
    const std::string& aliasFor(const std::string& room, const std::string& slot);
    const std::string& identityFor(const Flow& flow);
    void fillOutcome(Flow& flow) const;
};

// The membership request: GET <hs>/_matrix/client/v3/rooms/<room>/state/m.room.member/<user>.
OutboundRequest membershipRequest(const MembershipCheckConfig& config, std::string_view roomId,
                                  std::string_view userId);
// "join" -> Joined; 404 or other membership -> NotJoined; anything else -> Unknown.
enum class MembershipStatus { Joined, NotJoined, Unknown };
MembershipStatus classifyMembership(const FetchResult& result);

}  // namespace mxrtc::auth
