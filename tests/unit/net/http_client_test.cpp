// HttpClient against small in-process loopback servers (a real TCP peer on 127.0.0.1).
#include "mxrtc/net/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <functional>

namespace mxrtc::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(Url, ParsesWhatMatrixUses) {
    auto u = Url::parse("https://matrix.example.org/_matrix/client/v3/sync?since=s1&timeout=30000");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "matrix.example.org");
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->target, "/_matrix/client/v3/sync?since=s1&timeout=30000");
    auto v = Url::parse("http://127.0.0.1:8008");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->port, 8008);
    EXPECT_EQ(v->target, "/");
    EXPECT_EQ(v->origin(), "http://127.0.0.1:8008");
    auto w = Url::parse("http://[::1]:9000/x#frag");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->host, "::1");
    EXPECT_EQ(w->target, "/x");
    EXPECT_EQ(w->origin(), "http://[::1]:9000");
    for (const char* bad : {"ftp://x/", "http://", "http://user@host/", "http://host:0/",
                            "http://host:70000/", "http://ho st/", "localhost:8008", "http://[::1/"}) {
        EXPECT_FALSE(Url::parse(bad)) << bad;
    }
}

TEST(Url, EncodesPathSegments) {
    EXPECT_EQ(urlEncode("!room:example.org"), "%21room%3Aexample.org");
    EXPECT_EQ(urlEncode("_@alice:example.org_DEV_m.call"), "_%40alice%3Aexample.org_DEV_m.call");
    EXPECT_EQ(urlEncode("a b/c~"), "a%20b%2Fc~");
}

// A loopback server: each accepted connection is handed to `serve`.
struct TestServer {
    asio::io_context& io;
    tcp::acceptor acceptor;
    int accepted = 0;
    std::function<asio::awaitable<void>(tcp::socket)> serve;

    TestServer(asio::io_context& ctx, std::function<asio::awaitable<void>(tcp::socket)> fn)
        : io(ctx),
          acceptor(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          serve(std::move(fn)) {
        asio::co_spawn(io, accept(), asio::detached);
    }
    std::string url(const std::string& path = "/") const {
        return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + path;
    }
    asio::awaitable<void> accept() {
        for (;;) {
            auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            ++accepted;
            asio::co_spawn(io, serve(std::move(s)), asio::detached);
        }
    }
};

asio::awaitable<std::string> readRequest(tcp::socket& s) {
    std::string buf;
    auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n",
                                                   asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::string();
    co_return buf.substr(0, n);
}

HttpResult run(asio::io_context& io, HttpClient& client, HttpRequest req) {
    std::optional<HttpResult> result;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { result = co_await client.request(std::move(req)); },
        asio::detached);
    io.restart();
    while (!result && io.run_one() > 0) {
    }
    return result.value_or(HttpResult{NetError{NetErrorKind::Protocol, "test: no result"}});
}

TEST(HttpClient, ReusesKeepAliveConnections) {
    asio::io_context io;
    TestServer server(io, [](tcp::socket s) -> asio::awaitable<void> {
        for (;;) {
            std::string req = co_await readRequest(s);
            if (req.empty()) co_return;
            std::string body = req.substr(0, req.find(' '));
            std::string res =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Test: yes\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
            co_await asio::async_write(s, asio::buffer(res), asio::as_tuple(asio::use_awaitable));
        }
    });
    HttpClient client(io.get_executor());
    for (int i = 0; i < 3; ++i) {
        auto r = run(io, client, HttpRequest{"PUT", server.url("/x"), {}, "{}", Duration{2000}, ""});
        ASSERT_TRUE(std::holds_alternative<HttpResponse>(r)) << std::get<NetError>(r).message;
        const auto& res = std::get<HttpResponse>(r);
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(res.body, "PUT");
        EXPECT_EQ(res.header("x-test"), "yes");
    }
    EXPECT_EQ(server.accepted, 1);
}

