// Olm end-to-end encryption against a real Synapse (CTest fixture `synapse`): two users' C++
// devices upload device keys and one-time keys, query and claim each other's keys, and exchange an
// Olm-encrypted io.element.call.encryption_keys to-device message through the server. The receiver
// decrypts it, verifies the sending device, and e2ee::parseToDeviceKeyMessage accepts it; a
// plaintext copy of the same message is refused. Pickles live in SQLite and survive a restart.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "mxrtc/e2ee/key_messages.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/client_keys.hpp"
#include "mxrtc/matrix/olm_transport.hpp"
#include "mxrtc/olm/machine.hpp"
#include "support/olm_device.hpp"

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;
using namespace mxrtc;
using namespace std::chrono;
using mxrtc::test::OlmDevice;
using mxrtc::test::take;

class SynapseOlm : public ::testing::Test {
  protected:
    void SetUp() override {
        env = mxrtc::test::readEnvFile(MXRTC_SYNAPSE_ENV_FILE);
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) GTEST_SKIP() << "no Synapse (fixture skipped)";
        static std::atomic<int> counter{0};
        tag = std::to_string(::getpid()) + "x" + std::to_string(++counter);
        dir = std::filesystem::temp_directory_path() / ("mxrtc-olm-" + tag);
        std::filesystem::create_directories(dir);
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    asio::awaitable<void> registerDevice(OlmDevice& d, const std::string& name) {
        d.client = std::make_unique<matrix::Client>(io.get_executor(), env["MXRTC_SYNAPSE_URL"]);
        d.session = take(co_await d.client->registerUser(name + tag, "pw"), "register");
        d.client->setAccessToken(d.session.accessToken);
        d.dbPath = (dir / (name + ".db")).string();
        d.openCrypto();
        take(co_await d.transport->uploadKeys(), "keys/upload");
    }

    template <typename F>
    void run(F body) {
        auto future = asio::co_spawn(io, body(), asio::use_future);
        io.run();
        future.get();  // rethrows
    }

    asio::io_context io;
    std::map<std::string, std::string> env;
    std::string tag;
    std::filesystem::path dir;
};

