// WebSocket client against real Beast WebSocket servers inside the test (127.0.0.1 and ::1,
// plain and TLS with a self-signed certificate made here), all on one io_context: no sleeps,
// every wait bounded.
#include "mxrtc/net/websocket.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mxrtc::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// ---- a self-signed certificate for localhost / 127.0.0.1, made with OpenSSL 3 ----------------------

struct Pem {
    std::string cert;
    std::string key;
};

std::string bioString(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

const Pem& selfSigned() {
    static const Pem pem = [] {
        std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
        std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
        EXPECT_TRUE(key && x);
        X509_set_version(x.get(), 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
        X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
        X509_set_pubkey(x.get(), key.get());
        X509_NAME* name = X509_get_subject_name(x.get());
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
        X509_set_issuer_name(x.get(), name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
        X509_EXTENSION* san =
            X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        EXPECT_NE(san, nullptr);
        X509_add_ext(x.get(), san, -1);
        X509_EXTENSION_free(san);
        EXPECT_GT(X509_sign(x.get(), key.get(), EVP_sha256()), 0);
        std::unique_ptr<BIO, decltype(&BIO_free)> certBio(BIO_new(BIO_s_mem()), BIO_free);
        std::unique_ptr<BIO, decltype(&BIO_free)> keyBio(BIO_new(BIO_s_mem()), BIO_free);
        PEM_write_bio_X509(certBio.get(), x.get());
        PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
        return Pem{bioString(certBio.get()), bioString(keyBio.get())};
    }();
    return pem;
}

// ---- an in-process Beast WebSocket server ---------------------------------------------------------

enum class Behaviour {
    Echo,            // echoes every message with its binary/text flag
    HelloThenClose,  // sends "hello", then closes with 4001 "test over"
    Refuse401,       // answers the upgrade request with 401 and a body
    SendOversized,   // sends one binary message of `oversize` bytes
    PingFirst,       // pings, then echoes (counting pongs)
    Sink,            // reads and drops every message
};

struct WsServer {
    asio::io_context& io;
    Behaviour behaviour;
    std::optional<ssl::context> tls;
    tcp::acceptor acceptor;
    std::size_t oversize = 0;

    // What the server saw.
    int accepted = 0;
    std::string target;
    std::string host;
    std::string userAgent;
    std::string extraHeader;  // X-Test
    std::string sni;
    std::optional<websocket::close_reason> closeSeen;  // the client's close frame
    bool sessionDone = false;
    int pongs = 0;

    WsServer(asio::io_context& ctx, Behaviour b, bool useTls = false, const char* address = "127.0.0.1")
        : io(ctx), behaviour(b), acceptor(ctx, tcp::endpoint(asio::ip::make_address(address), 0)) {
        if (useTls) {
            tls.emplace(ssl::context::tls_server);
            tls->use_certificate_chain(asio::buffer(selfSigned().cert));
            tls->use_private_key(asio::buffer(selfSigned().key), ssl::context::pem);
        }
        asio::co_spawn(io, accept(), asio::detached);
    }

    std::string url(const std::string& hostPart, const std::string& target = "/rtc") const {
        return std::string(tls ? "wss://" : "ws://") + hostPart + ":" +
               std::to_string(acceptor.local_endpoint().port()) + target;
    }
    std::string url() const { return url("127.0.0.1"); }

    asio::awaitable<void> accept() {
        for (;;) {
            auto [ec, s] = co_await acceptor.async_accept(kUse);
            if (ec) co_return;
            ++accepted;
            asio::co_spawn(io, session(std::move(s)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket s) {
        if (tls) {
            beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(s)), *tls);
            auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUse);
            if (ec) co_return;
            if (const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name))
                sni = name;
            co_await serve(std::move(stream));
        } else {
            co_await serve(beast::tcp_stream(std::move(s)));
        }
        sessionDone = true;
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream stream) {
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        auto [rec, rn] = co_await http::async_read(stream, buffer, req, kUse);
        if (rec) co_return;
        target = std::string(req.target());
        host = std::string(req[http::field::host]);
        userAgent = std::string(req[http::field::user_agent]);
        extraHeader = std::string(req["X-Test"]);
        if (behaviour == Behaviour::Refuse401) {
            http::response<http::string_body> res{http::status::unauthorized, 11};
            res.set(http::field::content_type, "text/plain");
            // LiveKit quotes the token it refused; the client must not hand that on.
            const std::string t(req.target());
            const auto at = t.find("access_token=");
            res.body() = "invalid token: " + (at == std::string::npos ? std::string() : t.substr(at + 13)) +
                         ", error: signature mismatch";
            res.keep_alive(false);
            res.prepare_payload();
            co_await http::async_write(stream, res, kUse);
            co_return;
        }
        websocket::stream<Stream> ws(std::move(stream));
        auto [aec] = co_await ws.async_accept(req, kUse);
        if (aec) co_return;
        switch (behaviour) {
            case Behaviour::HelloThenClose: {
                co_await ws.async_write(asio::buffer(std::string("hello")), kUse);
                co_await ws.async_close(
                    websocket::close_reason(static_cast<websocket::close_code>(4001), "test over"), kUse);
                co_return;
            }
            case Behaviour::SendOversized:
                ws.binary(true);
                co_await ws.async_write(asio::buffer(std::string(oversize, 'x')), kUse);
                break;
            case Behaviour::PingFirst:
                // Beast reports the pong from inside the echo loop's read below.
                ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
                    if (kind == websocket::frame_type::pong) ++pongs;
                });
                co_await ws.async_ping({}, kUse);
                break;
            default:
                break;
        }
        for (;;) {  // echo (or drop) until the client closes
            beast::flat_buffer b;
            auto [ec, n] = co_await ws.async_read(b, kUse);
            if (ec) {
                if (ec == websocket::error::closed) closeSeen = ws.reason();
                co_return;
            }
            if (behaviour == Behaviour::Sink) continue;
            ws.binary(ws.got_binary());
            auto [wec, wn] = co_await ws.async_write(b.data(), kUse);
            if (wec) co_return;
        }
    }
};

