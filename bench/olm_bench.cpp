// Cost of Matrix E2EE for media-key transport: one Olm to-device message (encrypt + decrypt,
// pickles written to memory or to SQLite), one Megolm room event, and verifying a device's keys.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "mxrtc/olm/machine.hpp"

namespace {

using namespace mxrtc;
using namespace mxrtc::olm;
using Json = nlohmann::json;

constexpr TimePoint kNow = fromUnixMs(1'760'000'000'000);

struct Device {
    UserId user;
    DeviceId device;
    std::unique_ptr<PickleStore> store;
    std::unique_ptr<OlmMachine> machine;
    Json upload;

    Device(std::string u, std::string d, std::unique_ptr<PickleStore> s)
        : user(std::move(u)), device(std::move(d)), store(std::move(s)) {
        machine = std::move(
            OlmMachine::open(user, device, PickleKey("bench pickle key"), *store, systemRandom()).value());
        upload = **machine->keysUploadBody();
        (void)machine->onKeysUploaded({{"one_time_key_counts", {{"signed_curve25519", 50}}}});
    }
    DeviceRef ref() const { return {user, device}; }
    Json query() const { return {{"device_keys", {{user.str(), {{device.str(), upload["device_keys"]}}}}}}; }
    Json claim(int i) const {
        auto it = upload["one_time_keys"].begin();
        std::advance(it, i);
        Json r;
        r["one_time_keys"][user.str()][device.str()][it.key()] = it.value();
        return r;
    }
};

std::unique_ptr<PickleStore> sqliteStore(const std::string& name) {
    const auto path = std::filesystem::temp_directory_path() / ("mxrtc-olm-bench-" + name + ".db");
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + "-wal");
    return std::move(SqlitePickleStore::open(path.string()).value());
}

// Alice and Bob with an established session in both directions.
void connect(Device& alice, Device& bob) {
    (void)alice.machine->onKeysQuery(bob.query());
    (void)bob.machine->onKeysQuery(alice.query());
    (void)alice.machine->onKeysClaim(bob.claim(0));
    auto first = alice.machine->encryptToDevice(bob.ref(), "m.dummy", Json::object()).value();
    (void)bob.machine->decryptToDevice(
        {{"type", "m.room.encrypted"}, {"sender", alice.user.str()}, {"content", first}}, kNow);
}

const Json kKeyMessage = Json::parse(R"({"keys":{"index":3,"key":"AAECAwQFBgcICQoLDA0ODw=="},
    "member":{"id":"@alice:example.org:ALICEDEV","claimed_device_id":"ALICEDEV"},"room_id":"!room:example.org",
    "session":{"application":"m.call","call_id":"","scope":"m.room"},"sent_ts":1760000000000})");

void olmRoundTrip(benchmark::State& state, bool sqlite) {
    Device alice("@alice:example.org", "ALICEDEV",
                 sqlite ? sqliteStore("alice") : std::make_unique<MemoryPickleStore>());
    Device bob("@bob:example.org", "BOBDEV",
               sqlite ? sqliteStore("bob") : std::make_unique<MemoryPickleStore>());
    connect(alice, bob);
    for (auto _ : state) {
        auto c = alice.machine->encryptToDevice(bob.ref(), "io.element.call.encryption_keys", kKeyMessage);
        auto d = bob.machine->decryptToDevice(
            {{"type", "m.room.encrypted"}, {"sender", alice.user.str()}, {"content", *c}}, kNow);
        if (!d.ok() || !d->verified()) state.SkipWithError("decrypt failed");
        benchmark::DoNotOptimize(d);
    }
}

void BM_OlmToDeviceRoundTripMemoryStore(benchmark::State& state) {
    olmRoundTrip(state, false);
}
BENCHMARK(BM_OlmToDeviceRoundTripMemoryStore)->Unit(benchmark::kMicrosecond);

void BM_OlmToDeviceRoundTripSqliteStore(benchmark::State& state) {
    olmRoundTrip(state, true);
}
BENCHMARK(BM_OlmToDeviceRoundTripSqliteStore)->Unit(benchmark::kMicrosecond);

void BM_MegolmRoomEventRoundTrip(benchmark::State& state) {
    Device alice("@alice:example.org", "ALICEDEV", std::make_unique<MemoryPickleStore>());
    const RoomId room("!room:example.org");
    (void)alice.machine->prepareRoomKey(room, {}, kNow);
    std::int64_t n = 0;
    for (auto _ : state) {
        auto c = alice.machine->encryptRoomEvent(room, "io.element.call.encryption_keys", kKeyMessage);
        auto d = alice.machine->decryptRoomEvent(room, {{"type", "m.room.encrypted"},
                                                        {"sender", alice.user.str()},
                                                        {"event_id", "$" + std::to_string(++n)},
                                                        {"content", *c}});
        if (!d.ok()) state.SkipWithError("decrypt failed");
        if (n % 90 == 0) {  // rotate well before the 100-message limit, as a sender would
            alice.machine->discardOutboundSession(room);
            (void)alice.machine->prepareRoomKey(room, {}, kNow);
        }
        benchmark::DoNotOptimize(d);
    }
}
BENCHMARK(BM_MegolmRoomEventRoundTrip)->Unit(benchmark::kMicrosecond);

void BM_VerifyQueriedDeviceKeys(benchmark::State& state) {
    Device alice("@alice:example.org", "ALICEDEV", std::make_unique<MemoryPickleStore>());
    Device bob("@bob:example.org", "BOBDEV", std::make_unique<MemoryPickleStore>());
    const Json q = bob.query();
    for (auto _ : state) {
        auto r = alice.machine->onKeysQuery(q);
        if (r.accepted.size() != 1) state.SkipWithError("rejected");
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_VerifyQueriedDeviceKeys)->Unit(benchmark::kMicrosecond);

}  // namespace
