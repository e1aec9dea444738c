#include "mxrtc/net/websocket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cctype>
#include <deque>
#include <string_view>
#include <vector>

namespace mxrtc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// Received messages buffered while nobody calls receive(); the reader pauses beyond this (and so
// stops answering pings, which is what a stuck consumer should look like to the server).
constexpr std::size_t kMaxQueuedMessages = 1024;
// Bytes of a refused upgrade's body kept for the caller.
constexpr std::size_t kMaxRefusalBody = 64 * 1024;
// 1006: "abnormal closure" (RFC 6455 §7.4.1): never sent, reported when the TCP connection ended
// without a close frame.
constexpr std::uint16_t kAbnormalClosure = 1006;

enum class State { Idle, Connecting, Open, Closing, Closed };

struct WsUrl {
    bool tls = false;
    Url url;  // scheme http/https for Url's rules; the original scheme is `tls`

    std::string hostHeader() const {
        const bool v6 = url.host.find(':') != std::string::npos;
        const bool defaultPort = url.port == (tls ? 443 : 80);
        return (v6 ? "[" + url.host + "]" : url.host) + (defaultPort ? "" : ":" + std::to_string(url.port));
    }
    // For messages: no query (LiveKit's access_token is there).
    std::string describe() const {
        return std::string(tls ? "wss://" : "ws://") + hostHeader() +
               url.target.substr(0, url.target.find('?'));
    }
};

std::optional<WsUrl> parseWsUrl(std::string_view text) {
    const auto schemeEnd = text.find("://");
    if (schemeEnd == std::string_view::npos) return std::nullopt;
    std::string scheme(text.substr(0, schemeEnd));
    for (auto& c : scheme)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "ws" && scheme != "wss") return std::nullopt;
    WsUrl out;
    out.tls = scheme == "wss";
    auto u = Url::parse(std::string(out.tls ? "https" : "http") + std::string(text.substr(schemeEnd)));
    if (!u) return std::nullopt;
    out.url = std::move(*u);
    return out;
}

bool isIpLiteral(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

WsError wsError(NetErrorKind kind, std::string message) {
    WsError e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
}

// Values we sent that a refusing server may echo back in its body (LiveKit's 401 quotes the whole
// token): query values and header credentials of 16+ characters.
std::vector<std::string> sentSecrets(std::string_view target, const Headers& headers) {
    constexpr std::size_t kMinSecret = 16;
    std::vector<std::string> out;
    if (const auto q = target.find('?'); q != std::string_view::npos) {
        std::string_view query = target.substr(q + 1);
        while (!query.empty()) {
            const auto amp = query.find('&');
            const std::string_view pair = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
            const auto eq = pair.find('=');
            if (eq == std::string_view::npos || pair.size() - eq - 1 < kMinSecret) continue;
            const std::string_view raw = pair.substr(eq + 1);
            out.emplace_back(raw);
            std::string decoded;  // the server quotes what it decoded
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '%' && i + 2 < raw.size() &&
                    std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                    std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
                    decoded += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
                    i += 2;
                } else {
                    decoded += raw[i] == '+' ? ' ' : raw[i];
                }
            }
            if (decoded != raw) out.push_back(std::move(decoded));
        }
    }
    for (const auto& [name, value] : headers) {
        const auto space = value.rfind(' ');
        std::string credential = space == std::string::npos ? value : value.substr(space + 1);
        if (credential.size() >= kMinSecret) out.push_back(std::move(credential));
    }
    return out;
}

std::string redact(std::string text, const std::vector<std::string>& secrets) {
    for (const auto& secret : secrets) {
        for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
            text.replace(at, secret.size(), "[redacted]");
    }
    return text;
}

struct Outgoing {
    std::string data;
    bool binary = true;
    bool done = false;
    std::optional<WsError> error;
};

