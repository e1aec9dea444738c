// The LiveKit harness proves itself (tests/support/livekit_server.hpp): a real livekit-server on
// 127.0.0.1 with the LiveKit Python SDK as reference peers (tests/livekit/lk_peer.py), E2EE the way
// Element Call does it (per-participant HKDF keys), and mxrtc's own WebSocket client against the
// server's signal endpoint. A missing peer fails the test (scripts/setup-peers.sh installs them).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <variant>

#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/net/websocket.hpp"
#include "support/livekit_server.hpp"
#include "support/livekit_token.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using mxrtc::test::LiveKitPeer;
using mxrtc::test::LiveKitPeerKey;
using mxrtc::test::LiveKitPeerOptions;
using mxrtc::test::LiveKitServer;
using mxrtc::test::LiveKitServerOptions;
namespace asio = boost::asio;

std::string randomKeyHex() {
    std::random_device rd;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        const auto b = rd() & 0xff;
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

// A stats line from `peer` about `from`, decoding a tone at `hz` (±5 Hz) and at least `frames`
// video frames of `w`x`h` (frames = 0: video not checked).
bool decodes(const json& e, const std::string& from, double hz, int frames = 0, int w = 0, int h = 0) {
    if (e.value("event", "") != "stats" || e.value("identity", "") != from) return false;
    if (!e["audio_hz"].is_number() || std::abs(e["audio_hz"].get<double>() - hz) > 5.0) return false;
    if (frames == 0) return true;
    return e.value("video_frames", 0) >= frames && e.value("width", 0) == w && e.value("height", 0) == h;
}

bool hearsTone(const json& e, const std::string& from, double hz) {
    return e.value("event", "") == "stats" && e.value("identity", "") == from && e["audio_hz"].is_number() &&
           std::abs(e["audio_hz"].get<double>() - hz) <= 5.0;
}

bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

std::string tail(const std::string& s, std::size_t n = 6000) {
    return s.size() > n ? s.substr(s.size() - n) : s;
}

class LiveKitHarness : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto missing = mxrtc::test::requireLiveKitPeers();
        ASSERT_EQ(missing, "") << missing;
    }
    void TearDown() override {
        if (!HasFailure()) return;
        if (m_server) std::cerr << "---- livekit-server log (tail) ----\n" << tail(m_server->logs()) << "\n";
        for (const auto& [name, p] : m_peers)
            std::cerr << "---- peer " << name << " stdout ----\n"
                      << tail(p->output()) << "\n---- peer " << name << " stderr ----\n"
                      << tail(p->errors(), 3000) << "\n";
    }

    LiveKitServer& startServer(LiveKitServerOptions o = {}) {
        m_server = std::make_unique<LiveKitServer>(std::move(o));
        return *m_server;
    }
    std::string token(const std::string& identity, const std::string& room) const {
        return mxrtc::test::liveKitJoinToken(m_server->key(), m_server->secret(), identity, room);
    }
    LiveKitPeer& startPeer(const std::string& name, LiveKitPeerOptions o) {
        auto& slot = m_peers.emplace_back(name, std::make_unique<LiveKitPeer>(o));
        return *slot.second;
    }

    std::unique_ptr<LiveKitServer> m_server;
    std::vector<std::pair<std::string, std::unique_ptr<LiveKitPeer>>> m_peers;
};

TEST_F(LiveKitHarness, TwoE2eePeersDecodeEachOthersToneAndVideo) {
    auto& lk = startServer();
    ASSERT_TRUE(lk.up()) << lk.error();
    const std::string keyA = randomKeyHex();
    const std::string keyB = randomKeyHex();
    const std::vector<LiveKitPeerKey> keys{{"alice", keyA, 0}, {"bob", keyB, 0}};
    const auto start = std::chrono::steady_clock::now();
    auto& alice = startPeer("alice", {lk.wsUrl(), token("alice", "e2ee-room"), 440.0, std::pair{320, 240},
                                      true, keys, std::nullopt});
    auto& bob = startPeer(
        "bob", {lk.wsUrl(), token("bob", "e2ee-room"), 660.0, std::pair{256, 144}, true, keys, std::nullopt});
    ASSERT_TRUE(alice.waitForEvent("joined", 30s)) << "alice did not join";
    ASSERT_TRUE(bob.waitForEvent("joined", 30s)) << "bob did not join";

    const auto aliceHearsBob =
        alice.waitFor([](const json& e) { return decodes(e, "bob", 660, 15, 256, 144); }, 40s);
    ASSERT_TRUE(aliceHearsBob) << "alice never decoded bob's 660 Hz tone and 256x144 video";
    const auto bobHearsAlice =
        bob.waitFor([](const json& e) { return decodes(e, "alice", 440, 15, 320, 240); }, 20s);
    ASSERT_TRUE(bobHearsAlice) << "bob never decoded alice's 440 Hz tone and 320x240 video";
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::cout << "[ livekit ] two E2EE peers decoding each other " << took.count() << " ms after start ("
              << "alice hears " << (*aliceHearsBob)["audio_hz"] << " Hz, bob hears "
              << (*bobHearsAlice)["audio_hz"] << " Hz)" << std::endl;
    RecordProperty("start_to_both_decoding_ms", std::to_string(took.count()));

    for (auto* p : {&alice, &bob}) {
        const auto subscribed = p->eventsOf("track_subscribed");
        EXPECT_EQ(subscribed.size(), 2u);
        for (const auto& s : subscribed)
            EXPECT_EQ(s.value("encryption", ""), "GCM") << s.dump();
        for (const auto& s : p->eventsOf("e2ee_state"))
            EXPECT_NE(s.value("state", ""), "DECRYPTION_FAILED") << s.dump();
    }
    EXPECT_EQ(alice.leave(), 0);
    EXPECT_EQ(bob.leave(), 0);
}

