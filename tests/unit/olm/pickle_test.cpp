// Persistence: the machine's state survives a restart through the pickle store, encrypted with
// the user's pickle key; a wrong key or another device's store is refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "olm_peers.hpp"

namespace mxrtc::olm::test {
namespace {

TEST(OlmPickle, ReopenedMachineKeepsIdentitySessionsAndDevices) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Peer bob("@bob:example.org", "BOBDEV");
    learnKeys(bob, alice);
    introduce(alice, bob);
    auto first = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"n", 1}}).value();
    ASSERT_TRUE(bob.machine->decryptToDevice(toDevice(alice, first), kT0).ok());

    const auto aliceKeys = alice.machine->identityKeys();
    const auto bobKeys = bob.machine->identityKeys();
    alice.reopen();
    bob.reopen();
    EXPECT_EQ(alice.machine->identityKeys().curve25519, aliceKeys.curve25519);
    EXPECT_EQ(alice.machine->identityKeys().ed25519, aliceKeys.ed25519);
    EXPECT_EQ(bob.machine->identityKeys().curve25519, bobKeys.curve25519);
    EXPECT_TRUE(alice.machine->hasSession(bob.ref())) << "devices and sessions were restored";
    EXPECT_TRUE(bob.machine->device(alice.ref()).has_value());

    auto second = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"n", 2}});
    ASSERT_TRUE(second.ok());
    auto d = bob.machine->decryptToDevice(toDevice(alice, *second), kT0);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->content["n"], 2);
    EXPECT_TRUE(d->verified());
    auto upload = alice.machine->keysUploadBody();
    ASSERT_TRUE(upload.ok());
    EXPECT_FALSE(upload->has_value() && (*upload)->contains("device_keys")) << "published state was kept";
}

TEST(OlmPickle, UsedOneTimeKeyIsGoneAfterRestart) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Peer bob("@bob:example.org", "BOBDEV");
    learnKeys(bob, alice);
    introduce(alice, bob);
    auto first = alice.machine->encryptToDevice(bob.ref(), "m.test", {{"n", 1}}).value();
    ASSERT_TRUE(bob.machine->decryptToDevice(toDevice(alice, first), kT0).ok());
    bob.reopen();
    // Replaying the pre-key message must not open a second session with the consumed key.
    EXPECT_FALSE(bob.machine->decryptToDevice(toDevice(alice, first), kT0).ok());
    EXPECT_EQ(bob.machine->sessionCount(alice.ref()), 1u);
}

TEST(OlmPickle, WrongPickleKeyIsRefused) {
    Peer alice("@alice:example.org", "ALICEDEV");
    auto wrong =
        OlmMachine::open(alice.user, alice.device, PickleKey("another key"), alice.store, systemRandom());
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().errcode, errcode::kBadPickleKey);
    auto empty = OlmMachine::open(alice.user, alice.device, PickleKey(""), alice.store, systemRandom());
    EXPECT_FALSE(empty.ok());
}

TEST(OlmPickle, PicklesAreEncryptedUnderTheKey) {
    Peer alice("@alice:example.org", "ALICEDEV");
    auto rows = alice.store.load(PickleKind::Account).value();
    ASSERT_EQ(rows.size(), 1u);
    const Json record = Json::parse(rows[0].value);
    const std::string pickle = record["pickle"].get<std::string>();
    // A libolm account pickle is base64(AES-256-CBC ciphertext || truncated HMAC-SHA-256) under
    // keys derived from the pickle key: without the key it does not even reveal the public keys.
    EXPECT_EQ(pickle.find(alice.machine->identityKeys().ed25519.str()), std::string::npos);
    EXPECT_GT(pickle.size(), 100u);
    const auto all = alice.store.load(PickleKind::Account).value();
    for (const auto& row : all)
        EXPECT_EQ(row.value.find(alice.machine->identityKeys().curve25519.str()), std::string::npos);
}

TEST(OlmPickle, StoreOfAnotherDeviceIsRefused) {
    Peer alice("@alice:example.org", "ALICEDEV");
    auto other = OlmMachine::open(alice.user, DeviceId("NEWDEV"), alice.key, alice.store, systemRandom());
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().errcode, mxrtc::errcode::kForbidden);
}

