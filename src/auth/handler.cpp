#include "mxrtc/auth/handler.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "mxrtc/auth/openid.hpp"
#include "mxrtc/auth/webhook.hpp"
#include "mxrtc/core/identity.hpp"

namespace mxrtc::auth {

namespace {

constexpr std::string_view kCorsAllowHeaders =
    "Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token";
constexpr std::string_view kDelegationRestricted =
    "Delegation of delayed events is only supported for full access users";
constexpr std::string_view kUnresolvedCsApi = "Unable to resolve client-server API";

std::string_view pathOf(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

bool isTokenEndpoint(Endpoint e) {
    return e == Endpoint::SfuGet || e == Endpoint::GetToken || e == Endpoint::DelegateDelayedLeave;
}

std::string errorJson(std::string_view errcode, std::string_view message, std::string_view reason) {
    std::string out = "{\"errcode\":" + core::jsonQuote(errcode, core::JsonEscaping::Go) +
                      ",\"error\":" + core::jsonQuote(message, core::JsonEscaping::Go);
    if (!reason.empty()) out += ",\"mxrtc_reason\":" + core::jsonQuote(reason, core::JsonEscaping::Go);
    out += "}\n";
    return out;
}

}  // namespace

std::string_view toString(VerifyFailure f) {
    switch (f) {
        case VerifyFailure::InvalidServerName:
            return "invalid_server_name";
        case VerifyFailure::RefusedTarget:
            return "refused_target";
        case VerifyFailure::Unreachable:
            return "homeserver_unreachable";
        case VerifyFailure::Rejected:
            return "token_rejected";
        case VerifyFailure::FederationDisabled:
            return "federation_disabled";
        case VerifyFailure::ServerError:
            return "homeserver_error";
        case VerifyFailure::Malformed:
            return "userinfo_malformed";
        case VerifyFailure::ServerNameMismatch:
            return "server_name_mismatch";
        case VerifyFailure::ClaimedUserMismatch:
            return "claimed_user_mismatch";
    }
    return "unknown";
}

Handler::Handler(AuthConfig config)
    : m_config(std::move(config)),
      m_signer(m_config.liveKitSecret),
      m_cache(m_config.cacheSize, m_config.cacheTtl),
      m_liveKitHttpUrl(m_config.liveKitHttpUrl()) {
    m_tokenPrefix = "{\"url\":";
    core::appendJsonQuoted(m_tokenPrefix, m_config.liveKitUrl, core::JsonEscaping::Go);
    m_tokenPrefix += ",\"jwt\":\"";
    m_jsonHeaders = {{"Content-Type", "application/json"}};
    if (m_config.cors) {
        m_jsonHeaders.emplace_back("Access-Control-Allow-Origin", "*");
        m_jsonHeaders.emplace_back("Access-Control-Allow-Methods", "POST");
        m_jsonHeaders.emplace_back("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
    }
}

CacheGauges Handler::cacheGauges() const {
    const auto& s = m_cache.stats();
    return CacheGauges{s.hits, s.misses, s.evictions, s.expirations, m_cache.size()};
}

Endpoint Handler::route(std::string_view target) const {
    std::string_view path = pathOf(target);
    // Served with or without the configured prefix, so proxies that strip it and proxies that
    // don't both work (user-needs #9).
    if (!m_config.basePath.empty() && path.substr(0, m_config.basePath.size()) == m_config.basePath &&
        path.size() > m_config.basePath.size() && path[m_config.basePath.size()] == '/')
        path.remove_prefix(m_config.basePath.size());
    if (path == path::kSfuGet) return Endpoint::SfuGet;
    if (path == path::kGetToken) return Endpoint::GetToken;
    if (path == path::kDelegateDelayedLeave) return Endpoint::DelegateDelayedLeave;
    if (path == path::kSfuWebhook) return Endpoint::SfuWebhook;
    if (path == path::kHealthz) return Endpoint::Healthz;
    if (path == path::kReadyz) return Endpoint::Readyz;
    if (path == path::kMetrics) return Endpoint::Metrics;
    if (path == path::kVersion) return Endpoint::Version;
    return Endpoint::Other;
}

std::optional<std::string_view> OutgoingResponse::header(std::string_view name) const {
    if (sharedHeaders != nullptr)
        for (const auto& [k, v] : *sharedHeaders)
            if (k == name) return std::string_view(v);
    for (const auto& [k, v] : headers)
        if (k == name) return std::string_view(v);
    return std::nullopt;
}

OutgoingResponse Handler::rateLimited(Duration retryAfter) const {
    OutgoingResponse r;
    r.status = 429;
    r.sharedHeaders = &m_jsonHeaders;
    const auto seconds = (retryAfter.count() + 999) / 1000;
    r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, seconds)));
    r.body = errorBody(makeError("M_LIMIT_EXCEEDED", "Too many requests"), retryAfter.count());
    return r;
}