// A wake-up for coroutines on one executor: waiters wait on a timer that never expires,
// notify() cancels the waits. No lost wake-ups: a waiter checks its condition and starts waiting
// without yielding in between.
struct Signal {
    asio::steady_timer timer;
    explicit Signal(const asio::any_io_executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    void notify() { timer.cancel(); }
    // False when the waiting coroutine itself was cancelled (e.g. lost a `||` race).
    asio::awaitable<bool> wait() {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) co_return false;
        co_await timer.async_wait(kUse);
        co_return cs.cancelled() == asio::cancellation_type::none;
    }
};

}  // namespace

struct WebSocket::Impl : std::enable_shared_from_this<Impl> {
    asio::any_io_executor executor;
    WebSocketOptions options;
    std::optional<ssl::context> tls;  // made for wss:// only (an OpenSSL context costs ms)
    std::unique_ptr<PlainWs> plain;
    std::unique_ptr<TlsWs> secure;
    State state = State::Idle;
    bool closeRequested = false;
    bool closeInFlight = false;  // closeHandshake() running
    std::string where;           // the URL without its query, for messages

    asio::steady_timer connectTimer;   // races the resolver; close() cancels it
    asio::steady_timer closeWatchdog;  // bounds the close handshake + teardown

    std::deque<WsMessage> inbox;
    std::optional<WsError> ended;  // why the connection is over (first cause wins)
    Signal inboxChanged;
    Signal inboxHasRoom;

    std::deque<std::shared_ptr<Outgoing>> outbox;
    bool writerRunning = false;
    Signal sent;

    Impl(asio::any_io_executor ex, WebSocketOptions opts)
        : executor(std::move(ex)),
          options(std::move(opts)),
          connectTimer(executor),
          closeWatchdog(executor),
          inboxChanged(executor),
          inboxHasRoom(executor),
          sent(executor) {}

    // Runs f on the connection's stream (plain or TLS); false when there is none yet.
    template <class F>
    bool withStream(F&& f) {
        if (plain) {
            f(*plain);
            return true;
        }
        if (secure) {
            f(*secure);
            return true;
        }
        return false;
    }

    WsError closedError(std::string why) const {
        return wsError(NetErrorKind::Closed, why + " (" + where + ")");
    }

    // The connection is over: record why (first cause wins), wake everyone, drop the socket unless
    // our close handshake is still tearing it down (then closeHandshake() or the watchdog will).
    void end(WsError why) {
        if (!ended) ended = std::move(why);
        state = State::Closed;
        if (!closeInFlight) {
            closeWatchdog.cancel();
            withStream([](auto& ws) {
                boost::system::error_code ignored;
                beast::get_lowest_layer(ws).socket().close(ignored);
            });
        }
        inboxChanged.notify();
        inboxHasRoom.notify();
        sent.notify();
    }

