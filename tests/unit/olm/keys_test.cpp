// Device identity, signing, /keys/upload bodies, /keys/query verification, /keys/claim.
#include <gtest/gtest.h>

#include "mxrtc/common/canonical_json.hpp"
#include "mxrtc/olm/signing.hpp"
#include "olm_peers.hpp"

namespace mxrtc::olm::test {
namespace {

TEST(OlmKeys, DeviceKeysAreSelfSignedOverTheirCanonicalForm) {
    Peer alice("@alice:example.org", "ALICEDEV");
    const Json d = alice.machine->deviceKeys();
    EXPECT_EQ(d["user_id"], "@alice:example.org");
    EXPECT_EQ(d["device_id"], "ALICEDEV");
    EXPECT_EQ(d["algorithms"], Json::parse(R"(["m.olm.v1.curve25519-aes-sha2","m.megolm.v1.aes-sha2"])"));
    const auto& ids = alice.machine->identityKeys();
    EXPECT_EQ(d["keys"]["curve25519:ALICEDEV"], ids.curve25519.str());
    EXPECT_EQ(d["keys"]["ed25519:ALICEDEV"], ids.ed25519.str());
    EXPECT_EQ(ids.curve25519.str().size(), 43u) << "unpadded base64 of 32 bytes";
    EXPECT_TRUE(verifySignedJson(d, alice.user, alice.device, ids.ed25519).ok());

    // "unsigned" (added by servers) does not break the signature; any signed field does.
    Json withUnsigned = d;
    withUnsigned["unsigned"] = {{"device_display_name", "laptop"}};
    EXPECT_TRUE(verifySignedJson(withUnsigned, alice.user, alice.device, ids.ed25519).ok());
    Json tampered = d;
    tampered["algorithms"].push_back("m.plaintext");
    EXPECT_EQ(verifySignedJson(tampered, alice.user, alice.device, ids.ed25519).error().errcode,
              errcode::kBadSignature);
    Peer bob("@bob:example.org", "BOBDEV");
    EXPECT_FALSE(verifySignedJson(d, alice.user, alice.device, bob.machine->identityKeys().ed25519).ok());
    EXPECT_FALSE(verifySignedJson(d, bob.user, alice.device, ids.ed25519).ok()) << "no signature by bob";
}

TEST(OlmKeys, SignJsonSignsTheCanonicalFormAndKeepsOtherSignatures) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Json obj = Json::parse(R"({"b": "日本", "a": [1, 2], "signatures": {"@x:y": {"ed25519:X": "s"}}})");
    auto signed_ = alice.machine->signJson(obj);
    ASSERT_TRUE(signed_.ok());
    EXPECT_EQ((*signed_)["signatures"]["@x:y"]["ed25519:X"], "s");
    EXPECT_TRUE(
        verifySignedJson(*signed_, alice.user, alice.device, alice.machine->identityKeys().ed25519).ok());
    Json bad = Json::parse(R"({"a": 1.5})");
    EXPECT_FALSE(alice.machine->signJson(bad).ok()) << "no canonical form, no signature";
}

TEST(OlmKeys, FirstUploadCarriesDeviceKeysSignedOneTimeKeysAndAFallbackKey) {
    MemoryPickleStore store;
    auto m = OlmMachine::open(UserId("@a:x"), DeviceId("D"), PickleKey("k"), store, systemRandom());
    ASSERT_TRUE(m.ok());
    auto& machine = *m.value();
    auto body = machine.keysUploadBody();
    ASSERT_TRUE(body.ok() && body->has_value());
    const Json& b = **body;
    EXPECT_EQ(b["device_keys"], machine.deviceKeys());
    ASSERT_EQ(b["one_time_keys"].size(), 50u);
    const auto ed = machine.identityKeys().ed25519;
    for (const auto& [id, key] : b["one_time_keys"].items()) {
        EXPECT_EQ(id.rfind("signed_curve25519:", 0), 0u) << id;
        EXPECT_TRUE(key["key"].is_string());
        EXPECT_TRUE(verifySignedJson(key, UserId("@a:x"), DeviceId("D"), ed).ok()) << id;
    }
    ASSERT_EQ(b["fallback_keys"].size(), 1u);
    const auto& fb = b["fallback_keys"].begin().value();
    EXPECT_EQ(fb["fallback"], true);
    EXPECT_TRUE(verifySignedJson(fb, UserId("@a:x"), DeviceId("D"), ed).ok());

    // Nothing more to upload until the server reports keys were used.
    ASSERT_TRUE(machine.onKeysUploaded({{"one_time_key_counts", {{"signed_curve25519", 50}}}}).ok());
    auto again = machine.keysUploadBody();
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->has_value());
    machine.onOneTimeKeyCounts({{"signed_curve25519", 10}});
    auto topUp = machine.keysUploadBody();
    ASSERT_TRUE(topUp.ok() && topUp->has_value());
    EXPECT_FALSE((*topUp)->contains("device_keys"));
    EXPECT_EQ((**topUp)["one_time_keys"].size(), 40u);
    EXPECT_FALSE((*topUp)->contains("fallback_keys"));
    // The server lost its unused fallback key (it was used and replaced): a new one is uploaded.
    ASSERT_TRUE(machine.onKeysUploaded({{"one_time_key_counts", {{"signed_curve25519", 50}}}}).ok());
    machine.onUnusedFallbackKeyTypes(Json::array());
    auto fresh = machine.keysUploadBody();
    ASSERT_TRUE(fresh.ok() && fresh->has_value());
    EXPECT_EQ((**fresh)["fallback_keys"].size(), 1u);
    EXPECT_NE((**fresh)["fallback_keys"].begin().key(), b["fallback_keys"].begin().key());
}