// ---- driving the io_context -----------------------------------------------------------------------

// Runs handlers until done() (true) or the limit passed (false).
template <class Pred>
bool runUntil(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        io.restart();
        io.run_one_until(until);
    }
    return true;
}

template <class T>
T await(asio::io_context& io, asio::awaitable<T> op, std::chrono::milliseconds limit = 5s) {
    std::optional<T> result;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { result = co_await std::move(op); },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    EXPECT_TRUE(runUntil(
        io, [&] { return result.has_value(); }, limit))
        << "operation did not complete";
    return std::move(result).value();
}

std::optional<WsError> connect(asio::io_context& io, WebSocket& ws, const std::string& url, Headers h = {}) {
    return await(io, ws.connect(url, std::move(h)));
}

WsMessage expectMessage(const std::variant<WsMessage, WsError>& r) {
    if (const auto* e = std::get_if<WsError>(&r)) {
        ADD_FAILURE() << "expected a message, got " << toString(e->kind) << ": " << e->message;
        return {};
    }
    return std::get<WsMessage>(r);
}

WsError expectError(const std::variant<WsMessage, WsError>& r) {
    if (const auto* e = std::get_if<WsError>(&r)) return *e;
    ADD_FAILURE() << "expected an error, got a message of " << std::get<WsMessage>(r).data.size() << " bytes";
    return {};
}

// ---- tests ----------------------------------------------------------------------------------------

TEST(WebSocket, RoundTripsBinaryAndTextWithHeaders) {
    asio::io_context io;
    WsServer server(io, Behaviour::Echo);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(
        connect(io, ws, server.url("127.0.0.1", "/rtc?access_token=secret&protocol=17"), {{"X-Test", "yes"}}),
        std::nullopt);
    EXPECT_TRUE(ws.isOpen());
    EXPECT_EQ(server.target, "/rtc?access_token=secret&protocol=17");
    EXPECT_EQ(server.host, "127.0.0.1:" + std::to_string(server.acceptor.local_endpoint().port()));
    EXPECT_EQ(server.userAgent, "mxrtc/0.1");
    EXPECT_EQ(server.extraHeader, "yes");

    const std::string binary("\x00\x01\xff\x08", 4);
    EXPECT_EQ(await(io, ws.send(binary, true)), std::nullopt);
    auto m = expectMessage(await(io, ws.receive()));
    EXPECT_TRUE(m.binary);
    EXPECT_EQ(m.data, binary);

    EXPECT_EQ(await(io, ws.send("{\"ping\":1}", false)), std::nullopt);
    m = expectMessage(await(io, ws.receive()));
    EXPECT_FALSE(m.binary);
    EXPECT_EQ(m.data, "{\"ping\":1}");

    ws.close();
    EXPECT_FALSE(ws.isOpen());
    EXPECT_TRUE(runUntil(io, [&] { return server.sessionDone; }));
    ASSERT_TRUE(server.closeSeen);
    EXPECT_EQ(server.closeSeen->code, websocket::close_code::normal);
}

