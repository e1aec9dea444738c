#include "mxrtc/auth/verifier.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "mxrtc/auth/openid.hpp"
#include "mxrtc/net/http_client.hpp"

namespace mxrtc::auth {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kDiscoveryTtl = std::chrono::hours(1);
constexpr auto kClientApiTtl = std::chrono::hours(4);  // .well-known/matrix/client, as lk-jwt-service
constexpr auto kFailedDiscoveryTtl = std::chrono::minutes(5);
constexpr std::size_t kDiscoveryCacheMax = 10'000;

struct Failed {
    VerifyFailure kind;
    std::string detail;
};

Duration remaining(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
    return std::max(left, Duration{1});
}

// Origin (scheme://host[:port]) of a base URL, for logs.
std::string originOf(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    const auto slash = url.find('/', scheme + 3);
    return slash == std::string::npos ? url : url.substr(0, slash);
}

// Built outside the coroutines (GCC 12: no braced temporaries with strings in coroutine bodies).
ClientApi clientApi(std::string baseUrl, bool trusted, std::string error) {
    ClientApi c;
    c.baseUrl = std::move(baseUrl);
    c.trusted = trusted;
    c.error = std::move(error);
    return c;
}
VettedHost vetted(bool allowed, std::string address, std::string detail) {
    VettedHost v;
    v.allowed = allowed;
    v.address = std::move(address);
    v.detail = std::move(detail);
    return v;
}

std::string errcodeOf(std::string_view body) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("errcode") && j["errcode"].is_string())
        return j["errcode"].get<std::string>();
    return {};
}

}  // namespace

struct OpenIdVerifier::Impl {
    net::HttpClient& client;
    const AuthConfig& config;
    struct CachedBase {
        std::string baseUrl;  // federation or client-server base; empty = discovery failed
        Clock::time_point expires;
    };
    std::map<std::string, CachedBase> discovery;  // "<via>|<server name>" -> base

    Impl(net::HttpClient& c, const AuthConfig& cfg) : client(c), config(cfg) {}

