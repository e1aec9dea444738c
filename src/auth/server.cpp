#include "mxrtc/auth/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>

#include "mxrtc/auth/delegation.hpp"
#include "mxrtc/auth/handler.hpp"
#include "mxrtc/auth/log.hpp"
#include "mxrtc/auth/metrics.hpp"
#include "mxrtc/auth/rate_limiter.hpp"
#include "mxrtc/auth/verifier.hpp"
#include "mxrtc/common/encoding.hpp"
#include "mxrtc/core/identity.hpp"
#include "mxrtc/net/http_client.hpp"

namespace mxrtc::auth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr Duration kDelayedEventTimeout{5'000};  // per restart/send request, as lk-jwt-service

// The whole response in one buffer and one write: cheaper than Beast's field container and
// serializer for our small, fixed set of headers.
// `buf` is the session's reusable buffer (keeps its capacity: no large allocation per response).
void serializeResponse(std::string& buf, const OutgoingResponse& out, unsigned version, bool keepAlive,
                       bool head) {
    buf.clear();
    buf += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    buf += std::to_string(out.status);
    buf.push_back(' ');
    const auto reason = http::obsolete_reason(static_cast<http::status>(out.status));
    buf.append(reason.data(), reason.size());
    buf += "\r\n";
    auto put = [&buf](const HeaderList& list) {
        for (const auto& [k, v] : list) {
            buf += k;
            buf += ": ";
            buf += v;
            buf += "\r\n";
        }
    };
    if (out.sharedHeaders != nullptr) put(*out.sharedHeaders);
    put(out.headers);
    buf += "Content-Length: ";
    buf += std::to_string(out.body.size());
    buf += "\r\n";
    if (!keepAlive && version != 10) buf += "Connection: close\r\n";
    if (keepAlive && version == 10) buf += "Connection: keep-alive\r\n";
    buf += "\r\n";
    if (!head) buf += out.body;
}

TimePoint systemNow() {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

std::string_view verifyOutcomeLabel(const VerifyResult& r) {
    if (std::holds_alternative<UserId>(r)) return "ok";
    switch (std::get<VerifyFailure>(r)) {
        case VerifyFailure::Rejected:
            return "rejected";
        case VerifyFailure::ServerNameMismatch:
        case VerifyFailure::ClaimedUserMismatch:
            return "mismatch";
        case VerifyFailure::Unreachable:
            return "unreachable";
        case VerifyFailure::RefusedTarget:
        case VerifyFailure::InvalidServerName:
            return "refused_target";
        case VerifyFailure::FederationDisabled:
            return "federation_disabled";
        default:
            return "error";
    }
}

}  // namespace

struct AuthServer::Impl : std::enable_shared_from_this<Impl> {
    asio::io_context& io;
    AuthConfig config;
    std::shared_ptr<spdlog::logger> log;
    Handler handler;
    Metrics metrics;
    RateLimiter limiter;
    net::HttpClient client;
    OpenIdVerifier verifier;
    tcp::acceptor acceptor;
    DelegationManager delegations;
    asio::steady_timer delegationTimer;
    bool draining = false;
    bool stopped = false;
    std::uint64_t nextSession = 0;
    std::uint64_t requestCounter = 0;
    std::string idPrefix;
    std::string logScratch;  // the access-log line buffer, reused
    struct SessionState {
        tcp::socket* socket;
        bool busy;                         // handling a request (not waiting for one)
        SteadyClock::time_point deadline;  // the current read or write must finish by then
    };
    std::unordered_map<std::uint64_t, SessionState> sessions;
    std::function<void()> onDrained;

