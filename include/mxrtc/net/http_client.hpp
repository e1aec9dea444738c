// HTTP/1.1 client on Boost.Asio/Beast with C++20 coroutines: the one way mxrtc talks HTTP
// (Matrix client-server API, OpenID userinfo, LiveKit RoomService). Edge code: it owns sockets
// and timers; protocol decisions live in core.
//
//  * http:// and https:// (OpenSSL, peer verification against the system store unless disabled)
//  * keep-alive connection pool per (scheme, host, port); idle connections are reused
//  * every request has a deadline covering resolve + connect + TLS + write + read
//  * response bodies are capped (default 16 MiB) so a hostile server cannot exhaust memory
//  * errors are values (NetError), never exceptions
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mxrtc/common/time.hpp"

namespace mxrtc::net {

struct Url {
    std::string scheme;  // "http" | "https"
    std::string host;    // without brackets for IPv6 literals
    std::uint16_t port = 0;
    std::string target;  // path + query, "/" at least

    // Absolute http(s) URLs only; nullopt otherwise.
    static std::optional<Url> parse(std::string_view text);
    std::string origin() const;  // scheme://host[:port]
};

// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay).
std::string urlEncode(std::string_view s);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method{"GET"};
    std::string url;  // absolute
    Headers headers;
    std::string body;
    Duration timeout{10'000};
    // Connect to this IP address instead of resolving the URL's host (Host header and TLS name
    // stay the host's). Callers that vetted the address (SSRF checks) pin it so a second DNS
    // answer cannot point the request elsewhere.
    std::string connectAddress;
};

struct HttpResponse {
    int status = 0;
    Headers headers;
    std::string body;
    // Case-insensitive lookup of the first header with this name.
    std::optional<std::string> header(std::string_view name) const;
};

// Closed: the peer or we closed a connection-oriented channel (WebSocket); not an HTTP outcome.
enum class NetErrorKind { InvalidUrl, Resolve, Connect, Tls, Timeout, Protocol, TooLarge, Cancelled, Closed };
std::string_view toString(NetErrorKind k);

struct NetError {
    NetErrorKind kind;
    std::string message;  // one line, no secrets (URLs are logged without their query)
};

using HttpResult = std::variant<HttpResponse, NetError>;

struct HttpClientOptions {
    bool verifyTls = true;
    std::size_t maxBodyBytes = 16 * 1024 * 1024;
    std::size_t maxIdlePerHost = 8;
    std::string userAgent{"mxrtc/0.1"};
};

class HttpClient {
  public:
    explicit HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Safe to call concurrently from coroutines on the same executor (single-threaded use).
    boost::asio::awaitable<HttpResult> request(HttpRequest request);

    boost::asio::any_io_executor executor() const;

    // Closes idle connections (e.g. before shutdown).
    void closeIdle();

  private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

}  // namespace mxrtc::net
