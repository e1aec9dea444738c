// Olm interop with the reference implementation, through a real Synapse (CTest fixture `synapse`):
// matrix-js-sdk (pinned in interop/package.json, rust crypto as wasm) runs interop/olm_peer.mjs as
// one device, our OlmMachine + OlmTransport is the other. Media keys (io.element.call.encryption_keys)
// go both ways Olm-encrypted: js-sdk's ToDeviceKeyTransport sends and parses on its side,
// e2ee::parseToDeviceKeyMessage on ours; each side checks the Olm-authenticated sender device.
// Both orders are exercised: js-sdk opening the Olm session (a vodozemac pre-key message that
// libolm decrypts) and us opening it (a libolm pre-key message that vodozemac decrypts).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/e2ee/key_messages.hpp"
#include "support/olm_device.hpp"
#include "support/process.hpp"
#include "support/subprocess.hpp"

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;
using namespace mxrtc;
using namespace std::chrono;
using mxrtc::test::BackgroundProcess;
using mxrtc::test::OlmDevice;
using mxrtc::test::take;

using mxrtc::test::shellQuote;

// The JSON lines the node peer printed so far.
std::vector<Json> lines(const BackgroundProcess& p) {
    std::vector<Json> out;
    std::istringstream in(p.out());
    std::string line;
    while (std::getline(in, line)) {
        auto j = Json::parse(line, nullptr, false);
        if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
}

std::optional<Json> findLine(const BackgroundProcess& p, const std::function<bool(const Json&)>& pred) {
    for (auto& j : lines(p)) {
        if (pred(j)) return j;
    }
    return std::nullopt;
}

class OlmInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        env = mxrtc::test::readEnvFile(MXRTC_SYNAPSE_ENV_FILE);
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) GTEST_SKIP() << "no Synapse (fixture skipped)";
        if (!std::filesystem::exists(std::string(MXRTC_INTEROP_DIR) + "/node_modules/matrix-js-sdk"))
            GTEST_SKIP() << "matrix-js-sdk not installed (scripts/setup-peers.sh)";
        static std::atomic<int> counter{0};
        tag = std::to_string(::getpid()) + "x" + std::to_string(++counter);
        dir = std::filesystem::temp_directory_path() / ("mxrtc-olm-interop-" + tag);
        std::filesystem::create_directories(dir);
    }
    void TearDown() override {
        if (node && HasFailure()) {
            std::cerr << "--- olm_peer.mjs stdout ---\n" << node->out() << "--- stderr (tail) ---\n";
            const std::string err = node->err();
            std::cerr << (err.size() > 6000 ? err.substr(err.size() - 6000) : err) << "\n";
        }
        node.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    asio::awaitable<matrix::LoginSession> registerUser(matrix::Client& c, const std::string& name) {
        auto s = take(co_await c.registerUser(name + tag, "pw"), "register");
        c.setAccessToken(s.accessToken);
        co_return s;
    }

    // Registers our device and the js-sdk device's account, and a room for the call.
    asio::awaitable<void> setUp(OlmDevice& us, matrix::Client& jsClient, matrix::LoginSession& js,
                                RoomId& room) {
        us.client = std::make_unique<matrix::Client>(io.get_executor(), env["MXRTC_SYNAPSE_URL"]);
        us.session = co_await registerUser(*us.client, "cpp");
        us.dbPath = (dir / "cpp.db").string();
        us.openCrypto();
        take(co_await us.transport->uploadKeys(), "keys/upload");
        js = co_await registerUser(jsClient, "js");
        // An encrypted room, as Element Call rooms are: js-sdk then tracks our device list.
        Json create = {{"preset", "private_chat"}, {"invite", {js.userId.str()}}};
        create["initial_state"] = Json::array({{{"type", "m.room.encryption"},
                                                {"state_key", ""},
                                                {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}}});
        room = take(co_await us.client->createRoom(create), "createRoom");
        take(co_await jsClient.joinRoom(room.str()), "js join");
        us.since =
            take(co_await us.client->sync("", Duration{0}, ""), "initial sync").value("next_batch", "");
    }

    void startNode(const matrix::LoginSession& js, const OlmDevice& us, const RoomId& room, const Bytes& key,
                   int index, bool sendFirst) {
        Json cfg = {{"baseUrl", env["MXRTC_SYNAPSE_URL"]},
                    {"userId", js.userId.str()},
                    {"deviceId", js.deviceId.str()},
                    {"accessToken", js.accessToken},
                    {"peer", {{"userId", us.session.userId.str()}, {"deviceId", us.session.deviceId.str()}}},
                    {"roomId", room.str()},
                    {"key", {{"index", index}, {"keyBase64", base64Encode(key)}}},
                    {"sendFirst", sendFirst},
                    {"timeoutMs", 60'000}};
        node = std::make_unique<BackgroundProcess>(
            std::string(MXRTC_NODE) + " " + MXRTC_INTEROP_DIR + "/olm_peer.mjs " + shellQuote(cfg.dump()),
            dir / "node");
    }

    // Keeps our sync loop going (js-sdk may need our keys, and we need its messages) until `pred`
    // holds for a node line, the node process ends, or the deadline passes.
    // Key messages our side received meanwhile are collected in `received`.
    asio::awaitable<std::optional<Json>> pumpUntil(OlmDevice& us, std::function<bool(const Json&)> pred,
                                                   milliseconds deadline) {
        const auto end = steady_clock::now() + deadline;
        while (steady_clock::now() < end) {
            if (auto l = findLine(*node, pred)) co_return l;
            if (findLine(*node, [](const Json& j) { return j.value("event", "") == "error"; }))
                co_return std::nullopt;
            co_await syncInto(us, Duration{300});
        }
        co_return findLine(*node, pred);
    }
    asio::awaitable<void> syncInto(OlmDevice& us, Duration timeout) {
        auto got = co_await us.syncOnce(std::string(e2ee::kEncryptionKeysType), timeout);
        for (auto& g : got)
            received.push_back(std::move(g));
    }
    // Syncs until our side has `count` key messages (or the deadline passes).
    asio::awaitable<void> receive(OlmDevice& us, std::size_t count, milliseconds deadline) {
        const auto end = steady_clock::now() + deadline;
        while (received.size() < count && steady_clock::now() < end)
            co_await syncInto(us, Duration{500});
    }

    template <typename F>
    void run(F body) {
        auto future = asio::co_spawn(io, body(), asio::use_future);
        io.run();
        future.get();
    }

    // Our key as js-sdk's ToDeviceKeyTransport reported it.
    static std::function<bool(const Json&)> jsGotKeyFrom(const OlmDevice& us) {
        return [&us](const Json& j) {
            return j.value("event", "") == "key" && j.value("userId", "") == us.session.userId.str() &&
                   j.value("deviceId", "") == us.session.deviceId.str();
        };
    }

    // js-sdk's view of how the key message arrived: Olm-encrypted, from our device.
    void expectJsSawEncryptedFromUs(const OlmDevice& us) {
        auto received = findLine(*node, [&](const Json& j) {
            return j.value("event", "") == "received" && j.value("type", "") == e2ee::kEncryptionKeysType;
        });
        ASSERT_TRUE(received.has_value());
        const Json& info = (*received)["encryptionInfo"];
        ASSERT_TRUE(info.is_object()) << "js-sdk got our key message in clear: " << received->dump();
        EXPECT_EQ(info.value("sender", ""), us.session.userId.str());
        EXPECT_EQ(info.value("senderDevice", ""), us.session.deviceId.str()) << received->dump();
        EXPECT_EQ(info.value("senderCurve25519KeyBase64", ""), us.machine->identityKeys().curve25519.str());
    }

    asio::io_context io;
    std::map<std::string, std::string> env;
    std::string tag;
    std::filesystem::path dir;
    std::unique_ptr<BackgroundProcess> node;
    std::vector<matrix::ReceivedToDevice> received;
};

TEST_F(OlmInterop, JsSdkOpensTheSessionAndKeysFlowBothWays) {
    run([&]() -> asio::awaitable<void> {
        OlmDevice us;
        matrix::Client jsClient(io.get_executor(), env["MXRTC_SYNAPSE_URL"]);
        matrix::LoginSession js;
        RoomId room;
        co_await setUp(us, jsClient, js, room);
        const Bytes jsKey{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
        startNode(js, us, room, jsKey, 3, /*sendFirst=*/true);

        // js-sdk claims one of our one-time keys and sends its key first: a vodozemac pre-key message.
        const auto started = steady_clock::now();
        co_await pumpUntil(
            us, [](const Json& j) { return j.value("event", "") == "sent"; }, seconds(45));
        co_await receive(us, 1, seconds(20));
        const auto& got = received;
        RecordProperty("js_to_cpp_key_ms",
                       std::to_string(duration_cast<milliseconds>(steady_clock::now() - started).count()));
        CO_ASSERT_TRUE(got.size() == 1u);
        EXPECT_TRUE(got[0].origin.encrypted);
        EXPECT_EQ(got[0].origin.sender, js.userId);
        EXPECT_EQ(got[0].origin.senderDevice, js.deviceId) << "Olm-verified js-sdk device";
        auto parsed =
            e2ee::parseToDeviceKeyMessage(got[0].content, got[0].origin, room, mxrtc::test::systemNow());
        CO_ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(parsed->key.key, jsKey);
        EXPECT_EQ(parsed->key.index, 3);
        EXPECT_EQ(parsed->device, js.deviceId);
        EXPECT_EQ(parsed->memberId, js.userId.str() + ":" + js.deviceId.str());

        // Our key back, on the session js-sdk opened (a normal Olm message).
        const e2ee::MediaKey ourKey{5, Bytes(16, 0xC5)};
        e2ee::DistributeKey effect{1, {{js.userId, js.deviceId, "", {}, ""}}, ourKey};
        const std::string ourMember = us.session.userId.str() + ":" + us.session.deviceId.str();
        auto sent =
            take(co_await us.transport->distributeKey(effect, room, ourMember, mxrtc::test::systemNow()),
                 "distributeKey");
        EXPECT_EQ(sent.sent.size(), 1u);
        EXPECT_EQ(us.machine->sessionCount({js.userId, js.deviceId}), 1u) << "no second session was needed";
        auto line = co_await pumpUntil(us, jsGotKeyFrom(us), seconds(30));
        CO_ASSERT_TRUE(line.has_value());
        EXPECT_EQ((*line)["keyBase64"], base64Encode(ourKey.key));
        EXPECT_EQ((*line)["index"], 5);
        EXPECT_EQ((*line)["memberId"], ourMember);
        expectJsSawEncryptedFromUs(us);
        EXPECT_EQ(node->wait(seconds(15)), 0) << node->out();
    });
}

TEST_F(OlmInterop, WeOpenTheSessionAndJsSdkDecryptsOurPreKeyMessage) {
    run([&]() -> asio::awaitable<void> {
        OlmDevice us;
        matrix::Client jsClient(io.get_executor(), env["MXRTC_SYNAPSE_URL"]);
        matrix::LoginSession js;
        RoomId room;
        co_await setUp(us, jsClient, js, room);
        const Bytes jsKey(16, 0x3A);
        startNode(js, us, room, jsKey, 0, /*sendFirst=*/false);
        auto ready = co_await pumpUntil(
            us, [](const Json& j) { return j.value("event", "") == "ready"; }, seconds(45));
        CO_ASSERT_TRUE(ready.has_value());

        // We query js-sdk's device, verify its self-signature, claim its one-time key, send.
        const e2ee::MediaKey ourKey{0, Bytes{1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 121, 98, 219}};
        e2ee::DistributeKey effect{1, {{js.userId, js.deviceId, "", {}, ""}}, ourKey};
        const std::string ourMember = us.session.userId.str() + ":" + us.session.deviceId.str();
        const auto started = steady_clock::now();
        auto sent =
            take(co_await us.transport->distributeKey(effect, room, ourMember, mxrtc::test::systemNow()),
                 "distributeKey");
        CO_ASSERT_TRUE(sent.sent.size() == 1u);
        const auto jsDevice = us.machine->device({js.userId, js.deviceId});
        CO_ASSERT_TRUE(jsDevice.has_value());
        EXPECT_EQ(jsDevice->curve25519.str(), (*ready)["curve25519"].get<std::string>());
        EXPECT_EQ(jsDevice->ed25519.str(), (*ready)["ed25519"].get<std::string>());

        auto line = co_await pumpUntil(us, jsGotKeyFrom(us), seconds(30));
        RecordProperty("cpp_to_js_key_ms",
                       std::to_string(duration_cast<milliseconds>(steady_clock::now() - started).count()));
        CO_ASSERT_TRUE(line.has_value());
        EXPECT_EQ((*line)["keyBase64"], base64Encode(ourKey.key));
        expectJsSawEncryptedFromUs(us);

        // js-sdk answers on our session.
        co_await pumpUntil(
            us, [](const Json& j) { return j.value("event", "") == "done"; }, seconds(30));
        co_await receive(us, 1, seconds(20));
        const auto& got = received;
        CO_ASSERT_TRUE(got.size() == 1u);
        EXPECT_EQ(got[0].origin.senderDevice, js.deviceId);
        auto parsed =
            e2ee::parseToDeviceKeyMessage(got[0].content, got[0].origin, room, mxrtc::test::systemNow());
        CO_ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(parsed->key.key, jsKey);
        EXPECT_EQ(us.machine->sessionCount({js.userId, js.deviceId}), 1u);
        EXPECT_EQ(node->wait(seconds(15)), 0) << node->out();
    });
}

}  // namespace