    Impl(asio::io_context& ioc, AuthConfig cfg, std::shared_ptr<spdlog::logger> logger)
        : io(ioc),
          config(std::move(cfg)),
          log(std::move(logger)),
          handler(config),
          limiter(config.rateLimit),
          client(ioc.get_executor(),
                 net::HttpClientOptions{!config.skipVerifyTls, 1024 * 1024, 8, "mxrtc-auth/0.1"}),
          verifier(client, handler.config()),
          acceptor(ioc),
          delegationTimer(ioc) {
        std::random_device rd;
        const std::uint32_t r = rd();
        idPrefix =
            hexEncode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&r), sizeof r));
    }

    std::string clientAddress(const std::string& peer, const http::request<http::string_body>& req) const {
        if (config.trustedProxies.empty()) return peer;
        if (std::find(config.trustedProxies.begin(), config.trustedProxies.end(), peer) ==
            config.trustedProxies.end())
            return peer;
        const auto xff = req["X-Forwarded-For"];
        if (xff.empty()) return peer;
        std::string_view v(xff.data(), xff.size());
        const auto comma = v.rfind(',');
        std::string last(comma == std::string_view::npos ? v : v.substr(comma + 1));
        last.erase(0, last.find_first_not_of(' '));
        last.erase(last.find_last_not_of(' ') + 1);
        return classifyAddress(last) ? last : peer;
    }

    // IPv6 clients are limited per /64 (one subscriber's prefix), IPv4 clients per address.
    static std::string rateLimitKey(const std::string& address) {
        if (address.find(':') == std::string::npos) return address;
        beast::error_code ec;
        const auto v6 = asio::ip::make_address_v6(address, ec);
        if (ec) return address;
        const auto bytes = v6.to_bytes();
        return hexEncode(std::span<const std::uint8_t>(bytes.data(), 8)) + "::/64";
    }

    Result<std::uint16_t> listen() {
        beast::error_code ec;
        tcp::endpoint ep;
        if (config.bindHost.empty()) {
            ep = tcp::endpoint(tcp::v6(), config.bindPort);
            acceptor.open(ep.protocol(), ec);
            if (!ec) acceptor.set_option(asio::ip::v6_only(false), ec);
            if (ec) {  // no IPv6: all IPv4 interfaces
                ec.clear();
                if (acceptor.is_open()) acceptor.close();
                ep = tcp::endpoint(tcp::v4(), config.bindPort);
                acceptor.open(ep.protocol(), ec);
            }
        } else {
            tcp::resolver resolver(io);
            auto results = resolver.resolve(config.bindHost, std::to_string(config.bindPort), ec);
            if (ec || results.empty())
                return makeError(errcode::kInvalidParam,
                                 "cannot resolve bind address " + config.bindHost + ": " + ec.message());
            ep = results.begin()->endpoint();
            acceptor.open(ep.protocol(), ec);
        }
        if (ec) return makeError(errcode::kUnknown, "cannot open socket: " + ec.message());
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        acceptor.bind(ep, ec);
        if (ec)
            return makeError(errcode::kUnknown, "cannot bind " + ep.address().to_string() + ":" +
                                                    std::to_string(config.bindPort) + ": " + ec.message());
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return makeError(errcode::kUnknown, "cannot listen: " + ec.message());
        return acceptor.local_endpoint().port();
    }

    // Housekeeping every 100 ms: buffered log lines reach stderr, and connections whose current
    // read or write has passed its deadline are cut (slow or idle clients). One timer for all
    // connections is much cheaper than arming one per I/O operation.
    asio::awaitable<void> flushLoop() {
        auto self = shared_from_this();
        asio::steady_timer timer(io);
        while (!stopped) {
            timer.expires_after(std::chrono::milliseconds(100));
            co_await timer.async_wait(kUseTuple);
            log->flush();
            const auto now = SteadyClock::now();
            beast::error_code ec;
            for (auto& [id, s] : sessions)
                if (now > s.deadline) s.socket->cancel(ec);
        }
    }

    asio::awaitable<void> acceptLoop() {
        auto self = shared_from_this();
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) {
                log->error(LogLine("accept failed").str("error", ec.message()).done());
                asio::steady_timer pause(io, std::chrono::milliseconds(50));  // e.g. EMFILE: don't spin
                co_await pause.async_wait(kUseTuple);
                continue;
            }
            if (sessions.size() >= config.maxConnections) {
                socket.close(ec);
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            asio::co_spawn(io, session(std::move(socket)), asio::detached);
        }
    }

    // Single flight: concurrent requests carrying the same (server, token) share one homeserver
    // exchange instead of stampeding it (clients retry, several tabs join at once).
    struct InFlight {
        explicit InFlight(asio::io_context& ioc) : done(ioc, SteadyClock::time_point::max()) {}
        asio::steady_timer done;  // cancelled when `outcome` is set
        std::optional<VerifyOutcome> outcome;
    };
    std::map<VerifiedTokenCache::Key, std::shared_ptr<InFlight>> inFlight;

    asio::awaitable<VerifyOutcome> verifyOnce(const VerifiedTokenCache::Key& key, VerifyOpenId request) {
        if (auto it = inFlight.find(key); it != inFlight.end()) {
            auto shared = it->second;
            while (!shared->outcome)
                co_await shared->done.async_wait(kUseTuple);
            co_return *shared->outcome;
        }
        auto mine = std::make_shared<InFlight>(io);
        inFlight.emplace(key, mine);
        const auto t0 = SteadyClock::now();
        VerifyOutcome verified = co_await verifier.verify(std::move(request));
        metrics.verification(verifyOutcomeLabel(verified.result),
                             std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0));
        mine->outcome = verified;
        inFlight.erase(key);
        mine->done.cancel();
        co_return verified;
    }

    // The synchronous part of a request: rate limit, draining, handler.start. Most requests (warm
    // OpenID cache, no room to create) finish here, without a coroutine frame for the rest; the
    // others leave their step in `pending` for drive().
    std::optional<OutgoingResponse> begin(const http::request<http::string_body>& req,
                                          const std::string& clientAddr, Outcome& outcome, Step& pending) {
        const std::string_view method(req.method_string().data(), req.method_string().size());
        const std::string_view target(req.target().data(), req.target().size());
        const auto originField = req[http::field::origin];
        const auto authorizationField = req[http::field::authorization];
        const IncomingRequest in{method,
                                 target,
                                 req.body(),
                                 clientAddr,
                                 std::string_view(originField.data(), originField.size()),
                                 std::string_view(authorizationField.data(), authorizationField.size())};

        const Endpoint endpoint = handler.route(target);
        if ((endpoint == Endpoint::SfuGet || endpoint == Endpoint::GetToken ||
             endpoint == Endpoint::DelegateDelayedLeave) &&
            method == "POST") {
            const auto decision = limiter.take(rateLimitKey(clientAddr), systemNow());
            if (!decision.allowed) {
                metrics.rateLimited();
                outcome.endpoint = endpoint;
                outcome.errcode = "M_LIMIT_EXCEEDED";
                outcome.reason = "rate_limited";
                return handler.rateLimited(decision.retryAfter);
            }
        }
        if (draining && endpoint != Endpoint::Healthz && endpoint != Endpoint::Metrics) {
            outcome.endpoint = endpoint;
            outcome.errcode = "M_UNKNOWN";
            outcome.reason = "shutting_down";
            return handler.errorResponse(503, makeError(errcode::kUnknown, "Service is shutting down"));
        }
        pending = handler.start(in, systemNow());
        if (std::holds_alternative<RenderMetrics>(pending.action)) {
            outcome.endpoint = Endpoint::Metrics;
            return handler.metricsResponse(metrics.render(handler.cacheGauges(), delegations.counts()));
        }
        if (!pending.done()) return std::nullopt;
        return complete(pending, outcome);
    }

    // The steps that need I/O (OpenID verification, membership check, CreateRoom, CS-API lookup).
    asio::awaitable<OutgoingResponse> drive(Step step, Outcome& outcome, std::string& verifyDetail) {
        while (!step.done()) {
            if (auto* v = std::get_if<VerifyOpenId>(&step.action)) {
                VerifyOpenId request = std::move(*v);
                VerifyOutcome verified = co_await verifyOnce(step.flow.cacheKey, std::move(request));
                verifyDetail = std::move(verified.detail);
                step = handler.resume(std::move(step.flow), verified.result, systemNow());
            } else if (auto* f = std::get_if<Fetch>(&step.action)) {
                OutboundRequest request = std::move(f->request);
                const Stage stage = step.flow.stage;
                FetchResult result = co_await performFetch(client, request, config.verifyTimeout);
                if (stage == Stage::CreatingRoom) metrics.roomCreation(result.status == 200);
                if (stage == Stage::CheckingMembership) {
                    const auto m = classifyMembership(result);
                    metrics.membershipCheck(m == MembershipStatus::Joined      ? "joined"
                                            : m == MembershipStatus::NotJoined ? "not_joined"
                                                                               : "unknown");
                }
                step = handler.resume(std::move(step.flow), result, systemNow());
            } else if (auto* c = std::get_if<ResolveCsApi>(&step.action)) {
                std::string server = std::move(c->serverName);
                ClientApi api = co_await verifier.resolveClientApi(std::move(server));
                CsApiResult resolved;
                resolved.baseUrl = std::move(api.baseUrl);
                resolved.error = std::move(api.error);
                step = handler.resume(std::move(step.flow), resolved, systemNow());
            } else {
                break;  // RenderMetrics is answered by begin()
            }
        }
        co_return complete(step, outcome);
    }

    // A finished step: hand delegations and webhook events to the DelegationManager.
    OutgoingResponse complete(Step& step, Outcome& outcome) {
        auto& respond = std::get<Respond>(step.action);
        if (respond.outcome.endpoint == Endpoint::SfuWebhook && !respond.outcome.reason.empty())
            metrics.webhook(respond.outcome.reason);
        if (respond.delegation) apply(delegations.delegate(std::move(*respond.delegation), systemNow()));
        if (respond.sfuEvent) apply(delegations.sfuEvent(*respond.sfuEvent, systemNow()));
        outcome = std::move(respond.outcome);
        return std::move(respond.response);
    }

    // ---- delayed-leave delegation: the edge of DelegationManager --------------------------------

    // Operator-written client-server URLs are trusted like the OpenID overrides; discovered ones
    // go through the SSRF policy on every request (with the vetted address pinned).
    bool trustedBase(const std::string& base) const {
        for (const auto& [name, url] : config.csApiOverrides)
            if (url == base) return true;
        for (const auto& [name, hs] : config.homeservers)
            if (hs.baseUrl == base) return true;
        return false;
    }

    void apply(DelegationEffects effects) {
        for (auto& effect : effects) {
            if (auto* request = std::get_if<DelayedEventRequest>(&effect)) {
                asio::co_spawn(io, delayedEventRequest(std::move(*request)), asio::detached);
            } else {
                const auto& ended = std::get<JobEnded>(effect);
                log->info(LogLine("delegation ended")
                              .integer("job", static_cast<std::int64_t>(ended.job))
                              .str("reason", toString(ended.reason))
                              .str("server_name", ended.serverName)
                              .str("lk_room", ended.participant.room)
                              .str("lk_identity", ended.participant.identity)
                              .done());
            }
        }
        armDelegationTimer();
    }

    void armDelegationTimer() {
        if (stopped) return;
        const auto next = delegations.nextWakeup();
        if (!next) {
            delegationTimer.cancel();
            return;
        }
        // +1 ms: the manager's clock is the system clock in whole milliseconds.
        const auto wait = std::max(Duration{0}, *next - systemNow()) + Duration{1};
        delegationTimer.expires_after(wait);  // cancels the previous wait
        delegationTimer.async_wait([self = shared_from_this()](const beast::error_code& ec) {
            if (ec || self->stopped) return;  // re-armed or shutting down
            self->apply(self->delegations.tick(systemNow()));
        });
    }

    // POST <cs>/…/delayed_events/<id>/<restart|send>, body {}, no access token, 5 s. The URL holds
    // the delay id (a capability): it is never logged, only the CS-API origin is.
    asio::awaitable<void> delayedEventRequest(DelayedEventRequest r) {
        auto self = shared_from_this();
        const auto t0 = SteadyClock::now();
        RequestOutcome outcome;  // Failed, no answer
        std::string detail;
        net::HttpRequest req;
        req.method = "POST";
        req.url = r.url.exposeSecret();
        req.body = "{}";
        req.headers.emplace_back("Content-Type", "application/json");
        req.timeout = kDelayedEventTimeout;
        const auto url = net::Url::parse(req.url);
        bool allowed = url.has_value();
        if (!allowed) detail = "bad client-server API URL";
        if (allowed && !trustedBase(r.csApiBaseUrl)) {
            VettedHost vetted = co_await verifier.vetHost(url->host, kDelayedEventTimeout);
            allowed = vetted.allowed;
            detail = std::move(vetted.detail);
            req.connectAddress = std::move(vetted.address);
        }
        if (allowed) {
            auto result = co_await client.request(std::move(req));
            if (auto* response = std::get_if<net::HttpResponse>(&result)) {
                const auto retryAfter = response->header("Retry-After");
                outcome = classifyDelayedEventResponse(
                    response->status, retryAfter ? *retryAfter : std::string(), response->body);
            } else {
                detail = std::string(net::toString(std::get<net::NetError>(result).kind));
            }
        }
        metrics.delegationRequest(r.action, outcome.kind);
        const auto latency = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
        const auto level =
            outcome.kind == RequestOutcome::Kind::Failed ? spdlog::level::warn : spdlog::level::info;
        if (log->should_log(level))
            log->log(level, LogLine("delayed event request")
                                .integer("job", static_cast<std::int64_t>(r.job))
                                .str("action", toString(r.action))
                                .str("cs_api", url ? url->origin() : std::string())
                                .integer("status", outcome.status)
                                .str("outcome", toString(outcome.kind))
                                .str("detail", detail)
                                .num("latency_ms", latency)
                                .done());
        if (stopped) co_return;
        apply(delegations.requestFinished(r.job, outcome, systemNow()));
    }

    void logRequest(std::uint64_t requestNumber, const std::string& client, std::string_view method,
                    std::string_view target, std::string_view origin, int status, const Outcome& o,
                    const std::string& verifyDetail, std::chrono::microseconds latency) {
        const bool isError = status >= 500;
        const bool isClientError = status >= 400 && !isError;
        const auto level =
            isError ? spdlog::level::err : (isClientError ? spdlog::level::warn : spdlog::level::info);
        if (!log->should_log(level)) return;
        // Path without query: a query could carry anything.
        const auto q = target.find('?');
        char requestId[64];
        const std::size_t prefixLen = std::min(idPrefix.size(), sizeof requestId - 24);
        std::memcpy(requestId, idPrefix.data(), prefixLen);
        requestId[prefixLen] = '-';
        const auto idEnd =
            std::to_chars(requestId + prefixLen + 1, requestId + sizeof requestId, requestNumber).ptr;
        LogLine line("request", std::move(logScratch));
        line.str("request_id", std::string_view(requestId, static_cast<std::size_t>(idEnd - requestId)))
            .str("remote", client)
            .str("origin", origin)
            .str("method", method)
            .str("path", q == std::string_view::npos ? target : target.substr(0, q))
            .str("endpoint", toString(o.endpoint))
            .integer("status", status)
            .str("errcode", o.errcode)
            .str("reason", o.reason)
            .str("detail", o.detail.empty() ? verifyDetail : o.detail)
            .str("user", o.userId)
            .str("server_name", o.serverName)
            .str("matrix_room", o.matrixRoom)
            .str("lk_room", o.liveKitRoom)
            .str("lk_identity", o.liveKitIdentity);
        if (!o.userId.empty())
            line.str("access", o.fullAccess ? "full" : "restricted").boolean("cache_hit", o.cacheHit);
        if (o.roomCreated) line.boolean("room_created", true);
        line.millis("latency_ms", latency);
        log->log(level, line.finish());
        logScratch = line.release();  // keeps its capacity for the next line
    }

    asio::awaitable<void> session(tcp::socket socket) {
        auto self = shared_from_this();
        metrics.connectionOpened();
        const std::uint64_t id = nextSession++;
        beast::error_code ec;
        auto remoteEp = socket.remote_endpoint(ec);
        std::string peer = ec ? "unknown" : remoteEp.address().to_string();
        if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
        SessionState& state = sessions[id];  // element references survive rehashing
        state = SessionState{&socket, false, SteadyClock::time_point::max()};
        beast::flat_buffer buffer;
        std::string wire;  // response bytes, reused across the connection's requests
        Step pending;      // a request that needs I/O, between begin() and drive()
        bool first = true;

        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(kHeaderLimit);
            parser.body_limit(config.maxBodyBytes);
            state.deadline = SteadyClock::now() +
                             (first || buffer.size() > 0 ? config.requestTimeout : config.idleTimeout);
            state.busy = false;
            auto [rec, bytes] = co_await http::async_read(socket, buffer, parser, kUseTuple);
            state.busy = true;
            state.deadline = SteadyClock::time_point::max();  // the handler has its own deadlines
            if (rec) {
                int status = 0;
                Error err;
                if (rec == http::error::body_limit) {
                    status = 413;
                    err = makeError("M_TOO_LARGE", "Request body too large");
                } else if (rec == http::error::header_limit) {
                    status = 431;
                    err = makeError("M_TOO_LARGE", "Request headers too large");
                } else if (rec != http::error::end_of_stream && rec != asio::error::eof &&
                           rec != asio::error::operation_aborted && rec != asio::error::connection_reset &&
                           bytes > 0) {
                    status = 400;
                    err = makeError(errcode::kNotJson, "Malformed HTTP request");
                }
                if (status != 0) {
                    std::string wire;
                    serializeResponse(wire, handler.errorResponse(status, err), 11, false, false);
                    state.deadline = SteadyClock::now() + config.requestTimeout;
                    co_await asio::async_write(socket, asio::buffer(wire), kUseTuple);
                    metrics.request(Endpoint::Other, status, std::chrono::microseconds{0});
                    metrics.error(err.errcode);
                }
                break;
            }
            first = false;
            const auto& req = parser.get();
            const auto t0 = SteadyClock::now();
            const std::string client = clientAddress(peer, req);
            Outcome outcome;
            std::string verifyDetail;
            OutgoingResponse out;
            try {
                std::optional<OutgoingResponse> ready = begin(req, client, outcome, pending);
                if (ready)
                    out = std::move(*ready);
                else
                    out = co_await drive(std::move(pending), outcome, verifyDetail);
            } catch (const std::exception& e) {  // HTTP request boundary: log, count, answer 500
                log->error(LogLine("handler exception").str("error", e.what()).done());
                out = handler.errorResponse(500, makeError(errcode::kUnknown, "Internal Server Error"));
                outcome.errcode = errcode::kUnknown;
                outcome.reason = "exception";
            }
            const auto latency =
                std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0);

            const bool keepAlive = req.keep_alive() && !draining;
            serializeResponse(wire, out, req.version(), keepAlive, req.method() == http::verb::head);
            state.deadline = SteadyClock::now() + config.requestTimeout;
            auto [wec, written] = co_await asio::async_write(socket, asio::buffer(wire), kUseTuple);

            metrics.request(outcome.endpoint, out.status, latency);
            if (!outcome.errcode.empty()) metrics.error(outcome.errcode);
            ++requestCounter;
            logRequest(requestCounter, client,
                       std::string_view(req.method_string().data(), req.method_string().size()),
                       std::string_view(req.target().data(), req.target().size()),
                       std::string_view(req[http::field::origin].data(), req[http::field::origin].size()),
                       out.status, outcome, verifyDetail, latency);
            if (wec || !keepAlive) break;
        }
        socket.shutdown(tcp::socket::shutdown_send, ec);
        socket.close(ec);
        sessions.erase(id);
        metrics.connectionClosed();
        if (draining && sessions.empty() && onDrained) {
            auto done = std::move(onDrained);
            onDrained = nullptr;
            done();
        }
    }
};

