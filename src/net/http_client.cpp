#include "mxrtc/net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <map>
#include <variant>

namespace mxrtc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// ---- URL -----------------------------------------------------------------------------------------

std::optional<Url> Url::parse(std::string_view text) {
    Url u;
    const auto schemeEnd = text.find("://");
    if (schemeEnd == std::string_view::npos) return std::nullopt;
    u.scheme = std::string(text.substr(0, schemeEnd));
    for (auto& c : u.scheme)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    std::string_view rest = text.substr(schemeEnd + 3);
    const auto pathStart = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, pathStart);
    std::string_view target =
        pathStart == std::string_view::npos ? std::string_view{} : rest.substr(pathStart);
    if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    std::string_view portText;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            portText = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            u.host = std::string(authority.substr(0, colon));
            portText = authority.substr(colon + 1);
        } else {
            u.host = std::string(authority);
        }
    }
    if (u.host.empty()) return std::nullopt;
    for (char c : u.host) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
            return std::nullopt;
        }
    }
    if (!portText.empty()) {
        unsigned port = 0;
        auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
        if (ec != std::errc{} || p != portText.data() + portText.size() || port == 0 || port > 65535)
            return std::nullopt;
        u.port = static_cast<std::uint16_t>(port);
    } else {
        u.port = u.scheme == "https" ? 443 : 80;
    }
    u.target = target.empty() ? "/" : std::string(target);
    if (u.target.front() == '?') u.target.insert(u.target.begin(), '/');
    return u;
}

std::string Url::origin() const {
    const bool defaultPort = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    const bool v6 = host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + host + "]" : host;
    return scheme + "://" + h + (defaultPort ? "" : ":" + std::to_string(port));
}

std::string urlEncode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            })) {
            return v;
        }
    }
    return std::nullopt;
}

std::string_view toString(NetErrorKind k) {
    switch (k) {
        case NetErrorKind::InvalidUrl:
            return "invalid_url";
        case NetErrorKind::Resolve:
            return "resolve";
        case NetErrorKind::Connect:
            return "connect";
        case NetErrorKind::Tls:
            return "tls";
        case NetErrorKind::Timeout:
            return "timeout";
        case NetErrorKind::Protocol:
            return "protocol";
        case NetErrorKind::TooLarge:
            return "too_large";
        case NetErrorKind::Cancelled:
            return "cancelled";
        case NetErrorKind::Closed:
            return "closed";
    }
    return "protocol";
}

// ---- client --------------------------------------------------------------------------------------

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Connection {
    std::variant<PlainStream, TlsStream> stream;
    beast::flat_buffer buffer;

    beast::tcp_stream& tcp() {
        if (auto* p = std::get_if<PlainStream>(&stream)) return *p;
        return beast::get_lowest_layer(std::get<TlsStream>(stream));
    }
};