TEST(OlmPickle, SqliteStoreRoundTripsAcrossConnections) {
    const auto path =
        std::filesystem::temp_directory_path() / ("mxrtc-olm-pickle-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path);
    Peer bob("@bob:example.org", "BOBDEV");
    e2ee::Curve25519Key aliceCurve;
    e2ee::Ed25519Key aliceEd;
    Json first;
    {
        auto store = SqlitePickleStore::open(path.string());
        ASSERT_TRUE(store.ok()) << store.error().message;
        auto alice = OlmMachine::open(UserId("@alice:example.org"), DeviceId("ALICEDEV"),
                                      PickleKey("sqlite key"), **store, systemRandom());
        ASSERT_TRUE(alice.ok());
        aliceCurve = (*alice)->identityKeys().curve25519;
        aliceEd = (*alice)->identityKeys().ed25519;
        auto body = (*alice)->keysUploadBody();
        ASSERT_TRUE(body.ok() && body->has_value());
        ASSERT_TRUE((*alice)->onKeysUploaded({{"one_time_key_counts", {{"signed_curve25519", 50}}}}).ok());
        ASSERT_EQ((*alice)->onKeysQuery(queryResponse({&bob})).accepted.size(), 1u);
        ASSERT_EQ((*alice)->onKeysClaim(claimResponse({&bob})).sessionsCreated.size(), 1u);
        Json aliceDevice = {
            {"device_keys", {{"@alice:example.org", {{"ALICEDEV", (**body)["device_keys"]}}}}}};
        ASSERT_EQ(bob.machine->onKeysQuery(aliceDevice).accepted.size(), 1u);
        first = (*alice)->encryptToDevice(bob.ref(), "m.test", {{"n", 1}}).value();
    }
    {
        auto store = SqlitePickleStore::open(path.string());
        ASSERT_TRUE(store.ok());
        auto wrong = OlmMachine::open(UserId("@alice:example.org"), DeviceId("ALICEDEV"), PickleKey("nope"),
                                      **store, systemRandom());
        EXPECT_EQ(wrong.error().errcode, errcode::kBadPickleKey);
        auto alice = OlmMachine::open(UserId("@alice:example.org"), DeviceId("ALICEDEV"),
                                      PickleKey("sqlite key"), **store, systemRandom());
        ASSERT_TRUE(alice.ok()) << alice.error().message;
        EXPECT_EQ((*alice)->identityKeys().curve25519, aliceCurve);
        EXPECT_EQ((*alice)->identityKeys().ed25519, aliceEd);
        EXPECT_TRUE((*alice)->hasSession(bob.ref()));
        auto second = (*alice)->encryptToDevice(bob.ref(), "m.test", {{"n", 2}});
        ASSERT_TRUE(second.ok());
        Json fromAlice = {{"type", "m.room.encrypted"}, {"sender", "@alice:example.org"}};
        fromAlice["content"] = first;
        ASSERT_TRUE(bob.machine->decryptToDevice(fromAlice, kT0).ok());
        fromAlice["content"] = *second;
        auto d = bob.machine->decryptToDevice(fromAlice, kT0);
        ASSERT_TRUE(d.ok()) << d.error().message;
        EXPECT_EQ(d->content["n"], 2);
    }
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + "-wal");
    std::filesystem::remove(path.string() + "-shm");
}

TEST(OlmPickle, SqliteWriteBatchIsAtomicAndDeletes) {
    const auto path =
        std::filesystem::temp_directory_path() / ("mxrtc-olm-batch-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path);
    auto store = SqlitePickleStore::open(path.string());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(
        (*store)->write({{PickleKind::OlmSession, "a", "1"}, {PickleKind::OlmSession, "b", "2"}}).ok());
    ASSERT_TRUE((*store)
                    ->write({{PickleKind::OlmSession, "a", std::nullopt}, {PickleKind::OlmSession, "b", "3"}})
                    .ok());
    auto rows = (*store)->load(PickleKind::OlmSession).value();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, "b");
    EXPECT_EQ(rows[0].value, "3");
    EXPECT_TRUE((*store)->load(PickleKind::Account).value().empty());
    store = Result<std::unique_ptr<SqlitePickleStore>>(makeError("x", "close"));
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + "-wal");
    std::filesystem::remove(path.string() + "-shm");
}

}  // namespace
}  // namespace mxrtc::olm::test