TEST(OlmKeys, UnacknowledgedUploadIsRetriedWithTheSameKeys) {
    MemoryPickleStore store;
    auto m = OlmMachine::open(UserId("@a:x"), DeviceId("D"), PickleKey("k"), store, systemRandom());
    auto first = (*m)->keysUploadBody();
    auto retry = (*m)->keysUploadBody();  // the request failed: no onKeysUploaded
    ASSERT_TRUE(first.ok() && retry.ok());
    EXPECT_EQ((**first)["one_time_keys"], (**retry)["one_time_keys"]);
}

TEST(OlmKeys, QueryAcceptsOnlyCorrectlySignedDevicesWithMatchingIds) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Peer bob("@bob:example.org", "BOBDEV");
    Peer carol("@carol:example.org", "CAROLDEV");
    Peer bob2("@bob:example.org", "BOBPHONE");

    Json r = queryResponse({&bob, &carol, &bob2});
    // Carol's listing is tampered with (the server swapped in another curve25519 key).
    r["device_keys"]["@carol:example.org"]["CAROLDEV"]["keys"]["curve25519:CAROLDEV"] =
        alice.machine->identityKeys().curve25519.str();
    // Bob's phone is listed under another device id than the one it signed.
    r["device_keys"]["@bob:example.org"]["BOBTABLET"] = r["device_keys"]["@bob:example.org"]["BOBPHONE"];
    r["device_keys"]["@bob:example.org"].erase("BOBPHONE");
    // Our own device is skipped, not an error.
    r["device_keys"]["@alice:example.org"]["ALICEDEV"] = alice.published["device_keys"];

    auto report = alice.machine->onKeysQuery(r);
    ASSERT_EQ(report.accepted.size(), 1u);
    EXPECT_EQ(report.accepted[0].device, DeviceId("BOBDEV"));
    ASSERT_EQ(report.rejected.size(), 2u);
    std::set<std::string> rejected;
    for (const auto& x : report.rejected)
        rejected.insert(x.device.str());
    EXPECT_EQ(rejected, (std::set<std::string>{"BOBTABLET", "CAROLDEV"}));
    EXPECT_TRUE(alice.machine->device(bob.ref()).has_value());
    EXPECT_FALSE(alice.machine->device(carol.ref()).has_value());
    EXPECT_TRUE(alice.machine->devices(alice.user).empty());
}