TEST_F(SynapseOlm, EncryptedCallKeyCrossesTheServerAndOnlyTheEncryptedCopyIsAccepted) {
    run([&]() -> asio::awaitable<void> {
        OlmDevice alice, bob;
        co_await registerDevice(alice, "olmalice");
        co_await registerDevice(bob, "olmbob");

        // The uploads landed: the server lists each device with its signed keys and key counts.
        Json q = olm::OlmMachine::keysQueryBody({alice.session.userId});
        Json listed = take(co_await matrix::keysQuery(*bob.client, bob.session, std::move(q)), "keys/query");
        const Json& aliceKeys =
            listed["device_keys"][alice.session.userId.str()][alice.session.deviceId.str()];
        EXPECT_EQ(aliceKeys["keys"]["ed25519:" + alice.session.deviceId.str()],
                  alice.machine->identityKeys().ed25519.str());
        Json counts =
            take(co_await matrix::keysUpload(*alice.client, alice.session, Json::object()), "count");
        EXPECT_EQ(counts["one_time_key_counts"]["signed_curve25519"], 50);

        Json room = {{"preset", "private_chat"}, {"invite", {bob.session.userId.str()}}};
        const RoomId roomId = take(co_await alice.client->createRoom(room), "createRoom");
        take(co_await bob.client->joinRoom(roomId.str()), "join");
        auto first = take(co_await bob.client->sync("", Duration{0}, ""), "initial sync");
        bob.since = first.value("next_batch", std::string());

        // Alice sends her media key to bob's device, Olm-encrypted; and a plaintext copy.
        const e2ee::MediaKey key{7, Bytes{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
        const std::string memberId = alice.session.userId.str() + ":" + alice.session.deviceId.str();
        const auto sentAt = steady_clock::now();
        e2ee::DistributeKey effect{1, {{bob.session.userId, bob.session.deviceId, "", {}, ""}}, key};
        auto report = take(co_await alice.transport->distributeKey(effect, roomId, memberId, fromUnixMs(0)),
                           "distributeKey");
        EXPECT_EQ(report.sent, std::vector<olm::DeviceRef>{bob.ref()});
        EXPECT_TRUE(report.skipped.empty());
        Json plain = Json::object();
        plain[bob.session.userId.str()][bob.session.deviceId.str()] =
            e2ee::buildToDeviceKeyMessage(key, memberId, alice.session.deviceId, roomId, {}, fromUnixMs(0));
        take(co_await alice.client->sendToDevice(std::string(e2ee::kEncryptionKeysType), plain),
             "plaintext copy");

        auto got = co_await bob.waitFor(std::string(e2ee::kEncryptionKeysType), 2, milliseconds(20'000));
        RecordProperty("olm_to_device_delivery_ms",
                       std::to_string(duration_cast<milliseconds>(steady_clock::now() - sentAt).count()));
        EXPECT_EQ(got.size(), 2u);
        int encrypted = 0, plaintext = 0;
        for (const auto& e : got) {
            auto parsed = e2ee::parseToDeviceKeyMessage(e.content, e.origin, roomId, fromUnixMs(1));
            if (e.origin.encrypted) {
                ++encrypted;
                EXPECT_EQ(e.origin.sender, alice.session.userId);
                EXPECT_EQ(e.origin.senderDevice, alice.session.deviceId) << "Olm-verified sender device";
                EXPECT_TRUE(parsed.ok()) << parsed.error().message;
                if (parsed.ok()) {
                    EXPECT_EQ(parsed->key.key, key.key);
                    EXPECT_EQ(parsed->key.index, 7);
                    EXPECT_EQ(parsed->device, alice.session.deviceId);
                    EXPECT_EQ(parsed->memberId, memberId);
                }
            } else {
                ++plaintext;
                EXPECT_FALSE(parsed.ok()) << "plaintext key message accepted";
                if (!parsed.ok()) {
                    EXPECT_EQ(parsed.error().errcode, errcode::kForbidden);
                }
            }
        }
        EXPECT_EQ(encrypted, 1);
        EXPECT_EQ(plaintext, 1);

        // Bob answers on the same session (a normal Olm message); alice verifies him likewise.
        alice.since =
            take(co_await alice.client->sync("", Duration{0}, ""), "alice sync").value("next_batch", "");
        const e2ee::MediaKey bobKey{0, Bytes(16, 0xB0)};
        e2ee::DistributeKey back{1, {{alice.session.userId, alice.session.deviceId, "", {}, ""}}, bobKey};
        const std::string bobMember = bob.session.userId.str() + ":" + bob.session.deviceId.str();
        take(co_await bob.transport->distributeKey(back, roomId, bobMember, fromUnixMs(0)),
             "bob distributeKey");
        auto atAlice =
            co_await alice.waitFor(std::string(e2ee::kEncryptionKeysType), 1, milliseconds(20'000));
        EXPECT_EQ(atAlice.size(), 1u);
        if (!atAlice.empty()) {
            EXPECT_EQ(atAlice[0].origin.senderDevice, bob.session.deviceId);
            auto parsed =
                e2ee::parseToDeviceKeyMessage(atAlice[0].content, atAlice[0].origin, roomId, fromUnixMs(1));
            EXPECT_TRUE(parsed.ok() && parsed->key.key == bobKey.key);
        }
        EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 1u) << "one session, reused both ways";
        EXPECT_EQ(alice.machine->sessionCount(bob.ref()), 1u);

        // Both restart from their SQLite pickles; the session carries on.
        alice.openCrypto();
        bob.openCrypto();
        const e2ee::MediaKey rotated{8, Bytes(16, 0x77)};
        e2ee::DistributeKey again{2, {{bob.session.userId, bob.session.deviceId, "", {}, ""}}, rotated};
        take(co_await alice.transport->distributeKey(again, roomId, memberId, fromUnixMs(0)),
             "after restart");
        auto afterRestart =
            co_await bob.waitFor(std::string(e2ee::kEncryptionKeysType), 1, milliseconds(20'000));
        CO_ASSERT_TRUE(afterRestart.size() == 1u);
        EXPECT_TRUE(afterRestart[0].origin.encrypted);
        EXPECT_EQ(afterRestart[0].content["keys"]["index"], 8);
        EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 1u);
    });
}

TEST_F(SynapseOlm, ClaimedOneTimeKeysAreConsumedThenTheFallbackKeyServes) {
    run([&]() -> asio::awaitable<void> {
        OlmDevice alice, bob;
        co_await registerDevice(alice, "otkalice");
        co_await registerDevice(bob, "otkbob");
        // Drain bob's 50 one-time keys through claims; every claimed key verifies.
        std::set<std::string> ids;
        for (int i = 0; i < 51; ++i) {
            Json body = olm::OlmMachine::keysClaimBody({bob.ref()});
            Json r = take(co_await matrix::keysClaim(*alice.client, alice.session, std::move(body)), "claim");
            const Json& entry = r["one_time_keys"][bob.session.userId.str()][bob.session.deviceId.str()];
            EXPECT_EQ(entry.size(), 1u);
            const std::string id = entry.begin().key();
            if (i < 50) {
                EXPECT_FALSE(entry.begin().value().value("fallback", false)) << i;
                EXPECT_TRUE(ids.insert(id).second) << "a one-time key is handed out once";
            } else {
                EXPECT_TRUE(entry.begin().value().value("fallback", false)) << "then the fallback key";
            }
        }
        // The fallback key still gives a working session.
        const e2ee::MediaKey key{1, Bytes(16, 1)};
        e2ee::DistributeKey effect{1, {{bob.session.userId, bob.session.deviceId, "", {}, ""}}, key};
        auto report =
            take(co_await alice.transport->distributeKey(effect, RoomId("!r:x"), "m", fromUnixMs(0)),
                 "distribute");
        EXPECT_EQ(report.sent.size(), 1u);
        auto got = co_await bob.waitFor(std::string(e2ee::kEncryptionKeysType), 1, milliseconds(20'000));
        CO_ASSERT_TRUE(got.size() == 1u);
        EXPECT_EQ(got[0].origin.senderDevice, alice.session.deviceId);
        // Bob's next sync tops his one-time keys up again.
        Json counts = take(co_await matrix::keysUpload(*bob.client, bob.session, Json::object()), "count");
        EXPECT_EQ(counts["one_time_key_counts"].value("signed_curve25519", 0), 50);
    });
}

}  // namespace