TEST(WebSocket, RoundTripsOverTlsWithSniWhenVerificationIsOff) {
    asio::io_context io;
    WsServer server(io, Behaviour::Echo, /*tls=*/true);
    WebSocketOptions opts;
    opts.verifyTls = false;
    WebSocket ws(io.get_executor(), opts);
    // "localhost" may resolve to ::1 first; the server only listens on 127.0.0.1.
    ASSERT_EQ(connect(io, ws, server.url("localhost")), std::nullopt);
    EXPECT_EQ(server.sni, "localhost");
    EXPECT_EQ(await(io, ws.send("over tls", false)), std::nullopt);
    EXPECT_EQ(expectMessage(await(io, ws.receive())).data, "over tls");
    ws.close();
    EXPECT_TRUE(runUntil(io, [&] { return server.sessionDone; }));
    ASSERT_TRUE(server.closeSeen);
}

TEST(WebSocket, RefusesASelfSignedCertificateWhenVerifying) {
    asio::io_context io;
    WsServer server(io, Behaviour::Echo, /*tls=*/true);
    WebSocket ws(io.get_executor());
    auto err = connect(io, ws, server.url("localhost"));
    ASSERT_TRUE(err);
    EXPECT_EQ(err->kind, NetErrorKind::Tls) << err->message;
    EXPECT_FALSE(ws.isOpen());
}

TEST(WebSocket, ConnectsOverIpv6) {
    asio::io_context io;
    std::optional<WsServer> server;
    try {
        server.emplace(io, Behaviour::Echo, false, "::1");
    } catch (const boost::system::system_error& e) {
        GTEST_SKIP() << "no ::1 on this machine: " << e.what();
    }
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server->url("[::1]")), std::nullopt);
    EXPECT_EQ(server->host, "[::1]:" + std::to_string(server->acceptor.local_endpoint().port()));
    EXPECT_EQ(await(io, ws.send("v6")), std::nullopt);
    EXPECT_EQ(expectMessage(await(io, ws.receive())).data, "v6");
}

TEST(WebSocket, CarriesALargeMessage) {
    asio::io_context io;
    WsServer server(io, Behaviour::Echo);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    std::string big(4 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 131 % 251);
    EXPECT_EQ(await(io, ws.send(big)), std::nullopt);
    auto m = expectMessage(await(io, ws.receive()));
    EXPECT_EQ(m.data.size(), big.size());
    EXPECT_TRUE(m.data == big);
}

TEST(WebSocket, AMessageOverTheLimitFailsTheConnectionCleanly) {
    asio::io_context io;
    WsServer server(io, Behaviour::SendOversized);
    server.oversize = 1001;
    WebSocketOptions opts;
    opts.maxMessageBytes = 1000;
    WebSocket ws(io.get_executor(), opts);
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    auto err = expectError(await(io, ws.receive()));
    EXPECT_EQ(err.kind, NetErrorKind::TooLarge) << err.message;
    EXPECT_FALSE(ws.isOpen());
    EXPECT_EQ(expectError(await(io, ws.receive())).kind, NetErrorKind::TooLarge) << "the end is sticky";
    EXPECT_TRUE(await(io, ws.send("late")).has_value());
    // Beast closes with 1009 (message too big); the server sees it.
    EXPECT_TRUE(runUntil(io, [&] { return server.sessionDone; }));
    ASSERT_TRUE(server.closeSeen);
    EXPECT_EQ(server.closeSeen->code, websocket::close_code::too_big);
}

TEST(WebSocket, ServerCloseDeliversEarlierMessagesThenClosedWithCode) {
    asio::io_context io;
    WsServer server(io, Behaviour::HelloThenClose);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    EXPECT_EQ(expectMessage(await(io, ws.receive())).data, "hello");
    auto err = expectError(await(io, ws.receive()));
    EXPECT_EQ(err.kind, NetErrorKind::Closed) << err.message;
    EXPECT_EQ(err.closeCode, 4001);
    EXPECT_EQ(err.closeReason, "test over");
    EXPECT_FALSE(ws.isOpen());
    auto late = await(io, ws.send("late"));
    ASSERT_TRUE(late);
    EXPECT_EQ(late->kind, NetErrorKind::Closed);
}

