// matrix::SyncLoop against a real Synapse (CTest fixture `synapse`): what a client of the library
// notices about its one /sync loop — it delivers the room's events in order, persists the token only
// once a batch was handled (a restart resumes without losing or repeating events), stops at once on
// a dead access token, and backs off (1 s, 2 s, ...) while the homeserver cannot be reached.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>
#include <vector>

#include "mxrtc/matrix/sync_loop.hpp"
#include "support/olm_device.hpp"

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;
using namespace mxrtc;
using mxrtc::test::take;

class SynapseSyncLoop : public ::testing::Test {
  protected:
    void SetUp() override {
        env = mxrtc::test::synapseEnv();
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) GTEST_SKIP() << "no Synapse (fixture skipped)";
        static std::atomic<int> counter{0};
        tag = std::to_string(::getpid()) + "s" + std::to_string(++counter);
    }

    template <typename F>
    void run(F body) {
        auto future = asio::co_spawn(io, body(), asio::use_future);
        io.run();
        future.get();  // rethrows
    }

    // The texts of the room's m.room.message events in one sync body.
    static std::vector<std::string> messages(const Json& body, const RoomId& room) {
        std::vector<std::string> out;
        if (const Json* tl = matrix::roomEventsOf(body, room, "timeline"))
            for (const auto& ev : *tl)
                if (ev.value("type", "") == "m.room.message") out.push_back(ev["content"].value("body", ""));
        return out;
    }

    // (GCC 12 cannot build a std::vector from a braced string literal inside a coroutine.)
    static Json text(const std::string& body) { return Json{{"msgtype", "m.text"}, {"body", body}}; }
    static std::vector<std::string> one(std::string s) { return std::vector<std::string>(1, std::move(s)); }

    asio::io_context io;
    std::map<std::string, std::string> env;
    std::string tag;
};

TEST_F(SynapseSyncLoop, TokenIsPersistedOnlyAfterTheBatchWasHandledSoARestartLosesNothing) {
    run([&]() -> asio::awaitable<void> {
        matrix::Client client(io.get_executor(), env["MXRTC_SYNAPSE_URL"]);
        auto session = take(co_await client.registerUser("sync" + tag, "pw"), "register");
        client.setAccessToken(session.accessToken);
        const Json createBody = Json::parse(R"({"preset":"private_chat"})");
        const RoomId room = take(co_await client.createRoom(createBody), "createRoom");
        matrix::SyncLoop::Options o;
        o.filter = matrix::SyncFilter::forRoom(room, 50).dump();
        o.timeout = Duration{5000};
        std::vector<std::string> saved;
        o.onToken = [&](const std::string& t) { saved.push_back(t); };
        matrix::SyncLoop sync(client, o);
        take(co_await sync.poll(), "initial sync");
        EXPECT_TRUE(saved.empty()) << "persisted before the first batch was handled";
        sync.commit();
        CO_ASSERT_TRUE(saved.size() == 1u);
        const std::string afterInitial = saved.back();

        const Json oneMsg = text("one");
        take(co_await client.sendEvent(room, "m.room.message", oneMsg), "send one");
        Json body = take(co_await sync.poll(), "sync one");
        EXPECT_EQ(messages(body, room), one("one"));
        EXPECT_EQ(saved.size(), 1u) << "the batch holding 'one' was not handled yet";

        // The process "crashes" here: a new loop resumes from the persisted token and gets "one"
        // again (not lost), then "two" once (not repeated).
        o.since = saved.back();
        o.onToken = nullptr;
        matrix::SyncLoop resumed(client, o);
        body = take(co_await resumed.poll(), "resumed sync");
        EXPECT_EQ(messages(body, room), one("one"));
        const Json twoMsg = text("two");
        take(co_await client.sendEvent(room, "m.room.message", twoMsg), "send two");
        body = take(co_await resumed.poll(), "resumed sync two");
        EXPECT_EQ(messages(body, room), one("two"));
        EXPECT_NE(afterInitial, resumed.since());
    });
}

TEST_F(SynapseSyncLoop, ADeadAccessTokenStopsTheLoopWithoutRetrying) {
    run([&]() -> asio::awaitable<void> {
        matrix::Client client(io.get_executor(), env["MXRTC_SYNAPSE_URL"]);
        client.setAccessToken("syt_not_a_token_" + tag);
        int retries = 0;
        matrix::SyncLoop::Options o;
        o.filter = "{}";
        o.onRetry = [&](const matrix::MatrixError&, Duration, int) { ++retries; };
        matrix::SyncLoop sync(client, o);
        const auto start = std::chrono::steady_clock::now();
        auto r = co_await sync.poll();
        auto* e = std::get_if<matrix::MatrixError>(&r);
        CO_ASSERT_TRUE(e != nullptr);
        EXPECT_TRUE(e->unknownToken) << e->message;
        EXPECT_EQ(retries, 0);
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    });
}

TEST_F(SynapseSyncLoop, AnUnreachableHomeserverIsRetriedWithGrowingWaitsThatAreReported) {
    // A port with nobody listening on it: bind, read the port, close.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    run([&]() -> asio::awaitable<void> {
        matrix::Client client(io.get_executor(), url);
        client.setAccessToken("token");
        std::vector<std::pair<std::int64_t, int>> reported;
        matrix::SyncLoop::Options o;
        o.filter = "{}";
        o.retry = matrix::SyncRetryPolicy{Duration{200}, Duration{500}};
        o.onRetry = [&](const matrix::MatrixError&, Duration wait, int failures) {
            reported.emplace_back(wait.count(), failures);
        };
        matrix::SyncLoop sync(client, o);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 4; ++i) {
            auto r = co_await sync.poll();
            EXPECT_TRUE(std::holds_alternative<matrix::MatrixError>(r));
        }
        const auto took = std::chrono::steady_clock::now() - start;
        EXPECT_EQ(reported,
                  (std::vector<std::pair<std::int64_t, int>>{{200, 1}, {400, 2}, {500, 3}, {500, 4}}));
        EXPECT_GE(took, std::chrono::milliseconds(1600));  // it did wait: nothing hammers the server
        EXPECT_EQ(sync.consecutiveFailures(), 4);
    });
}

}  // namespace