AuthServer::AuthServer(asio::io_context& io, AuthConfig config, std::shared_ptr<spdlog::logger> logger)
    : m_impl(std::make_shared<Impl>(io, std::move(config), std::move(logger))) {}

AuthServer::~AuthServer() = default;

Result<std::uint16_t> AuthServer::start() {
    auto port = m_impl->listen();
    if (!port) return port;
    asio::co_spawn(m_impl->io, m_impl->acceptLoop(), asio::detached);
    asio::co_spawn(m_impl->io, m_impl->flushLoop(), asio::detached);
    return port;
}

void AuthServer::shutdown(Duration grace, std::function<void()> done) {
    auto impl = m_impl;
    impl->draining = true;
    done = [impl, inner = std::move(done)] {
        impl->stopped = true;
        impl->delegationTimer.cancel();
        impl->log->flush();
        inner();
    };
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->client.closeIdle();
    // Idle keep-alive connections are closed now; busy ones close after their response.
    for (auto& [id, s] : impl->sessions)
        if (!s.busy) s.socket->cancel(ec);
    if (impl->sessions.empty()) {
        done();
        return;
    }
    impl->onDrained = done;
    auto timer = std::make_shared<asio::steady_timer>(impl->io, grace);
    timer->async_wait([impl, timer](const beast::error_code&) {
        if (impl->onDrained) {
            auto cb = std::move(impl->onDrained);
            impl->onDrained = nullptr;
            cb();
        }
    });
}

}  // namespace mxrtc::auth