TEST_F(LiveKitHarness, AWrongKeyGivesDecryptionFailedUntilTheRightKeyArrives) {
    auto& lk = startServer();
    ASSERT_TRUE(lk.up()) << lk.error();
    const std::string keyA = randomKeyHex();
    const std::string keyB = randomKeyHex();
    auto& alice = startPeer("alice", {lk.wsUrl(),
                                      token("alice", "wrong-key-room"),
                                      440.0,
                                      std::pair{320, 240},
                                      true,
                                      {{"alice", keyA, 0}, {"bob", keyB, 0}},
                                      std::nullopt});
    auto& bob = startPeer("bob", {lk.wsUrl(),
                                  token("bob", "wrong-key-room"),
                                  660.0,
                                  std::nullopt,
                                  true,
                                  {{"alice", randomKeyHex(), 0}, {"bob", keyB, 0}},
                                  std::nullopt});

    // Bob cannot decrypt alice; alice (right key for bob) hears bob: the failure is the key's.
    const auto failed = bob.waitFor(
        [](const json& e) {
            return e.value("event", "") == "e2ee_state" && e.value("identity", "") == "alice" &&
                   e.value("state", "") == "DECRYPTION_FAILED";
        },
        40s);
    ASSERT_TRUE(failed) << "bob never reported DECRYPTION_FAILED for alice";
    ASSERT_TRUE(alice.waitFor([](const json& e) { return hearsTone(e, "bob", 660); }, 20s))
        << "alice never decoded bob's tone";
    // Three more seconds of bob's reports: never alice's tone, never a video frame.
    const auto statsBefore = bob.eventsOf("stats", "alice").size();
    ASSERT_TRUE(waitUntil([&] { return bob.eventsOf("stats", "alice").size() >= statsBefore + 3; }, 10s));
    for (const auto& s : bob.eventsOf("stats", "alice")) {
        EXPECT_FALSE(hearsTone(s, "alice", 440)) << "decoded with the wrong key: " << s.dump();
        EXPECT_EQ(s.value("video_frames", -1), 0) << s.dump();
    }

    // The right key over stdin (what a key rotation from Matrix would do): bob decodes.
    const auto statesBefore = bob.eventsOf("e2ee_state", "alice").size();
    ASSERT_TRUE(bob.command("key alice " + keyA + " 0"));
    EXPECT_TRUE(waitUntil(
        [&] {
            const auto states = bob.eventsOf("e2ee_state", "alice");
            for (auto i = statesBefore; i < states.size(); ++i)
                if (states[i].value("state", "") == "OK") return true;
            return false;
        },
        20s))
        << "no e2ee_state OK for alice after the right key";
    EXPECT_TRUE(bob.waitFor([](const json& e) { return decodes(e, "alice", 440, 5, 320, 240); }, 20s))
        << "bob did not decode alice after getting her key";
    EXPECT_EQ(bob.leave(), 0);
    EXPECT_EQ(alice.leave(), 0);
}