TEST(WebSocket, RefusedUpgradeReportsStatusAndBodyWithoutTheQuery) {
    asio::io_context io;
    WsServer server(io, Behaviour::Refuse401);
    WebSocket ws(io.get_executor());
    auto err = connect(io, ws, server.url("127.0.0.1", "/rtc?access_token=secret-jwt.0123456789abcdef"));
    ASSERT_TRUE(err);
    EXPECT_EQ(err->httpStatus, 401);
    EXPECT_EQ(err->httpBody, "invalid token: [redacted], error: signature mismatch")
        << "the token we sent is not echoed";
    EXPECT_EQ(err->kind, NetErrorKind::Protocol);
    EXPECT_EQ(err->message.find("secret-jwt"), std::string::npos) << err->message;
    EXPECT_EQ(server.target, "/rtc?access_token=secret-jwt.0123456789abcdef");
    EXPECT_NE(err->message.find("/rtc"), std::string::npos) << err->message;
    EXPECT_FALSE(ws.isOpen());
}

TEST(WebSocket, ConnectTimesOutOnAListenerThatNeverAnswers) {
    asio::io_context io;
    // The kernel completes the TCP handshake from the backlog; nobody ever accepts.
    tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = std::to_string(silent.local_endpoint().port());
    for (const char* scheme : {"ws", "wss"}) {
        WebSocketOptions opts;
        opts.connectTimeout = 200ms;
        WebSocket ws(io.get_executor(), opts);
        const auto start = std::chrono::steady_clock::now();
        auto err =
            await(io, ws.connect(std::string(scheme) + "://127.0.0.1:" + port + "/rtc?access_token=x"), 3s);
        const auto took = std::chrono::steady_clock::now() - start;
        ASSERT_TRUE(err) << scheme;
        EXPECT_EQ(err->kind, NetErrorKind::Timeout) << scheme << ": " << err->message;
        EXPECT_GE(took, 190ms) << scheme;
        EXPECT_LT(took, 2s) << scheme;
    }
}

TEST(WebSocket, ReportsRefusedConnectionsAndBadUrls) {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }  // closed: nothing listens there now
    WebSocket ws(io.get_executor());
    auto err = connect(io, ws, "ws://127.0.0.1:" + std::to_string(port) + "/rtc");
    ASSERT_TRUE(err);
    EXPECT_EQ(err->kind, NetErrorKind::Connect) << err->message;
    for (const char* bad : {"http://127.0.0.1/", "ws://", "127.0.0.1:80", "ws://user@host/"}) {
        WebSocket other(io.get_executor());
        auto e = connect(io, other, bad);
        ASSERT_TRUE(e) << bad;
        EXPECT_EQ(e->kind, NetErrorKind::InvalidUrl) << bad;
    }
}