    template <class Ws>
    WsError readError(const beast::error_code& ec, const Ws& ws) const {
        if (ec == websocket::error::closed) {
            const auto& r = ws.reason();
            WsError e = closedError("closed by the server with code " + std::to_string(r.code));
            e.closeCode = r.code;
            e.closeReason = std::string(r.reason.data(), r.reason.size());
            return e;
        }
        if (ec == websocket::error::message_too_big)
            return wsError(
                NetErrorKind::TooLarge,
                "message over the " + std::to_string(options.maxMessageBytes) + "-byte limit from " + where);
        if (ec == beast::error::timeout) return wsError(NetErrorKind::Timeout, "timed out on " + where);
        if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
            ec == asio::error::operation_aborted || ec == ssl::error::stream_truncated) {
            WsError e = closedError("connection lost without a close frame");
            e.closeCode = kAbnormalClosure;
            return e;
        }
        if (ec.category() == asio::error::get_ssl_category())
            return wsError(NetErrorKind::Tls, "TLS error on " + where + ": " + ec.message());
        return wsError(NetErrorKind::Protocol, "failed on " + where + ": " + ec.message());
    }

    // ---- connect -------------------------------------------------------------------------------

    static asio::awaitable<std::optional<WsError>> connect(std::shared_ptr<Impl> self, std::string text,
                                                           Headers headers) {
        if (self->state != State::Idle) {
            co_return wsError(NetErrorKind::Protocol, "connect() on a WebSocket that was already used");
        }
        auto url = parseWsUrl(text);
        if (!url) {
            self->state = State::Closed;
            self->ended = wsError(NetErrorKind::InvalidUrl, "not an absolute ws(s) URL");
            co_return self->ended;
        }
        self->where = url->describe();
        self->state = State::Connecting;
        std::optional<WsError> failed;
        if (url->tls) {
            self->tls.emplace(ssl::context::tls_client);
            self->tls->set_default_verify_paths();
            self->tls->set_verify_mode(self->options.verifyTls ? ssl::verify_peer : ssl::verify_none);
            self->secure = std::make_unique<TlsWs>(self->executor, *self->tls);
            failed = co_await self->handshake(*self->secure, *url, std::move(headers));
        } else {
            self->plain = std::make_unique<PlainWs>(self->executor);
            failed = co_await self->handshake(*self->plain, *url, std::move(headers));
        }
        if (!failed && self->closeRequested) failed = wsError(NetErrorKind::Cancelled, "connect cancelled");
        if (failed) {
            self->end(*failed);
            co_return failed;
        }
        self->state = State::Open;
        if (self->plain) asio::co_spawn(self->executor, readLoop(self, *self->plain), asio::detached);
        if (self->secure) asio::co_spawn(self->executor, readLoop(self, *self->secure), asio::detached);
        co_return std::nullopt;
    }

    template <class Ws>
    asio::awaitable<std::optional<WsError>> handshake(Ws& ws, const WsUrl& u, Headers headers) {
        using namespace asio::experimental::awaitable_operators;
        const auto deadline = std::chrono::steady_clock::now() + options.connectTimeout;
        const std::string origin = std::string(u.tls ? "wss://" : "ws://") + u.hostHeader();
        const auto secrets = sentSecrets(u.url.target, headers);
        auto cancelled = [&]() -> std::optional<WsError> {
            if (closeRequested) return wsError(NetErrorKind::Cancelled, "connect to " + where + " cancelled");
            return std::nullopt;
        };

        tcp::resolver resolver(executor);
        connectTimer.expires_at(deadline);
        auto raced = co_await (resolver.async_resolve(u.url.host, std::to_string(u.url.port), kUse) ||
                               connectTimer.async_wait(kUse));
        if (auto c = cancelled()) co_return c;
        if (raced.index() == 1) co_return wsError(NetErrorKind::Timeout, "timed out resolving " + u.url.host);
        auto [rec, results] = std::get<0>(std::move(raced));
        if (rec)
            co_return wsError(NetErrorKind::Resolve, "cannot resolve " + u.url.host + ": " + rec.message());

        auto& tcpStream = beast::get_lowest_layer(ws);
        tcpStream.expires_at(deadline);
        auto [cec, ep] = co_await tcpStream.async_connect(results, kUse);
        if (auto c = cancelled()) co_return c;
        if (cec == beast::error::timeout)
            co_return wsError(NetErrorKind::Timeout, "timed out connecting to " + origin);
        if (cec)
            co_return wsError(NetErrorKind::Connect, "cannot connect to " + origin + ": " + cec.message());
        boost::system::error_code ignored;
        tcpStream.socket().set_option(tcp::no_delay(true), ignored);

        if constexpr (std::is_same_v<Ws, TlsWs>) {
            auto& t = ws.next_layer();
            // SNI carries names only (RFC 6066 §3).
            if (!isIpLiteral(u.url.host) && !SSL_set_tlsext_host_name(t.native_handle(), u.url.host.c_str()))
                co_return wsError(NetErrorKind::Tls, "cannot set TLS server name for " + u.url.host);
            if (options.verifyTls) t.set_verify_callback(ssl::host_name_verification(u.url.host));
            auto [hec] = co_await t.async_handshake(ssl::stream_base::client, kUse);
            if (auto c = cancelled()) co_return c;
            if (hec == beast::error::timeout)
                co_return wsError(NetErrorKind::Timeout, "TLS handshake timed out with " + origin);
            if (hec)
                co_return wsError(NetErrorKind::Tls,
                                  "TLS handshake with " + origin + " failed: " + hec.message());
        }

        // From here on the WebSocket stream keeps time itself (Beast: not both timers at once).
        tcpStream.expires_never();
        const auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - std::chrono::steady_clock::now()),
                                   std::chrono::milliseconds(1));
        ws.set_option(websocket::stream_base::timeout{left, websocket::stream_base::none(), false});
        ws.set_option(websocket::stream_base::decorator(
            [ua = options.userAgent, headers = std::move(headers)](websocket::request_type& req) {
                req.set(beast::http::field::user_agent, ua);
                for (const auto& [k, v] : headers)
                    req.set(k, v);
            }));
        ws.read_message_max(options.maxMessageBytes);
        websocket::response_type res;
        auto [wec] = co_await ws.async_handshake(res, u.hostHeader(), u.url.target, kUse);
        if (auto c = cancelled()) co_return c;
        if (wec == websocket::error::upgrade_declined) {
            WsError e = wsError(NetErrorKind::Protocol,
                                "upgrade refused by " + where + ": HTTP " + std::to_string(res.result_int()));
            e.httpStatus = static_cast<int>(res.result_int());
            e.httpBody = redact(res.body().substr(0, kMaxRefusalBody), secrets);
            co_return e;
        }
        if (wec == beast::error::timeout)
            co_return wsError(NetErrorKind::Timeout, "WebSocket upgrade timed out with " + where);
        if (wec)
            co_return wsError(NetErrorKind::Protocol,
                              "WebSocket upgrade with " + where + " failed: " + wec.message());
        // The opening handshake's limit becomes the closing handshake's.
        ws.set_option(
            websocket::stream_base::timeout{options.closeTimeout, websocket::stream_base::none(), false});
        co_return std::nullopt;
    }

    // ---- reading -------------------------------------------------------------------------------

    // One per connection, from connect() until the connection ends: keeps a read pending so pings
    // are answered and close frames seen, whoever is (or is not) waiting in receive().
    template <class Ws>
    static asio::awaitable<void> readLoop(std::shared_ptr<Impl> self, Ws& ws) {
        for (;;) {
            while (self->inbox.size() >= kMaxQueuedMessages && !self->ended)
                co_await self->inboxHasRoom.wait();
            if (self->state == State::Closed) co_return;
            beast::flat_buffer buffer;
            auto [ec, n] = co_await ws.async_read(buffer, kUse);
            if (ec) {
                self->end(self->readError(ec, ws));
                co_return;
            }
            self->inbox.push_back(WsMessage{ws.got_binary(), beast::buffers_to_string(buffer.data())});
            self->inboxChanged.notify();
        }
    }

    static asio::awaitable<std::variant<WsMessage, WsError>> receive(std::shared_ptr<Impl> self) {
        for (;;) {
            if (self->closeRequested) co_return self->ended.value_or(self->closedError("closed locally"));
            if (!self->inbox.empty()) {
                WsMessage m = std::move(self->inbox.front());
                self->inbox.pop_front();
                self->inboxHasRoom.notify();
                co_return m;
            }
            if (self->ended) co_return *self->ended;
            if (self->state != State::Open && self->state != State::Closing)
                co_return wsError(NetErrorKind::Protocol, "receive() before connect() completed");
            if (!co_await self->inboxChanged.wait())
                co_return wsError(NetErrorKind::Cancelled, "receive cancelled");
        }
    }

    // ---- writing -------------------------------------------------------------------------------

    static asio::awaitable<std::optional<WsError>> send(std::shared_ptr<Impl> self, std::string data,
                                                        bool binary) {
        if (self->state != State::Open) {
            if (self->ended) co_return self->ended;
            co_return wsError(NetErrorKind::Protocol, "send() on a WebSocket that is not open");
        }
        auto item = std::make_shared<Outgoing>(Outgoing{std::move(data), binary, false, std::nullopt});
        self->outbox.push_back(item);
        if (!self->writerRunning) {
            self->writerRunning = true;
            if (self->plain) asio::co_spawn(self->executor, writeLoop(self, *self->plain), asio::detached);
            if (self->secure) asio::co_spawn(self->executor, writeLoop(self, *self->secure), asio::detached);
        }
        while (!item->done) {
            if (!co_await self->sent.wait())
                co_return wsError(NetErrorKind::Cancelled, "send cancelled (still queued)");
        }
        co_return item->error;
    }

    // Drains the outbox in order, one write at a time (Beast allows one), then exits.
    template <class Ws>
    static asio::awaitable<void> writeLoop(std::shared_ptr<Impl> self, Ws& ws) {
        while (!self->outbox.empty()) {
            auto item = self->outbox.front();
            self->outbox.pop_front();
            if (self->state != State::Open) {
                item->error = self->ended.value_or(self->closedError("closed before the message was sent"));
            } else {
                ws.binary(item->binary);
                auto [ec, n] = co_await ws.async_write(asio::buffer(item->data), kUse);
                if (ec) {
                    item->error = self->state == State::Open ? self->readError(ec, ws)
                                                             : self->ended.value_or(self->readError(ec, ws));
                    if (self->state == State::Open) self->end(*item->error);
                }
            }
            item->done = true;
            self->sent.notify();
        }
        self->writerRunning = false;
    }

    // ---- closing -------------------------------------------------------------------------------

    void close() {
        if (closeRequested) return;
        closeRequested = true;
        switch (state) {
            case State::Idle:
                end(closedError("closed before connect()"));
                break;
            case State::Connecting:
                // connect() sees closeRequested when its current step fails or completes.
                connectTimer.cancel();
                withStream([](auto& ws) { beast::get_lowest_layer(ws).close(); });
                break;
            case State::Open: {
                state = State::Closing;
                WsError e = closedError("closed locally");
                e.closeCode = static_cast<std::uint16_t>(websocket::close_code::normal);
                ended = std::move(e);
                inboxChanged.notify();
                sent.notify();
                closeInFlight = true;
                auto self = shared_from_this();
                if (plain) asio::co_spawn(executor, closeHandshake(self, *plain), asio::detached);
                if (secure) asio::co_spawn(executor, closeHandshake(self, *secure), asio::detached);
                asio::co_spawn(executor, watchdog(self), asio::detached);
                break;
            }
            case State::Closing:
            case State::Closed:
                break;
        }
    }

    template <class Ws>
    static asio::awaitable<void> closeHandshake(std::shared_ptr<Impl> self, Ws& ws) {
        // Beast waits for a write in flight, sends the close frame, lets the reader see the
        // answer, then tears the connection down (bounded by the stream's close timeout).
        co_await ws.async_close(websocket::close_code::normal, kUse);
        self->closeInFlight = false;
        self->end(*self->ended);
    }

    // Beast's own close timeout covers the close frame; this also bounds the TCP teardown.
    static asio::awaitable<void> watchdog(std::shared_ptr<Impl> self) {
        self->closeWatchdog.expires_after(self->options.closeTimeout + std::chrono::seconds(1));
        auto [ec] = co_await self->closeWatchdog.async_wait(kUse);
        if (ec) co_return;  // cancelled: the connection ended in time
        self->closeInFlight = false;
        self->end(*self->ended);
    }
};

WebSocket::WebSocket(asio::any_io_executor executor, WebSocketOptions options)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

WebSocket::~WebSocket() {
    m_impl->close();
}

asio::awaitable<std::optional<WsError>> WebSocket::connect(std::string url, Headers headers) {
    return Impl::connect(m_impl, std::move(url), std::move(headers));
}

asio::awaitable<std::variant<WsMessage, WsError>> WebSocket::receive() {
    return Impl::receive(m_impl);
}

asio::awaitable<std::optional<WsError>> WebSocket::send(std::string data, bool binary) {
    return Impl::send(m_impl, std::move(data), binary);
}

void WebSocket::close() {
    m_impl->close();
}

bool WebSocket::isOpen() const {
    return m_impl->state == State::Open;
}

}  // namespace mxrtc::net