TEST_F(LiveKitHarness, OwnKeyRotationToIndexOneKeepsMediaDecodable) {
    auto& lk = startServer();
    ASSERT_TRUE(lk.up()) << lk.error();
    const std::string keyA0 = randomKeyHex();
    const std::string keyA1 = randomKeyHex();
    const std::string keyB = randomKeyHex();
    auto& alice = startPeer("alice", {lk.wsUrl(),
                                      token("alice", "rotation-room"),
                                      440.0,
                                      std::nullopt,
                                      true,
                                      {{"alice", keyA0, 0}, {"bob", keyB, 0}},
                                      std::nullopt});
    auto& bob = startPeer("bob", {lk.wsUrl(),
                                  token("bob", "rotation-room"),
                                  std::nullopt,
                                  std::nullopt,
                                  true,
                                  {{"alice", keyA0, 0}, {"bob", keyB, 0}},
                                  std::nullopt});
    ASSERT_TRUE(bob.waitFor([](const json& e) { return hearsTone(e, "alice", 440); }, 40s));

    // Element Call's order: receivers get the new key first, then the sender switches to it.
    ASSERT_TRUE(bob.command("key alice " + keyA1 + " 1"));
    ASSERT_TRUE(bob.waitFor(
        [](const json& e) { return e.value("event", "") == "key_set" && e.value("index", 0) == 1; }, 5s));
    ASSERT_TRUE(alice.command("key alice " + keyA1 + " 1"));
    ASSERT_TRUE(alice.waitFor(
        [](const json& e) { return e.value("event", "") == "key_set" && e.value("index", 0) == 1; }, 5s));
    // Index 0 now holds garbage at bob's: only frames under index 1 can still be decoded.
    const auto keysBefore = bob.eventsOf("key_set").size();
    ASSERT_TRUE(bob.command("key alice " + randomKeyHex() + " 0"));
    ASSERT_TRUE(waitUntil([&] { return bob.eventsOf("key_set").size() > keysBefore; }, 5s));
    const auto overwritten = bob.eventsOf("key_set").back();
    ASSERT_EQ(overwritten.value("index", -1), 0);
    const auto after = overwritten["t"].get<std::int64_t>() + 1500;  // a whole analysis window later
    EXPECT_TRUE(bob.waitFor(
        [after](const json& e) { return hearsTone(e, "alice", 440) && e["t"].get<std::int64_t>() > after; },
        20s))
        << "bob lost alice after she rotated to index 1";
    EXPECT_EQ(alice.leave(), 0);
    EXPECT_EQ(bob.leave(), 0);
}

TEST_F(LiveKitHarness, PlainPeersSeeMediaMuteAndLeave) {
    auto& lk = startServer();
    ASSERT_TRUE(lk.up()) << lk.error();
    auto& alice = startPeer(
        "alice",
        {lk.wsUrl(), token("alice", "plain-room"), 523.0, std::pair{320, 240}, false, {}, std::nullopt});
    auto& bob = startPeer(
        "bob", {lk.wsUrl(), token("bob", "plain-room"), std::nullopt, std::nullopt, false, {}, std::nullopt});
    ASSERT_TRUE(bob.waitFor([](const json& e) { return decodes(e, "alice", 523, 15, 320, 240); }, 40s))
        << "bob never decoded alice";
    for (const auto& s : bob.eventsOf("track_subscribed", "alice"))
        EXPECT_EQ(s.value("encryption", ""), "NONE") << s.dump();

    auto mutedAudio = [](const std::string& what) {
        return [what](const json& e) {
            return e.value("event", "") == what && e.value("identity", "") == "alice" &&
                   e.value("kind", "") == "audio";
        };
    };
    ASSERT_TRUE(alice.command("mute audio"));
    EXPECT_TRUE(bob.waitFor(mutedAudio("muted"), 10s)) << "bob did not see alice mute";
    ASSERT_TRUE(alice.command("unmute audio"));
    EXPECT_TRUE(bob.waitFor(mutedAudio("unmuted"), 10s)) << "bob did not see alice unmute";

    EXPECT_EQ(alice.leave(), 0);
    EXPECT_TRUE(bob.waitFor(
        [](const json& e) {
            return e.value("event", "") == "participant_disconnected" && e.value("identity", "") == "alice";
        },
        10s));
    EXPECT_EQ(bob.leave(), 0);
}

// ---- mxrtc's WebSocket client on the real signal endpoint -----------------------------------------------

template <class T>
std::optional<T> await(asio::io_context& io, asio::awaitable<T> op, std::chrono::milliseconds limit) {
    std::optional<T> result;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { result = co_await std::move(op); }, asio::detached);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!result && std::chrono::steady_clock::now() < until) {
        io.restart();
        io.run_one_until(until);
    }
    return result;
}

std::string signalUrl(const LiveKitServer& lk, const std::string& jwt) {
    return lk.wsUrl() + "/rtc?access_token=" + jwt +
           "&protocol=17&auto_subscribe=1&sdk=cpp&version=0.1.0&os=linux";
}