OutgoingResponse Handler::errorResponse(int status, const Error& error) const {
    OutgoingResponse r;
    r.status = status;
    r.sharedHeaders = &m_jsonHeaders;
    r.body = errorBody(error);
    return r;
}

OutgoingResponse Handler::metricsResponse(std::string body) const {
    OutgoingResponse r;
    r.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
    r.body = std::move(body);
    return r;
}

Step Handler::respondError(Flow flow, int status, std::string_view errcode, std::string_view message,
                           std::string_view reason) const {
    flow.outcome.errcode = std::string(errcode);
    if (!reason.empty()) flow.outcome.reason = std::string(reason);
    fillOutcome(flow);
    OutgoingResponse r;
    r.status = status;
    r.sharedHeaders = &m_jsonHeaders;
    r.body = errorJson(errcode, message, reason);
    Outcome outcome = std::move(flow.outcome);  // a finished flow keeps no outcome
    return Step{Respond{std::move(r), std::move(outcome)}, std::move(flow)};
}

Step Handler::start(const IncomingRequest& request, TimePoint now) {
    Flow flow;
    flow.endpoint = route(request.target);
    flow.outcome.endpoint = flow.endpoint;
    const auto& method = request.method;

    auto plain = [&](int status, HeaderList headers, std::string body, const HeaderList* shared = nullptr) {
        Outcome o = flow.outcome;
        return Step{
            Respond{OutgoingResponse{status, shared, std::move(headers), std::move(body)}, std::move(o)},
            flow};
    };

    switch (flow.endpoint) {
        case Endpoint::Healthz:
        case Endpoint::Readyz:
            return plain(method == "GET" || method == "HEAD" ? 200 : 405, {}, {});
        case Endpoint::Metrics:
            if (!m_config.metrics) break;
            if (method != "GET" && method != "HEAD") return plain(405, {}, {});
            return Step{RenderMetrics{}, flow};
        case Endpoint::Version: {
            if (method != "GET" && method != "HEAD") return plain(405, {}, {});
            nlohmann::ordered_json j;
            j["name"] = "mxrtc-auth";
            j["version"] = "0.1.0";
            j["compatible_with"] = "lk-jwt-service";
            j["endpoints"] = {path::kSfuGet, path::kGetToken, path::kDelegateDelayedLeave, path::kSfuWebhook};
            j["delayed_leave_delegation"] = true;
            j["verify_via"] = toString(m_config.defaultVia);
            return plain(200, {{"Content-Type", "application/json"}}, j.dump() + "\n");
        }
        case Endpoint::SfuWebhook:
            if (method != "POST") return plain(405, {}, {});
            return webhook(std::move(flow), request, now);
        case Endpoint::SfuGet:
        case Endpoint::GetToken:
        case Endpoint::DelegateDelayedLeave:
            if (method == "OPTIONS") return plain(200, {}, {}, &m_jsonHeaders);
            if (method != "POST") return plain(405, {}, {}, &m_jsonHeaders);
            break;
        default:
            break;
    }
    if (!isTokenEndpoint(flow.endpoint)) {
        flow.outcome.endpoint = Endpoint::Other;
        return plain(404,
                     {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Content-Type-Options", "nosniff"}},
                     "404 page not found\n");
    }

    // Decode + validate: one field reader for the three bodies.
    const RequestKind kind = flow.endpoint == Endpoint::SfuGet     ? RequestKind::LegacySfuGet
                             : flow.endpoint == Endpoint::GetToken ? RequestKind::GetToken
                                                                   : RequestKind::DelegateDelayedLeave;
    auto parsed = parseTokenRequest(kind, request.body);
    if (auto* e = std::get_if<ErrorResponse>(&parsed))
        return respondError(std::move(flow), e->status, e->error.errcode, e->error.message);
    auto& r = std::get<TokenRequest>(parsed);
    flow.matrixRoom = std::move(r.roomId);
    flow.slotId = std::move(r.slotId);
    flow.deviceId =
        kind == RequestKind::LegacySfuGet ? std::move(r.deviceId) : std::move(r.member.claimedDeviceId);
    flow.memberId = std::move(r.member.id);
    flow.claimedUserId = std::move(r.member.claimedUserId);
    flow.openIdToken = std::move(r.openIdToken);
    flow.delayRequested = !r.delayId.empty();
    flow.delayId = Redacted<std::string>(std::move(r.delayId));
    flow.delayTimeoutMs = r.delayTimeout;
    return startToken(std::move(flow), now);
}

Step Handler::startToken(Flow flow, TimePoint now) {
    const std::string& server = flow.openIdToken.matrixServerName;
    if (!parseServerName(server)) {
        flow.outcome.detail = "matrix_server_name is not a valid server name";
        return respondError(std::move(flow), 401, errcode::kUnauthorized, kUnauthorisedMessage,
                            toString(VerifyFailure::InvalidServerName));
    }
    flow.cacheKey = VerifiedTokenCache::keyFor(server, flow.openIdToken.accessToken.exposeSecret());
    if (auto cached = m_cache.find(flow.cacheKey, now)) {
        flow.userId = std::move(*cached);
        flow.outcome.cacheHit = true;
        return afterVerified(std::move(flow), now);
    }
    flow.stage = Stage::Verifying;
    VerifyOpenId verify{server, flow.openIdToken.accessToken, m_config.homeserverFor(server)};
    return Step{std::move(verify), std::move(flow)};
}

Step Handler::resume(Flow flow, const VerifyResult& result, TimePoint now) {
    if (const auto* failure = std::get_if<VerifyFailure>(&result))
        return respondError(std::move(flow), 401, errcode::kUnauthorized, kUnauthorisedMessage,
                            toString(*failure));
    flow.userId = std::get<UserId>(result);
    // Defence in depth: the edge already checked this, but the cache must never hold a foreign sub.
    const auto server = userIdServer(flow.userId.str());
    if (!server || *server != flow.openIdToken.matrixServerName)
        return respondError(std::move(flow), 401, errcode::kUnauthorized, kUnauthorisedMessage,
                            toString(VerifyFailure::ServerNameMismatch));
    std::optional<Duration> lifetime;
    if (flow.openIdToken.expiresIn > 0 && flow.openIdToken.expiresIn < 86'400 * 365)
        lifetime = Duration{flow.openIdToken.expiresIn * 1000};
    m_cache.insert(flow.cacheKey, flow.userId, now, lifetime);
    return afterVerified(std::move(flow), now);
}

Step Handler::afterVerified(Flow flow, TimePoint now) {
    if (!flow.claimedUserId.empty() && flow.claimedUserId != flow.userId.str()) {
        flow.outcome.detail = "claimed_user_id " + flow.claimedUserId + " != OpenID sub";
        return respondError(std::move(flow), 401, errcode::kUnauthorized, kUnauthorisedMessage,
                            toString(VerifyFailure::ClaimedUserMismatch));
    }
    flow.fullAccess = m_config.isFullAccess(flow.openIdToken.matrixServerName);
    flow.outcome.fullAccess = flow.fullAccess;

    if (flow.endpoint == Endpoint::DelegateDelayedLeave && !flow.fullAccess)
        return respondError(std::move(flow), 403, errcode::kForbidden, kDelegationRestricted,
                            "restricted_user");
    if (flow.delayRequested && !flow.fullAccess)
        return respondError(std::move(flow), 400, errcode::kBadJson, kDelegationRestricted,
                            "restricted_user");

    if (flow.endpoint == Endpoint::SfuGet)
        flow.liveKitIdentity = core::sessionMemberIdentity(flow.userId, DeviceId(flow.deviceId));
    else
        flow.liveKitIdentity = identityFor(flow);
    flow.liveKitRoom = aliasFor(flow.matrixRoom, flow.slotId);

    // The membership check is about handing out a token; a delegation only keeps the user's own
    // delayed event alive, so it skips it (as lk-jwt-service has no such check at all).
    if (m_config.membership.enabled && flow.endpoint != Endpoint::DelegateDelayedLeave) {
        flow.stage = Stage::CheckingMembership;
        auto req = membershipRequest(m_config.membership, flow.matrixRoom, flow.userId.str());
        return Step{Fetch{std::move(req)}, std::move(flow)};
    }
    return authorised(std::move(flow), now);
}

// Authorised (and, if configured, a room member): resolve the client-server API when a delayed
// leave is to be delegated (before creating the room, as lk-jwt-service does, so that a failure
// leaves no room behind), then answer the delegation or issue the token.
Step Handler::authorised(Flow flow, TimePoint now) {
    if (flow.delayRequested && flow.csApiBaseUrl.empty()) {
        flow.stage = Stage::ResolvingCsApi;
        ResolveCsApi resolve{flow.openIdToken.matrixServerName};
        return Step{std::move(resolve), std::move(flow)};
    }
    if (flow.endpoint == Endpoint::DelegateDelayedLeave) {
        OutgoingResponse r;
        r.status = 200;
        r.sharedHeaders = &m_jsonHeaders;
        r.body = "{}\n";
        auto delegation = delegationOf(flow);
        fillOutcome(flow);
        Respond respond{std::move(r), std::move(flow.outcome), std::move(delegation), std::nullopt};
        return Step{std::move(respond), std::move(flow)};
    }
    return issue(std::move(flow), now);
}

Step Handler::resume(Flow flow, const CsApiResult& result, TimePoint now) {
    if (flow.stage != Stage::ResolvingCsApi)
        return respondError(std::move(flow), 500, errcode::kUnknown, "Internal Server Error",
                            "unexpected_resolve");
    if (result.baseUrl.empty()) {
        flow.outcome.detail = result.error;
        return respondError(std::move(flow), 400, errcode::kBadJson, kUnresolvedCsApi, "cs_api_unresolved");
    }
    flow.csApiBaseUrl = result.baseUrl;
    return authorised(std::move(flow), now);
}

DelegatedLeave Handler::delegationOf(const Flow& flow) const {
    return DelegatedLeave{ParticipantKey{flow.liveKitRoom, flow.liveKitIdentity},
                          flow.openIdToken.matrixServerName, flow.csApiBaseUrl, flow.delayId,
                          Duration{flow.delayTimeoutMs}};
}

// POST /sfu_webhook: LiveKit's signature first (401 otherwise), then the event.
Step Handler::webhook(Flow flow, const IncomingRequest& request, TimePoint now) const {
    auto verified = verifyWebhookAuthorization(request.authorization, request.body, m_config.liveKitKey,
                                               m_config.liveKitSecret, now);
    if (!verified) {
        flow.outcome.detail = verified.error().message;
        return respondError(std::move(flow), 401, errcode::kUnauthorized, kUnauthorisedMessage,
                            "webhook_signature");
    }
    auto event = parseWebhookEvent(request.body);
    if (!event) {
        flow.outcome.detail = event.error().message;
        return respondError(std::move(flow), 400, errcode::kBadJson, event.error().message,
                            "webhook_malformed");
    }
    if (*event) {
        flow.outcome.reason = std::string(toString((*event)->kind));
        flow.outcome.liveKitRoom = (*event)->participant.room;
        flow.outcome.liveKitIdentity = (*event)->participant.identity;
    } else {
        flow.outcome.reason = "ignored";
    }
    OutgoingResponse r;
    r.status = 200;
    Respond respond{std::move(r), std::move(flow.outcome), std::nullopt, std::move(*event)};
    return Step{std::move(respond), std::move(flow)};
}

namespace {

constexpr std::size_t kMaxMemo = 16'384;

// Length-prefixed parts, so no tuple can collide with another whatever the parts contain.
void memoKey(std::string& key, std::initializer_list<std::string_view> parts) {
    key.clear();
    for (auto part : parts) {
        char len[24];
        const auto r = std::to_chars(len, len + sizeof len, part.size());
        key.append(len, static_cast<std::size_t>(r.ptr - len));
        key.push_back(':');
        key.append(part);
    }
}

}  // namespace

const std::string& Handler::aliasFor(const std::string& room, const std::string& slot) {
    memoKey(m_memoKey, {room, slot});
    if (auto it = m_aliases.find(std::string_view(m_memoKey)); it != m_aliases.end()) return it->second;
    if (m_aliases.size() >= kMaxMemo) m_aliases.clear();
    auto alias = core::liveKitRoomAlias(RoomId(room), SlotId(slot), core::JsonEscaping::Go);
    return m_aliases.emplace(m_memoKey, std::move(alias)).first->second;
}

const std::string& Handler::identityFor(const Flow& flow) {
    memoKey(m_memoKey, {flow.userId.str(), flow.deviceId, flow.memberId});
    if (auto it = m_identities.find(std::string_view(m_memoKey)); it != m_identities.end()) return it->second;
    if (m_identities.size() >= kMaxMemo) m_identities.clear();
    auto identity = core::hashedMemberIdentity(flow.userId, DeviceId(flow.deviceId), MemberId(flow.memberId),
                                               core::JsonEscaping::Go);
    return m_identities.emplace(m_memoKey, std::move(identity)).first->second;
}

// The log/metrics context of a finished flow, moved out of it (the flow is done).
void Handler::fillOutcome(Flow& flow) const {
    Outcome& o = flow.outcome;
    if (o.serverName.empty()) o.serverName = std::move(flow.openIdToken.matrixServerName);
    if (o.matrixRoom.empty()) o.matrixRoom = std::move(flow.matrixRoom);
    if (o.userId.empty() && !flow.userId.str().empty()) o.userId = flow.userId.str();
    if (o.liveKitIdentity.empty()) o.liveKitIdentity = std::move(flow.liveKitIdentity);
    if (o.liveKitRoom.empty()) o.liveKitRoom = std::move(flow.liveKitRoom);
}

Step Handler::issue(Flow flow, TimePoint now) {
    // The whole 200 body now, JWT signed straight into it: byte for byte
    // tokenResponseBody(url, sign(joinTokenClaims(...))) (a compact JWS needs no JSON escaping).
    m_payloadScratch.clear();
    appendJoinTokenPayload(m_payloadScratch, m_config.liveKitKey, flow.liveKitIdentity, flow.liveKitRoom,
                           now);
    flow.tokenBody.reserve(m_tokenPrefix.size() + m_payloadScratch.size() * 4 / 3 + 96);
    flow.tokenBody = m_tokenPrefix;
    m_signer.appendToken(flow.tokenBody, m_payloadScratch);
    flow.tokenBody += "\"}\n";
    if (flow.fullAccess && m_config.createRooms) {
        flow.stage = Stage::CreatingRoom;
        auto req = createRoomRequest(m_liveKitHttpUrl, m_config.liveKitKey, m_signer,
                                     CreateRoomParams{flow.liveKitRoom}, now);
        return Step{Fetch{std::move(req)}, std::move(flow)};
    }
    return finish(std::move(flow));
}

Step Handler::finish(Flow flow) const {
    OutgoingResponse r;
    r.status = 200;
    r.sharedHeaders = &m_jsonHeaders;
    r.body = std::move(flow.tokenBody);
    std::optional<DelegatedLeave> delegation;
    if (flow.delayRequested) delegation = delegationOf(flow);
    fillOutcome(flow);
    Respond respond{std::move(r), std::move(flow.outcome), std::move(delegation), std::nullopt};
    return Step{std::move(respond), std::move(flow)};
}

Step Handler::resume(Flow flow, const FetchResult& result, TimePoint now) {
    switch (flow.stage) {
        case Stage::CheckingMembership:
            switch (classifyMembership(result)) {
                case MembershipStatus::Joined:
                    flow.outcome.reason = "member";
                    return authorised(std::move(flow), now);
                case MembershipStatus::NotJoined:
                    return respondError(std::move(flow), 403, errcode::kForbidden,
                                        "The user is not joined to the room", "not_joined");
                case MembershipStatus::Unknown:
                    flow.outcome.detail =
                        result.status == 0 ? result.error : "HTTP " + std::to_string(result.status);
                    if (m_config.membership.failOpen) {
                        flow.outcome.reason = "membership_unknown_fail_open";
                        return authorised(std::move(flow), now);
                    }
                    return respondError(std::move(flow), 503, errcode::kUnknown,
                                        "Unable to check room membership", "membership_unknown");
            }
            break;
        case Stage::CreatingRoom: {
            auto checked = checkCreateRoomResponse(result.status, result.body);
            if (!checked) {
                flow.outcome.detail =
                    checked.error().message + (result.error.empty() ? "" : ": " + result.error);
                return respondError(std::move(flow), 500, errcode::kUnknown, "Unable to create room on SFU",
                                    "room_creation_failed");
            }
            flow.outcome.roomCreated = true;
            return finish(std::move(flow));
        }
        case Stage::Verifying:
        case Stage::ResolvingCsApi:
            break;
    }
    return respondError(std::move(flow), 500, errcode::kUnknown, "Internal Server Error", "unexpected_fetch");
}

OutboundRequest membershipRequest(const MembershipCheckConfig& config, std::string_view roomId,
                                  std::string_view userId) {
    OutboundRequest r;
    r.method = "GET";
    r.url = config.homeserverUrl + "/_matrix/client/v3/rooms/" + percentEncode(roomId) +
            "/state/m.room.member/" + percentEncode(userId);
    r.headers = {{"Authorization", "Bearer " + config.accessToken.exposeSecret()}};
    return r;
}

MembershipStatus classifyMembership(const FetchResult& result) {
    if (result.status == 404) return MembershipStatus::NotJoined;  // no member event for this user
    if (result.status != 200)
        return MembershipStatus::Unknown;  // 403: the service account can't see the room
    const auto json = nlohmann::json::parse(result.body, nullptr, false);
    if (!json.is_object() || !json.contains("membership") || !json["membership"].is_string())
        return MembershipStatus::Unknown;
    return json["membership"].get<std::string>() == "join" ? MembershipStatus::Joined
                                                           : MembershipStatus::NotJoined;
}

}  // namespace mxrtc::auth