TEST(OlmKeys, ChangedEd25519KeyIsRejectedAndTheOldKeysKept) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Peer bob("@bob:example.org", "BOBDEV");
    learnKeys(alice, bob);
    Peer impostor("@bob:example.org", "BOBDEV");  // same ids, new keys (a server replaying a device id)
    auto report = alice.machine->onKeysQuery(queryResponse({&impostor}));
    EXPECT_TRUE(report.accepted.empty());
    ASSERT_EQ(report.rejected.size(), 1u);
    EXPECT_NE(report.rejected[0].reason.find("ed25519 key changed"), std::string::npos);
    EXPECT_EQ(alice.machine->device(bob.ref())->ed25519, bob.machine->identityKeys().ed25519);
}

TEST(OlmKeys, DeviceListTrackingMarksUsersOutdatedUntilQueried) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Peer bob("@bob:example.org", "BOBDEV");
    Peer bob2("@bob:example.org", "BOBPHONE");
    alice.machine->trackUsers({bob.user});
    EXPECT_EQ(alice.machine->outdatedUsers(), std::vector<UserId>{bob.user});
    EXPECT_EQ(OlmMachine::keysQueryBody({bob.user}),
              Json::parse(R"({"device_keys": {"@bob:example.org": []}, "timeout": 10000})"));
    alice.machine->onKeysQuery(queryResponse({&bob, &bob2}));
    EXPECT_TRUE(alice.machine->outdatedUsers().empty());
    EXPECT_EQ(alice.machine->devices(bob.user).size(), 2u);

    alice.machine->onDeviceLists({{"changed", {"@bob:example.org", "@untracked:example.org"}}});
    EXPECT_EQ(alice.machine->outdatedUsers(), std::vector<UserId>{bob.user});
    auto report = alice.machine->onKeysQuery(queryResponse({&bob}));  // the phone logged out
    EXPECT_EQ(report.removed, std::vector<UserId>{bob.user});
    EXPECT_EQ(alice.machine->devices(bob.user).size(), 1u);
    alice.machine->onDeviceLists({{"left", {"@bob:example.org"}}});
    alice.machine->onDeviceLists({{"changed", {"@bob:example.org"}}});
    EXPECT_TRUE(alice.machine->outdatedUsers().empty()) << "no longer tracked";
}

TEST(OlmKeys, ClaimVerifiesTheOneTimeKeySignature) {
    Peer alice("@alice:example.org", "ALICEDEV");
    Peer bob("@bob:example.org", "BOBDEV");
    Peer carol("@carol:example.org", "CAROLDEV");
    learnKeys(alice, bob);
    EXPECT_EQ(alice.machine->devicesNeedingSession({bob.ref(), carol.ref(), alice.ref()}),
              std::vector<DeviceRef>{bob.ref()})
        << "unknown devices need a query first; we need no session with ourselves";
    EXPECT_EQ(OlmMachine::keysClaimBody({bob.ref()}),
              Json::parse(R"({"one_time_keys": {"@bob:example.org": {"BOBDEV": "signed_curve25519"}},
                              "timeout": 10000})"));

    Json forged = claimResponse({&bob});
    auto& entry = forged["one_time_keys"]["@bob:example.org"]["BOBDEV"];
    entry.begin().value()["key"] = carol.machine->identityKeys().curve25519.str();  // server swaps the key
    auto report = alice.machine->onKeysClaim(forged);
    EXPECT_TRUE(report.sessionsCreated.empty());
    ASSERT_EQ(report.failed.size(), 1u);
    EXPECT_NE(report.failed[0].reason.find("does not verify"), std::string::npos);
    EXPECT_FALSE(alice.machine->hasSession(bob.ref()));

    auto unknown = alice.machine->onKeysClaim(claimResponse({&carol}));
    ASSERT_EQ(unknown.failed.size(), 1u) << "a key for a device we never verified is not used";

    auto ok = alice.machine->onKeysClaim(claimResponse({&bob}));
    EXPECT_EQ(ok.sessionsCreated, std::vector<DeviceRef>{bob.ref()});
    EXPECT_TRUE(alice.machine->hasSession(bob.ref()));
    EXPECT_TRUE(alice.machine->devicesNeedingSession({bob.ref()}).empty());
}

}  // namespace
}  // namespace mxrtc::olm::test