TEST(WebSocket, ConcurrentSendsArriveInCallOrder) {
    asio::io_context io;
    WsServer server(io, Behaviour::Echo);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    constexpr int kCount = 50;
    int completed = 0;
    int failed = 0;
    for (int i = 0; i < kCount; ++i) {
        // Sizes vary so that some writes take several socket writes.
        std::string payload =
            std::to_string(i) + ":" + std::string(static_cast<std::size_t>(i % 7) * 40'000, 'p');
        asio::co_spawn(
            io,
            [&ws, &completed, &failed, payload = std::move(payload)]() mutable -> asio::awaitable<void> {
                auto err = co_await ws.send(std::move(payload));
                ++completed;
                if (err) ++failed;
            },
            asio::detached);
    }
    ASSERT_TRUE(runUntil(io, [&] { return completed == kCount; }));
    EXPECT_EQ(failed, 0);
    for (int i = 0; i < kCount; ++i) {
        auto m = expectMessage(await(io, ws.receive()));
        EXPECT_EQ(m.data.substr(0, m.data.find(':')), std::to_string(i));
        EXPECT_EQ(m.data.size(), std::to_string(i).size() + 1 + static_cast<std::size_t>(i % 7) * 40'000);
    }
}

TEST(WebSocket, AnswersPingsWhileNoReceiveIsPending) {
    asio::io_context io;
    WsServer server(io, Behaviour::PingFirst);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    // Nobody calls receive(): the client's own reader answers.
    EXPECT_TRUE(runUntil(io, [&] { return server.pongs == 1; }));
    EXPECT_TRUE(ws.isOpen());
}

TEST(WebSocket, ACancelledReceiveLeavesTheConnectionUsable) {
    using namespace asio::experimental::awaitable_operators;
    asio::io_context io;
    WsServer server(io, Behaviour::Echo);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    // The operator flattens the receive's variant: the timer is the last alternative.
    const bool timerWon = await(io, [&]() -> asio::awaitable<bool> {
        asio::steady_timer t(io, 20ms);
        auto r = co_await (ws.receive() || t.async_wait(asio::use_awaitable));
        co_return std::holds_alternative<std::monostate>(r);
    }());
    EXPECT_TRUE(timerWon) << "nothing was sent, so the receive cannot win";
    EXPECT_TRUE(ws.isOpen());
    EXPECT_EQ(await(io, ws.send("still here")), std::nullopt);
    EXPECT_EQ(expectMessage(await(io, ws.receive())).data, "still here");
}

TEST(WebSocket, CloseWakesAPendingReceive) {
    asio::io_context io;
    WsServer server(io, Behaviour::Echo);
    WebSocket ws(io.get_executor());
    ASSERT_EQ(connect(io, ws, server.url()), std::nullopt);
    std::optional<std::variant<WsMessage, WsError>> got;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { got = co_await ws.receive(); }, asio::detached);
    io.restart();
    io.poll();  // the receive is now waiting
    ASSERT_FALSE(got);
    ws.close();
    ASSERT_TRUE(runUntil(io, [&] { return got.has_value(); }));
    auto err = expectError(*got);
    EXPECT_EQ(err.kind, NetErrorKind::Closed) << err.message;
    EXPECT_EQ(err.closeCode, 1000);
    ws.close();  // idempotent
    EXPECT_TRUE(runUntil(io, [&] { return server.sessionDone; }));
    ASSERT_TRUE(server.closeSeen) << "the close handshake ran";
    EXPECT_EQ(server.closeSeen->code, websocket::close_code::normal);
}

TEST(WebSocket, DestroyingTheClientDuringAPendingReceiveIsSafe) {
    asio::io_context io;
    WsServer server(io, Behaviour::Sink);
    auto ws = std::make_unique<WebSocket>(io.get_executor());
    ASSERT_EQ(connect(io, *ws, server.url()), std::nullopt);
    std::optional<std::variant<WsMessage, WsError>> got;
    std::optional<std::optional<WsError>> sent;
    asio::co_spawn(
        io, [&, op = ws->receive()]() mutable -> asio::awaitable<void> { got = co_await std::move(op); },
        asio::detached);
    asio::co_spawn(
        io,
        [&, op = ws->send(std::string(2 * 1024 * 1024, 's'))]() mutable -> asio::awaitable<void> {
            sent = co_await std::move(op);
        },
        asio::detached);
    io.restart();
    io.poll();
    ASSERT_FALSE(got);
    ws.reset();
    ASSERT_TRUE(runUntil(io, [&] { return got.has_value() && sent.has_value(); }));
    EXPECT_EQ(expectError(*got).kind, NetErrorKind::Closed);
    EXPECT_TRUE(runUntil(io, [&] { return server.sessionDone; }));
    ASSERT_TRUE(server.closeSeen) << "the close handshake ran after destruction";
    // Nothing of the client is left on the io_context (no timer, no socket op).
    server.acceptor.close();
    io.restart();
    const auto start = std::chrono::steady_clock::now();
    io.run_for(3s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "work left behind on the io_context";
}

TEST(WebSocket, DestroyingTheClientDuringAPendingConnectIsSafe) {
    asio::io_context io;
    // Accepts, then never answers the upgrade request.
    tcp::acceptor mute(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket held(io);
    bool accepted = false;
    mute.async_accept(held, [&](boost::system::error_code ec) { accepted = !ec; });
    auto ws = std::make_unique<WebSocket>(io.get_executor());
    std::optional<std::optional<WsError>> result;
    asio::co_spawn(
        io,
        [&, op = ws->connect("ws://127.0.0.1:" + std::to_string(mute.local_endpoint().port()) +
                             "/")]() mutable -> asio::awaitable<void> { result = co_await std::move(op); },
        asio::detached);
    ASSERT_TRUE(runUntil(io, [&] { return accepted; }));  // the client now waits for the upgrade answer
    ASSERT_FALSE(result);
    ws.reset();
    ASSERT_TRUE(runUntil(
        io, [&] { return result.has_value(); }, 2s));
    ASSERT_TRUE(*result);
    EXPECT_EQ((*result)->kind, NetErrorKind::Cancelled) << (*result)->message;
}

}  // namespace
}  // namespace mxrtc::net