std::string describe(const Url& u) {
    return u.origin() + u.target.substr(0, u.target.find('?'));
}

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<Impl> {
    asio::any_io_executor executor;
    HttpClientOptions options;
    ssl::context tls{ssl::context::tls_client};
    std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

    Impl(asio::any_io_executor ex, HttpClientOptions opts)
        : executor(std::move(ex)), options(std::move(opts)) {
        tls.set_default_verify_paths();
        tls.set_verify_mode(options.verifyTls ? ssl::verify_peer : ssl::verify_none);
    }

    // Pinned connections only serve requests pinned to the same address.
    static std::string poolKey(const Url& u, const std::string& pinned) {
        return u.scheme + "://" + u.host + ":" + std::to_string(u.port) + "@" + pinned;
    }

    std::unique_ptr<Connection> takeIdle(const Url& u, const std::string& pinned) {
        auto it = idle.find(poolKey(u, pinned));
        if (it == idle.end() || it->second.empty()) return nullptr;
        auto c = std::move(it->second.back());
        it->second.pop_back();
        return c;
    }

    void giveBack(const Url& u, const std::string& pinned, std::unique_ptr<Connection> c) {
        auto& list = idle[poolKey(u, pinned)];
        if (list.size() < options.maxIdlePerHost) list.push_back(std::move(c));
    }

    asio::awaitable<std::variant<std::unique_ptr<Connection>, NetError>> connect(
        const Url& u, std::string pinned, std::chrono::steady_clock::time_point deadline) {
        using namespace asio::experimental::awaitable_operators;
        tcp::resolver resolver(executor);
        tcp::resolver::results_type results;
        if (!pinned.empty()) {
            boost::system::error_code aec;
            const auto address = asio::ip::make_address(pinned, aec);
            if (aec) co_return NetError{NetErrorKind::InvalidUrl, "not an IP address: " + pinned};
            results = tcp::resolver::results_type::create(tcp::endpoint(address, u.port), u.host,
                                                          std::to_string(u.port));
        } else {
            asio::steady_timer timer(executor, deadline);
            auto raced = co_await (
                resolver.async_resolve(u.host, std::to_string(u.port), asio::as_tuple(asio::use_awaitable)) ||
                timer.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (raced.index() == 1)
                co_return NetError{NetErrorKind::Timeout, "timed out resolving " + u.host};
            auto [rec, resolved] = std::get<0>(std::move(raced));
            if (rec)
                co_return NetError{NetErrorKind::Resolve, "cannot resolve " + u.host + ": " + rec.message()};
            results = std::move(resolved);
        }

        auto conn = std::make_unique<Connection>(Connection{PlainStream(executor), {}});
        if (u.scheme == "https") conn->stream.emplace<TlsStream>(PlainStream(executor), tls);
        conn->tcp().expires_at(deadline);
        auto [cec, ep] = co_await conn->tcp().async_connect(results, asio::as_tuple(asio::use_awaitable));
        if (cec == beast::error::timeout)
            co_return NetError{NetErrorKind::Timeout, "timed out connecting to " + u.origin()};
        if (cec)
            co_return NetError{NetErrorKind::Connect,
                               "cannot connect to " + u.origin() + ": " + cec.message()};
        if (auto* t = std::get_if<TlsStream>(&conn->stream)) {
            if (!SSL_set_tlsext_host_name(t->native_handle(), u.host.c_str())) {
                co_return NetError{NetErrorKind::Tls, "cannot set TLS server name for " + u.host};
            }
            if (options.verifyTls) t->set_verify_callback(ssl::host_name_verification(u.host));
            auto [hec] =
                co_await t->async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
            if (hec == beast::error::timeout)
                co_return NetError{NetErrorKind::Timeout, "TLS handshake timed out with " + u.origin()};
            if (hec)
                co_return NetError{NetErrorKind::Tls,
                                   "TLS handshake with " + u.origin() + " failed: " + hec.message()};
        }
        co_return std::move(conn);
    }

    // One exchange on a connection. `stale` is set when a reused connection failed before any
    // response byte arrived (the server closed it while idle): the caller retries on a new one.
    asio::awaitable<HttpResult> exchange(Connection& c, const Url& u, const HttpRequest& req,
                                         std::chrono::steady_clock::time_point deadline, bool& keepAlive,
                                         bool& stale) {
        http::request<http::string_body> msg;
        msg.method_string(req.method);
        msg.target(u.target);
        msg.version(11);
        const bool defaultPort =
            (u.scheme == "https" && u.port == 443) || (u.scheme == "http" && u.port == 80);
        const bool v6 = u.host.find(':') != std::string::npos;
        msg.set(http::field::host,
                (v6 ? "[" + u.host + "]" : u.host) + (defaultPort ? "" : ":" + std::to_string(u.port)));
        msg.set(http::field::user_agent, options.userAgent);
        for (const auto& [k, v] : req.headers)
            msg.set(k, v);
        msg.keep_alive(true);
        msg.body() = req.body;
        if (!req.body.empty() || req.method == "POST" || req.method == "PUT") msg.prepare_payload();

        c.tcp().expires_at(deadline);
        beast::error_code ec;
        if (auto* t = std::get_if<TlsStream>(&c.stream)) {
            std::tie(ec, std::ignore) =
                co_await http::async_write(*t, msg, asio::as_tuple(asio::use_awaitable));
        } else {
            std::tie(ec, std::ignore) = co_await http::async_write(std::get<PlainStream>(c.stream), msg,
                                                                   asio::as_tuple(asio::use_awaitable));
        }
        if (ec) {
            stale = ec != beast::error::timeout;
            co_return mapError(ec, u, "sending to");
        }
        http::response_parser<http::string_body> parser;
        parser.body_limit(options.maxBodyBytes);
        parser.header_limit(64 * 1024);
        if (auto* t = std::get_if<TlsStream>(&c.stream)) {
            std::tie(ec, std::ignore) =
                co_await http::async_read(*t, c.buffer, parser, asio::as_tuple(asio::use_awaitable));
        } else {
            std::tie(ec, std::ignore) = co_await http::async_read(
                std::get<PlainStream>(c.stream), c.buffer, parser, asio::as_tuple(asio::use_awaitable));
        }
        if (ec) {
            stale = (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                     ec == asio::error::eof) &&
                    !parser.got_some();
            co_return mapError(ec, u, "reading from");
        }
        auto res = parser.release();
        keepAlive = res.keep_alive();
        HttpResponse out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res)
            out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        out.body = std::move(res.body());
        co_return out;
    }

    static NetError mapError(const beast::error_code& ec, const Url& u, std::string_view what) {
        const std::string where = std::string(what) + " " + describe(u);
        if (ec == beast::error::timeout) return {NetErrorKind::Timeout, "timed out " + where};
        if (ec == http::error::body_limit) return {NetErrorKind::TooLarge, "response too large " + where};
        if (ec == asio::error::operation_aborted) return {NetErrorKind::Cancelled, "cancelled " + where};
        if (ec.category() == asio::error::get_ssl_category())
            return {NetErrorKind::Tls, "TLS error " + where + ": " + ec.message()};
        return {NetErrorKind::Protocol, "failed " + where + ": " + ec.message()};
    }

    asio::awaitable<HttpResult> run(HttpRequest req) {
        auto self = shared_from_this();  // keep the pool alive while the coroutine runs
        auto url = Url::parse(req.url);
        if (!url) co_return NetError{NetErrorKind::InvalidUrl, "not an absolute http(s) URL"};
        const auto deadline = std::chrono::steady_clock::now() + req.timeout;
        for (int attempt = 0; attempt < 2; ++attempt) {
            std::unique_ptr<Connection> conn = takeIdle(*url, req.connectAddress);
            const bool reused = conn != nullptr;
            if (!conn) {
                auto made = co_await connect(*url, req.connectAddress, deadline);
                if (auto* err = std::get_if<NetError>(&made)) co_return *err;
                conn = std::move(std::get<0>(made));
            }
            bool keepAlive = false;
            bool stale = false;
            HttpResult r = co_await exchange(*conn, *url, req, deadline, keepAlive, stale);
            if (std::holds_alternative<NetError>(r)) {
                if (reused && stale) continue;  // idle connection closed by the server: retry fresh
                co_return r;
            }
            if (keepAlive) {
                conn->tcp().expires_never();
                giveBack(*url, req.connectAddress, std::move(conn));
            }
            co_return r;
        }
        co_return NetError{NetErrorKind::Protocol, "connection closed by " + describe(*url)};
    }
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientOptions options)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

HttpClient::~HttpClient() = default;

asio::awaitable<HttpResult> HttpClient::request(HttpRequest request) {
    return m_impl->run(std::move(request));
}

void HttpClient::closeIdle() {
    m_impl->idle.clear();
}

asio::any_io_executor HttpClient::executor() const {
    return m_impl->executor;
}

}  // namespace mxrtc::net
