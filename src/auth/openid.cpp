#include "mxrtc/auth/openid.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

namespace mxrtc::auth {

namespace {

Error invalidName(std::string message) {
    return makeError(errcode::kInvalidParam, std::move(message));
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlnum(char c) {
    return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool validDnsName(std::string_view host) {
    if (host.empty() || host.size() > 255) return false;
    std::size_t labelStart = 0;
    for (std::size_t i = 0; i <= host.size(); ++i) {
        if (i == host.size() || host[i] == '.') {
            const auto label = host.substr(labelStart, i - labelStart);
            if (label.empty() || label.size() > 63) return false;
            if (label.front() == '-' || label.back() == '-') return false;
            labelStart = i + 1;
            continue;
        }
        if (!isAlnum(host[i]) && host[i] != '-') return false;
    }
    return true;
}

bool parsePort(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    std::uint32_t v = 0;
    for (char c : text) {
        if (!isDigit(c)) return false;
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (v == 0 || v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
}

std::string withPort(const ServerName& n, std::uint16_t port) {
    return "https://" + n.hostForUrl() + ":" + std::to_string(port);
}

AddressClass classifyV4(const std::array<std::uint8_t, 4>& a) {
    const auto in = [&](int prefix, std::uint32_t net) {
        const std::uint32_t v =
            (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) | (std::uint32_t{a[2]} << 8) | a[3];
        const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
        return (v & mask) == (net & mask);
    };
    if (in(8, 0x00000000)) return AddressClass::Unspecified;  // 0.0.0.0/8
    if (in(8, 0x7F000000)) return AddressClass::Loopback;     // 127/8
    if (in(8, 0x0A000000)) return AddressClass::Private;      // 10/8
    if (in(12, 0xAC100000)) return AddressClass::Private;     // 172.16/12
    if (in(16, 0xC0A80000)) return AddressClass::Private;     // 192.168/16
    if (in(10, 0x64400000)) return AddressClass::Private;     // 100.64/10 CGNAT
    if (in(16, 0xA9FE0000)) return AddressClass::LinkLocal;   // 169.254/16 (cloud metadata!)
    if (in(4, 0xE0000000)) return AddressClass::Multicast;    // 224/4
    if (in(4, 0xF0000000)) return AddressClass::Reserved;     // 240/4 incl. broadcast
    if (in(24, 0xC0000000)) return AddressClass::Reserved;    // 192.0.0/24 IETF
    if (in(24, 0xC0000200) || in(24, 0xC6336400) || in(24, 0xCB007100))
        return AddressClass::Reserved;                      // TEST-NETs
    if (in(15, 0xC6120000)) return AddressClass::Reserved;  // 198.18/15 benchmarking
    return AddressClass::Public;
}

AddressClass classifyV6(const std::array<std::uint8_t, 16>& a) {
    static constexpr std::array<std::uint8_t, 16> kZero{};
    std::array<std::uint8_t, 16> loop{};
    loop[15] = 1;
    if (a == kZero) return AddressClass::Unspecified;
    if (a == loop) return AddressClass::Loopback;
    // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible/NAT64 well-known prefix 64:ff9b::/96.
    const bool mapped = std::all_of(a.begin(), a.begin() + 10, [](auto b) { return b == 0; }) &&
                        a[10] == 0xff && a[11] == 0xff;
    static constexpr std::array<std::uint8_t, 12> kNat64{0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    const bool nat64 = std::equal(kNat64.begin(), kNat64.end(), a.begin());
    if (mapped || nat64) return classifyV4({a[12], a[13], a[14], a[15]});
    if ((a[0] & 0xfe) == 0xfc) return AddressClass::Private;                    // fc00::/7 ULA
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return AddressClass::LinkLocal;  // fe80::/10
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return AddressClass::Private;    // fec0::/10 site-local
    if (a[0] == 0xff) return AddressClass::Multicast;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return AddressClass::Reserved;  // doc
    if (a[0] == 0x01 && std::all_of(a.begin() + 1, a.begin() + 8, [](auto b) { return b == 0; }))
        return AddressClass::Reserved;  // 100::/64 discard
    return AddressClass::Public;
}

}  // namespace

Result<ServerName> parseServerName(std::string_view text) {
    if (text.empty() || text.size() > 255) return invalidName("server name must be 1-255 characters");
    ServerName n;
    std::string_view hostPart = text;
    std::string_view portPart;
    bool hasPort = false;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return invalidName("unterminated IPv6 literal");
        hostPart = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return invalidName("junk after IPv6 literal");
            portPart = rest.substr(1);
            hasPort = true;
        }
        in6_addr a6{};
        const std::string h(hostPart);
        if (h.empty() || h.size() > 45 || inet_pton(AF_INET6, h.c_str(), &a6) != 1)
            return invalidName("invalid IPv6 literal");
        n.ipLiteral = n.ipv6 = true;
    } else {
        const auto colon = text.rfind(':');
        if (colon != std::string_view::npos) {
            hostPart = text.substr(0, colon);
            portPart = text.substr(colon + 1);
            hasPort = true;
        }
        if (hostPart.find(':') != std::string_view::npos) return invalidName("IPv6 literals need brackets");
        const std::string h(hostPart);
        in_addr a4{};
        const bool allDigitsAndDots =
            !h.empty() && std::all_of(h.begin(), h.end(), [](char c) { return isDigit(c) || c == '.'; });
        if (allDigitsAndDots) {
            if (inet_pton(AF_INET, h.c_str(), &a4) != 1) return invalidName("invalid IPv4 literal");
            n.ipLiteral = true;
        } else if (!validDnsName(hostPart)) {
            return invalidName("invalid DNS name");
        }
    }
    if (hasPort) {
        std::uint16_t port = 0;
        if (!parsePort(portPart, port)) return invalidName("invalid port");
        n.port = port;
    }
    n.host = std::string(hostPart);
    // DNS names are case-insensitive; keep the canonical lower-case form for the target.
    if (!n.ipLiteral)
        std::transform(n.host.begin(), n.host.end(), n.host.begin(),
                       [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
    return n;
}

std::string_view toString(AddressClass c) {
    switch (c) {
        case AddressClass::Public:
            return "public";
        case AddressClass::Loopback:
            return "loopback";
        case AddressClass::Private:
            return "private";
        case AddressClass::LinkLocal:
            return "link-local";
        case AddressClass::Unspecified:
            return "unspecified";
        case AddressClass::Multicast:
            return "multicast";
        case AddressClass::Reserved:
            return "reserved";
    }
    return "?";
}

std::optional<AddressClass> classifyAddress(std::string_view ipLiteral) {
    std::string s(ipLiteral);
    if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (const auto pct = s.find('%'); pct != std::string::npos) s.resize(pct);  // zone id
    in_addr a4{};
    if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
        std::array<std::uint8_t, 4> b{};
        std::memcpy(b.data(), &a4, 4);
        return classifyV4(b);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), &a6, 16);
        return classifyV6(b);
    }
    return std::nullopt;
}

bool addressAllowed(AddressClass c, const TargetPolicy& policy) {
    switch (c) {
        case AddressClass::Public:
            return true;
        case AddressClass::Loopback:
            return policy.allowLoopback;
        case AddressClass::Private:
        case AddressClass::LinkLocal:
            return policy.allowPrivate;
        case AddressClass::Unspecified:
        case AddressClass::Multicast:
        case AddressClass::Reserved:
            return false;
    }
    return false;
}

std::optional<Target> directFederationTarget(const ServerName& name) {
    if (name.ipLiteral) return Target{withPort(name, name.port.value_or(kDefaultFederationPort)), name.host};
    if (name.port) return Target{withPort(name, *name.port), name.host};
    return std::nullopt;
}

Target wellKnownTarget(const ServerName& name) {
    return Target{"https://" + name.hostForUrl(), name.host};
}

Target federationTargetAfterWellKnown(const ServerName& name,
                                      const std::optional<std::string>& wellKnownBody) {
    const Target fallback{withPort(name, kDefaultFederationPort), name.host};
    if (!wellKnownBody) return fallback;
    const auto json = nlohmann::json::parse(*wellKnownBody, nullptr, false);
    if (!json.is_object()) return fallback;
    const auto it = json.find("m.server");
    if (it == json.end() || !it->is_string()) return fallback;
    auto delegated = parseServerName(it->get<std::string>());
    if (!delegated) return fallback;
    // Delegated IP literal or explicit port: use it; otherwise (no SRV support) port 8448.
    return Target{withPort(*delegated, delegated->port.value_or(kDefaultFederationPort)), delegated->host};
}

Result<std::string> parseWellKnownClient(std::string_view body) {
    const auto json = nlohmann::json::parse(body, nullptr, false);
    if (!json.is_object())
        return makeError(errcode::kNotJson, ".well-known/matrix/client is not a JSON object");
    const auto hs = json.find("m.homeserver");
    if (hs == json.end() || !hs->is_object()) return makeError(errcode::kBadJson, "m.homeserver missing");
    const auto url = hs->find("base_url");
    if (url == hs->end() || !url->is_string())
        return makeError(errcode::kBadJson, "m.homeserver.base_url missing");
    std::string base = url->get<std::string>();
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    if (base.rfind("https://", 0) != 0 && base.rfind("http://", 0) != 0)
        return makeError(errcode::kBadJson, "m.homeserver.base_url is not an http(s) URL");
    return base;
}

std::string percentEncode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (isAlnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

std::string userInfoTarget(std::string_view accessToken) {
    return std::string(kUserInfoPath) + "?access_token=" + percentEncode(accessToken);
}

std::optional<std::string_view> userIdServer(std::string_view userId) {
    if (userId.size() < 3 || userId.front() != '@') return std::nullopt;
    const auto colon = userId.find(':');
    if (colon == std::string_view::npos || colon == 1 || colon + 1 == userId.size()) return std::nullopt;
    return userId.substr(colon + 1);
}

std::variant<UserId, UserInfoError> checkUserInfo(int status, std::string_view body,
                                                  std::string_view matrixServerName) {
    if (status == 401 || status == 403 || status == 404)
        return UserInfoError{UserInfoFailure::Rejected,
                             "homeserver rejected the token (HTTP " + std::to_string(status) + ")"};
    if (status != 200)
        return UserInfoError{UserInfoFailure::ServerError,
                             "homeserver answered HTTP " + std::to_string(status)};
    const auto json = nlohmann::json::parse(body, nullptr, false);
    if (!json.is_object())
        return UserInfoError{UserInfoFailure::Malformed, "userinfo body is not a JSON object"};
    const auto sub = json.find("sub");
    if (sub == json.end() || !sub->is_string())
        return UserInfoError{UserInfoFailure::Malformed, "userinfo has no string sub"};
    const std::string userId = sub->get<std::string>();
    const auto server = userIdServer(userId);
    if (!server) return UserInfoError{UserInfoFailure::Malformed, "userinfo sub is not a user id"};
    if (*server != matrixServerName)
        return UserInfoError{UserInfoFailure::ServerNameMismatch, "userinfo sub belongs to '" +
                                                                      std::string(*server) + "', not '" +
                                                                      std::string(matrixServerName) + "'"};
    return UserId(userId);
}

}  // namespace mxrtc::auth