TEST(HttpClient, RetriesOnceWhenTheServerClosedAnIdleConnection) {
    asio::io_context io;
    TestServer server(io, [](tcp::socket s) -> asio::awaitable<void> {
        std::string req = co_await readRequest(s);
        std::string res = "HTTP/1.1 204 No Content\r\n\r\n";  // keep-alive, then close anyway
        co_await asio::async_write(s, asio::buffer(res), asio::as_tuple(asio::use_awaitable));
        s.close();
    });
    HttpClient client(io.get_executor());
    for (int i = 0; i < 2; ++i) {
        auto r = run(io, client, HttpRequest{"GET", server.url(), {}, "", Duration{2000}, ""});
        ASSERT_TRUE(std::holds_alternative<HttpResponse>(r)) << std::get<NetError>(r).message;
        EXPECT_EQ(std::get<HttpResponse>(r).status, 204);
    }
    EXPECT_EQ(server.accepted, 2);
}

TEST(HttpClient, PinnedAddressIsUsedInsteadOfDns) {
    asio::io_context io;
    std::string seenHost;
    TestServer server(io, [&seenHost](tcp::socket s) -> asio::awaitable<void> {
        std::string req = co_await readRequest(s);
        auto h = req.find("Host: ");
        seenHost = req.substr(h + 6, req.find("\r\n", h) - h - 6);
        std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        co_await asio::async_write(s, asio::buffer(res), asio::as_tuple(asio::use_awaitable));
    });
    HttpClient client(io.get_executor());
    const std::string port = std::to_string(server.acceptor.local_endpoint().port());
    // .invalid never resolves: only the pinned address can reach the server.
    HttpRequest req{"GET", "http://homeserver.invalid:" + port + "/x", {}, "", Duration{2000}, "127.0.0.1"};
    auto r = run(io, client, req);
    ASSERT_TRUE(std::holds_alternative<HttpResponse>(r)) << std::get<NetError>(r).message;
    EXPECT_EQ(std::get<HttpResponse>(r).body, "ok");
    EXPECT_EQ(seenHost, "homeserver.invalid:" + port) << "the Host header keeps the name";
    req.connectAddress = "not-an-ip";
    auto bad = run(io, client, req);
    ASSERT_TRUE(std::holds_alternative<NetError>(bad));
    EXPECT_EQ(std::get<NetError>(bad).kind, NetErrorKind::InvalidUrl);
}

TEST(HttpClient, TimesOutOnASilentServer) {
    asio::io_context io;
    TestServer server(io, [](tcp::socket s) -> asio::awaitable<void> {
        co_await readRequest(s);
        asio::steady_timer t(s.get_executor(), std::chrono::seconds(5));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    });
    HttpClient client(io.get_executor());
    auto r = run(io, client,
                 HttpRequest{"GET", server.url("/slow?access_token=secret"), {}, "", Duration{200}, ""});
    ASSERT_TRUE(std::holds_alternative<NetError>(r));
    EXPECT_EQ(std::get<NetError>(r).kind, NetErrorKind::Timeout);
    EXPECT_EQ(std::get<NetError>(r).message.find("secret"), std::string::npos)
        << "query strings are not logged";
}

TEST(HttpClient, CapsTheResponseBody) {
    asio::io_context io;
    TestServer server(io, [](tcp::socket s) -> asio::awaitable<void> {
        co_await readRequest(s);
        std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x');
        co_await asio::async_write(s, asio::buffer(res), asio::as_tuple(asio::use_awaitable));
    });
    HttpClientOptions opts;
    opts.maxBodyBytes = 1000;
    HttpClient client(io.get_executor(), opts);
    auto r = run(io, client, HttpRequest{"GET", server.url(), {}, "", Duration{2000}, ""});
    ASSERT_TRUE(std::holds_alternative<NetError>(r));
    EXPECT_EQ(std::get<NetError>(r).kind, NetErrorKind::TooLarge);
}

TEST(HttpClient, ReportsRefusedConnectionsAndBadUrls) {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }  // closed: nothing listens there now
    HttpClient client(io.get_executor());
    auto r =
        run(io, client,
            HttpRequest{"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, "", Duration{2000}, ""});
    ASSERT_TRUE(std::holds_alternative<NetError>(r));
    EXPECT_EQ(std::get<NetError>(r).kind, NetErrorKind::Connect);
    auto bad = run(io, client, HttpRequest{"GET", "not a url", {}, "", Duration{2000}, ""});
    ASSERT_TRUE(std::holds_alternative<NetError>(bad));
    EXPECT_EQ(std::get<NetError>(bad).kind, NetErrorKind::InvalidUrl);
}

}  // namespace
}  // namespace mxrtc::net
