// OpenID token verification, the pure half: server-name grammar, federation server discovery
// decisions (spec server-server API "Resolving server names", without SRV), SSRF policy for the
// addresses a name resolves to, and the userinfo exchange (request target, response check).
// The edge (verifier.cpp) performs the HTTP requests and DNS lookups these functions plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"

namespace mxrtc::auth {

inline constexpr std::uint16_t kDefaultFederationPort = 8448;
inline constexpr std::string_view kWellKnownServerPath = "/.well-known/matrix/server";
inline constexpr std::string_view kWellKnownClientPath = "/.well-known/matrix/client";
inline constexpr std::string_view kUserInfoPath = "/_matrix/federation/v1/openid/userinfo";

// A Matrix server name: host (DNS name, IPv4 literal, or IPv6 literal without brackets) and an
// optional explicit port.
struct ServerName {
    std::string host;
    std::optional<std::uint16_t> port;
    bool ipLiteral = false;
    bool ipv6 = false;

    std::string hostForUrl() const { return ipv6 ? "[" + host + "]" : host; }
    friend bool operator==(const ServerName&, const ServerName&) = default;
};

// Matrix appendix "Server name" grammar: 1-255 chars; DNS name of [A-Za-z0-9.-] labels (no empty
// label, no leading/trailing '-'), or an IPv4 literal, or "[IPv6]"; optional ":port" (1-65535).
// Rejects everything else (userinfo, paths, '@', '%', whitespace): M_INVALID_PARAM.
Result<ServerName> parseServerName(std::string_view text);

// Where an address points. Only Public is reachable by default (SSRF protection).
enum class AddressClass { Public, Loopback, Private, LinkLocal, Unspecified, Multicast, Reserved };
std::string_view toString(AddressClass c);
// Classifies an IPv4/IPv6 literal (IPv4-mapped IPv6 is classified as its IPv4). nullopt if the
// text is not an IP literal.
std::optional<AddressClass> classifyAddress(std::string_view ipLiteral);

struct TargetPolicy {
    bool allowLoopback = false;
    bool allowPrivate = false;  // RFC 1918, ULA, CGNAT, link-local
};
bool addressAllowed(AddressClass c, const TargetPolicy& policy);

// One HTTP endpoint the verifier talks to.
struct Target {
    std::string baseUrl;  // scheme://host[:port], no trailing slash
    std::string host;     // host to resolve and police (no brackets)
    friend bool operator==(const Target&, const Target&) = default;
};

// Federation discovery, step 1: a name that needs no .well-known lookup (IP literal, or explicit
// port) resolves directly; otherwise nullopt and the caller fetches https://<host>/.well-known/matrix/server.
std::optional<Target> directFederationTarget(const ServerName& name);
// The .well-known/matrix/server lookup target for a name without port.
Target wellKnownTarget(const ServerName& name);
// Step 2: from the .well-known body (nullopt body = lookup failed) to the federation target.
// Invalid or absent delegation falls back to <host>:8448, as the spec says.
Target federationTargetAfterWellKnown(const ServerName& name,
                                      const std::optional<std::string>& wellKnownBody);
// Client-server discovery: m.homeserver.base_url from .well-known/matrix/client (trailing '/' trimmed).
Result<std::string> parseWellKnownClient(std::string_view body);

// The userinfo request target: kUserInfoPath?access_token=<percent-encoded token>.
std::string userInfoTarget(std::string_view accessToken);

// Checks a userinfo response: 200, JSON object with a string "sub" that is a user id whose server
// part (after the first ':') equals `matrixServerName`. Errors are M_UNAUTHORIZED with a reason
// for the logs (never echoed to clients; see Handler).
enum class UserInfoFailure { Rejected, ServerError, Malformed, ServerNameMismatch };
struct UserInfoError {
    UserInfoFailure kind;
    std::string reason;
};
std::variant<UserId, UserInfoError> checkUserInfo(int status, std::string_view body,
                                                  std::string_view matrixServerName);

// Server part of a Matrix user id ("@local:server" -> "server"); nullopt if not "@…:…".
std::optional<std::string_view> userIdServer(std::string_view userId);

// Upper-case percent-encoding of a query value (RFC 3986 unreserved kept).
std::string percentEncode(std::string_view s);

}  // namespace mxrtc::auth