TEST_F(LiveKitHarness, WebSocketClientGets401ForABadTokenAndAJoinResponseForAGoodOne) {
    auto& lk = startServer();
    ASSERT_TRUE(lk.up()) << lk.error();
    asio::io_context io;

    const std::string forged = mxrtc::test::liveKitJoinToken(
        lk.key(), "not-the-secret-not-the-secret-not-the-secret", "mallory", "ws-room");
    {
        mxrtc::net::WebSocket ws(io.get_executor());
        auto err = await(io, ws.connect(signalUrl(lk, forged)), 10s);
        ASSERT_TRUE(err && *err) << "the forged token was accepted";
        EXPECT_EQ((*err)->httpStatus, 401) << (*err)->message;
        EXPECT_FALSE((*err)->httpBody.empty());
        EXPECT_EQ((*err)->message.find(forged), std::string::npos) << "the token is in the message";
        std::cout << "[ livekit ] forged token: HTTP " << (*err)->httpStatus << ", body: " << (*err)->httpBody
                  << std::endl;
    }

    mxrtc::net::WebSocket ws(io.get_executor());
    const auto connectStart = std::chrono::steady_clock::now();
    auto err = await(io, ws.connect(signalUrl(lk, token("carol", "ws-room"))), 10s);
    ASSERT_TRUE(err) << "connect did not complete";
    ASSERT_FALSE(*err) << (*err)->message << " " << (*err)->httpBody;
    auto first = await(io, ws.receive(), 10s);
    ASSERT_TRUE(first);
    ASSERT_TRUE(std::holds_alternative<mxrtc::net::WsMessage>(*first))
        << std::get<mxrtc::net::WsError>(*first).message;
    const auto& join = std::get<mxrtc::net::WsMessage>(*first);
    EXPECT_TRUE(join.binary) << "the JoinResponse is protobuf";
    EXPECT_FALSE(join.data.empty());
    std::cout << "[ livekit ] JoinResponse: " << join.data.size() << " bytes, "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                       connectStart)
                     .count()
              << " ms after connect()" << std::endl;

    // Past the server's first WebSocket ping (every 10 s): the socket stays open (pongs answered).
    const auto until = connectStart + 12s;
    int later = 0;
    while (std::chrono::steady_clock::now() < until) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        auto next = await(io, ws.receive(), std::max(left, 1ms));
        if (!next) break;  // nothing more within the window: fine
        ASSERT_TRUE(std::holds_alternative<mxrtc::net::WsMessage>(*next))
            << "closed after " << later << " more messages: " << std::get<mxrtc::net::WsError>(*next).message;
        ++later;
    }
    EXPECT_TRUE(ws.isOpen());
    ws.close();
}

TEST_F(LiveKitHarness, ServerRestartsOnTheSamePortsAfterAKill) {
    auto& lk = startServer();
    ASSERT_TRUE(lk.up()) << lk.error();
    const int port = lk.httpPort();
    const pid_t firstPid = lk.pid();
    asio::io_context io;
    {
        mxrtc::net::WebSocket ws(io.get_executor());
        auto err = await(io, ws.connect(signalUrl(lk, token("dave", "restart-room"))), 10s);
        ASSERT_TRUE(err && !*err);
        ASSERT_TRUE(await(io, ws.receive(), 10s));
        lk.kill();  // a crash: no close frame
        // Messages the server sent before it died come first (the subscriber offer, ...).
        auto ended = await(io, ws.receive(), 5s);
        for (int i = 0; i < 20 && ended && std::holds_alternative<mxrtc::net::WsMessage>(*ended); ++i)
            ended = await(io, ws.receive(), 5s);
        ASSERT_TRUE(ended) << "the client did not notice the server dying";
        ASSERT_TRUE(std::holds_alternative<mxrtc::net::WsError>(*ended));
        EXPECT_EQ(std::get<mxrtc::net::WsError>(*ended).kind, mxrtc::net::NetErrorKind::Closed);
        EXPECT_EQ(std::get<mxrtc::net::WsError>(*ended).closeCode, 1006);
    }
    EXPECT_NE(::kill(firstPid, 0), 0) << "the killed server is still there";

    const auto restartAt = std::chrono::steady_clock::now();
    ASSERT_TRUE(lk.restart()) << lk.error();
    std::cout << "[ livekit ] restart on port " << port << ": "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                       restartAt)
                     .count()
              << " ms" << std::endl;
    EXPECT_EQ(lk.httpPort(), port);
    EXPECT_NE(lk.pid(), firstPid);
    {
        mxrtc::net::WebSocket ws(io.get_executor());
        auto err = await(io, ws.connect(signalUrl(lk, token("dave", "restart-room"))), 10s);
        ASSERT_TRUE(err && !*err) << "no connection after the restart";
        auto join = await(io, ws.receive(), 10s);
        ASSERT_TRUE(join && std::holds_alternative<mxrtc::net::WsMessage>(*join));
        ws.close();
        await(io, ws.receive(), 1s);
    }
    const pid_t secondPid = lk.pid();
    const auto stopAt = std::chrono::steady_clock::now();
    EXPECT_TRUE(lk.stop()) << "livekit-server ignored SIGTERM";
    std::cout << "[ livekit ] SIGTERM -> exit: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                       stopAt)
                     .count()
              << " ms" << std::endl;
    EXPECT_NE(::kill(secondPid, 0), 0);
}

}  // namespace