    // SSRF: every address `host` resolves to must be allowed by the policy. `pinned` receives the
    // vetted address the request must then connect to (no second DNS answer is trusted).
    asio::awaitable<std::optional<Failed>> police(const std::string& host, Clock::time_point deadline,
                                                  std::string& pinned) {
        if (auto cls = classifyAddress(host)) {
            if (!addressAllowed(*cls, config.targetPolicy))
                co_return Failed{VerifyFailure::RefusedTarget,
                                 host + " is a " + std::string(toString(*cls)) + " address (SSRF policy)"};
            co_return std::nullopt;
        }
        using namespace asio::experimental::awaitable_operators;
        auto executor = co_await asio::this_coro::executor;
        asio::ip::tcp::resolver resolver(executor);
        asio::steady_timer timer(executor, deadline);
        auto raced = co_await (resolver.async_resolve(host, "443", asio::as_tuple(asio::use_awaitable)) ||
                               timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (raced.index() == 1) co_return Failed{VerifyFailure::Unreachable, "timed out resolving " + host};
        auto [ec, results] = std::get<0>(std::move(raced));
        if (ec) co_return Failed{VerifyFailure::Unreachable, "cannot resolve " + host + ": " + ec.message()};
        for (const auto& entry : results) {
            const auto address = entry.endpoint().address().to_string();
            const auto cls = classifyAddress(address);
            if (!cls || !addressAllowed(*cls, config.targetPolicy))
                co_return Failed{VerifyFailure::RefusedTarget,
                                 host + " resolves to " + address + ", a " +
                                     std::string(cls ? toString(*cls) : "unknown") +
                                     " address (SSRF policy)"};
            if (pinned.empty()) pinned = address;
        }
        co_return std::nullopt;
    }

    asio::awaitable<std::variant<net::HttpResponse, Failed>> get(const std::string& url,
                                                                 const std::string& policeHost, bool trusted,
                                                                 Clock::time_point deadline) {
        std::string pinned;
        if (!trusted) {
            if (auto refused = co_await police(policeHost, deadline, pinned)) co_return *refused;
        }
        net::HttpRequest req;
        req.method = "GET";
        req.url = url;
        req.timeout = remaining(deadline);
        // Connect to the address that was vetted, when the URL's host is the one policed.
        if (const auto u = net::Url::parse(url); u && u->host == policeHost) req.connectAddress = pinned;
        auto result = co_await client.request(std::move(req));
        if (auto* err = std::get_if<net::NetError>(&result))
            co_return Failed{VerifyFailure::Unreachable,
                             std::string(net::toString(err->kind)) + ": " + err->message};
        co_return std::get<net::HttpResponse>(std::move(result));
    }

    // Base URL (scheme://host[:port]) to send userinfo to, or why there is none.
    asio::awaitable<std::variant<std::string, Failed>> baseFor(const VerifyOpenId& req,
                                                               const ServerName& name,
                                                               Clock::time_point deadline, bool& trusted) {
        trusted = false;
        const VerifyVia via = req.homeserver.via.value_or(config.defaultVia);
        if (!req.homeserver.baseUrl.empty()) {
            trusted = true;  // written by the operator
            co_return req.homeserver.baseUrl;
        }
        if (via == VerifyVia::Client) {
            if (auto it = config.csApiOverrides.find(req.serverName); it != config.csApiOverrides.end()) {
                trusted = true;
                co_return it->second;
            }
        } else if (auto direct = directFederationTarget(name)) {
            co_return direct->baseUrl;
        }

        const std::string cacheKey = std::string(toString(via)) + "|" + req.serverName;
        if (auto it = discovery.find(cacheKey); it != discovery.end() && Clock::now() < it->second.expires) {
            if (it->second.baseUrl.empty())
                co_return Failed{VerifyFailure::Unreachable,
                                 "discovery for " + req.serverName + " failed recently"};
            co_return it->second.baseUrl;
        }
        if (discovery.size() >= kDiscoveryCacheMax) discovery.clear();

        // .well-known lives on https://<server name> (with its port when it has one).
        const std::string wellKnownOrigin =
            "https://" + name.hostForUrl() + (name.port ? ":" + std::to_string(*name.port) : "");
        if (via == VerifyVia::Federation) {
            auto res =
                co_await get(wellKnownOrigin + std::string(kWellKnownServerPath), name.host, false, deadline);
            if (auto* f = std::get_if<Failed>(&res); f && f->kind == VerifyFailure::RefusedTarget)
                co_return *f;
            std::optional<std::string> body;
            if (auto* r = std::get_if<net::HttpResponse>(&res); r && r->status == 200) body = r->body;
            const Target target = federationTargetAfterWellKnown(name, body);
            discovery[cacheKey] =
                CachedBase{target.baseUrl, Clock::now() + (body ? kDiscoveryTtl : kFailedDiscoveryTtl)};
            co_return target.baseUrl;
        }
        auto res =
            co_await get(wellKnownOrigin + std::string(kWellKnownClientPath), name.host, false, deadline);
        if (auto* f = std::get_if<Failed>(&res)) {
            if (f->kind != VerifyFailure::RefusedTarget)
                discovery[cacheKey] = CachedBase{"", Clock::now() + kFailedDiscoveryTtl};
            co_return *f;
        }
        const auto& r = std::get<net::HttpResponse>(res);
        auto base =
            r.status == 200
                ? parseWellKnownClient(r.body)
                : Result<std::string>(makeError(errcode::kNotFound, "HTTP " + std::to_string(r.status)));
        if (!base) {
            discovery[cacheKey] = CachedBase{"", Clock::now() + kFailedDiscoveryTtl};
            co_return Failed{VerifyFailure::Unreachable,
                             ".well-known/matrix/client of " + req.serverName + ": " + base.error().message};
        }
        discovery[cacheKey] = CachedBase{*base, Clock::now() + kDiscoveryTtl};
        co_return *base;
    }

    std::map<std::string, CachedBase> clientApis;  // server name -> CS-API base

    asio::awaitable<ClientApi> resolveClientApi(const std::string& serverName) {
        if (auto it = config.csApiOverrides.find(serverName); it != config.csApiOverrides.end())
            co_return clientApi(it->second, true, {});
        const HomeserverOverride hs = config.homeserverFor(serverName);
        if (!hs.baseUrl.empty() && hs.via.value_or(config.defaultVia) == VerifyVia::Client)
            co_return clientApi(hs.baseUrl, true, {});
        auto name = parseServerName(serverName);
        if (!name) co_return clientApi({}, false, name.error().message);
        if (auto it = clientApis.find(serverName);
            it != clientApis.end() && Clock::now() < it->second.expires) {
            if (it->second.baseUrl.empty())
                co_return clientApi({}, false, "discovery for " + serverName + " failed recently");
            co_return clientApi(it->second.baseUrl, false, {});
        }
        if (clientApis.size() >= kDiscoveryCacheMax) clientApis.clear();
        const auto deadline = Clock::now() + config.verifyTimeout;
        const std::string url = "https://" + name->hostForUrl() +
                                (name->port ? ":" + std::to_string(*name->port) : "") +
                                std::string(kWellKnownClientPath);
        auto res = co_await get(url, name->host, false, deadline);
        std::string error;
        Result<std::string> base = makeError(errcode::kNotFound, "no answer");
        if (auto* f = std::get_if<Failed>(&res)) {
            error = f->detail;
        } else {
            const auto& r = std::get<net::HttpResponse>(res);
            base =
                r.status == 200
                    ? parseWellKnownClient(r.body)
                    : Result<std::string>(makeError(errcode::kNotFound, "HTTP " + std::to_string(r.status)));
            if (!base) error = ".well-known/matrix/client of " + serverName + ": " + base.error().message;
        }
        if (!base) {
            clientApis[serverName] = CachedBase{std::string(), Clock::now() + kFailedDiscoveryTtl};
            co_return clientApi({}, false, error);
        }
        clientApis[serverName] = CachedBase{*base, Clock::now() + kClientApiTtl};
        co_return clientApi(*base, false, {});
    }

    asio::awaitable<VerifyOutcome> verify(VerifyOpenId req) {
        const auto deadline = Clock::now() + config.verifyTimeout;
        auto name = parseServerName(req.serverName);
        if (!name) co_return VerifyOutcome{VerifyFailure::InvalidServerName, name.error().message};

        bool trusted = false;
        auto base = co_await baseFor(req, *name, deadline, trusted);
        if (auto* f = std::get_if<Failed>(&base)) co_return VerifyOutcome{f->kind, f->detail};
        const std::string& baseUrl = std::get<std::string>(base);

        // The host to police is the base URL's host.
        auto url = net::Url::parse(baseUrl + "/");
        if (!url) co_return VerifyOutcome{VerifyFailure::Unreachable, "bad base URL " + baseUrl};
        const std::string where = originOf(baseUrl) + std::string(kUserInfoPath);
        auto res = co_await get(baseUrl + userInfoTarget(req.accessToken.exposeSecret()), url->host, trusted,
                                deadline);
        if (auto* f = std::get_if<Failed>(&res)) co_return VerifyOutcome{f->kind, where + ": " + f->detail};
        const auto& r = std::get<net::HttpResponse>(res);

        const std::string errcode = errcodeOf(r.body);
        if ((r.status == 403 && errcode == "M_FORBIDDEN") ||
            (r.status == 404 && errcode == "M_UNRECOGNIZED") || (r.status == 404 && errcode.empty()))
            co_return VerifyOutcome{VerifyFailure::FederationDisabled,
                                    where + ": HTTP " + std::to_string(r.status) + " " + errcode +
                                        " (federation/openid API not served; try verify_via client)"};
        auto checked = checkUserInfo(r.status, r.body, req.serverName);
        if (auto* e = std::get_if<UserInfoError>(&checked)) {
            VerifyFailure kind = VerifyFailure::Malformed;
            switch (e->kind) {
                case UserInfoFailure::Rejected:
                    kind = VerifyFailure::Rejected;
                    break;
                case UserInfoFailure::ServerError:
                    kind = VerifyFailure::ServerError;
                    break;
                case UserInfoFailure::Malformed:
                    kind = VerifyFailure::Malformed;
                    break;
                case UserInfoFailure::ServerNameMismatch:
                    kind = VerifyFailure::ServerNameMismatch;
                    break;
            }
            co_return VerifyOutcome{kind, where + ": " + e->reason + (errcode.empty() ? "" : " " + errcode)};
        }
        co_return VerifyOutcome{std::get<UserId>(std::move(checked)), where};
    }
};

OpenIdVerifier::OpenIdVerifier(net::HttpClient& client, const AuthConfig& config)
    : m_impl(std::make_unique<Impl>(client, config)) {}
OpenIdVerifier::~OpenIdVerifier() = default;

asio::awaitable<VerifyOutcome> OpenIdVerifier::verify(VerifyOpenId request) {
    co_return co_await m_impl->verify(std::move(request));
}

asio::awaitable<ClientApi> OpenIdVerifier::resolveClientApi(std::string serverName) {
    co_return co_await m_impl->resolveClientApi(serverName);
}

asio::awaitable<VettedHost> OpenIdVerifier::vetHost(std::string host, Duration timeout) {
    std::string pinned;
    auto refused = co_await m_impl->police(host, Clock::now() + timeout, pinned);
    if (refused) co_return vetted(false, {}, refused->detail);
    co_return vetted(true, pinned, {});
}

asio::awaitable<FetchResult> performFetch(net::HttpClient& client, const OutboundRequest& request,
                                          Duration timeout) {
    net::HttpRequest req;
    req.method = request.method;
    req.url = request.url;
    req.headers = request.headers;
    req.body = request.body;
    req.timeout = timeout;
    auto result = co_await client.request(std::move(req));
    if (auto* err = std::get_if<net::NetError>(&result))
        co_return FetchResult{0, {}, std::string(net::toString(err->kind)) + ": " + err->message};
    auto& r = std::get<net::HttpResponse>(result);
    co_return FetchResult{r.status, std::move(r.body), {}};
}

}  // namespace mxrtc::auth
