// Test support: in-process devices (OlmMachine + in-memory store) and the /keys/query and
// /keys/claim responses a homeserver would give for them, built from their real uploads.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mxrtc/olm/machine.hpp"

namespace mxrtc::olm::test {

using Json = nlohmann::json;

inline const TimePoint kT0 = fromUnixMs(1'760'000'000'000);

struct Peer {
    UserId user;
    DeviceId device;
    PickleKey key;
    MemoryPickleStore store;
    std::unique_ptr<OlmMachine> machine;
    Json published = Json::object();  // what the "server" holds: device_keys + one_time_keys

    Peer(std::string u, std::string d, std::string pickleKey = "0123456789abcdef0123456789abcdef")
        : user(std::move(u)), device(std::move(d)), key(std::move(pickleKey)) {
        reopen();
        upload();
    }
    void reopen() {
        machine.reset();
        auto m = OlmMachine::open(user, device, key, store, systemRandom());
        MXRTC_ASSERT(m.ok(), "open");
        machine = std::move(m.value());
    }
    // Uploads whatever the machine wants to upload; the server keeps the keys.
    void upload() {
        auto body = machine->keysUploadBody();
        MXRTC_ASSERT(body.ok(), "keysUploadBody");
        if (!body->has_value()) return;
        const Json& b = **body;
        if (b.contains("device_keys")) published["device_keys"] = b["device_keys"];
        const Json otks =
            b.value("one_time_keys", Json::object());  // (a local: items() does not extend lifetimes)
        for (const auto& [id, k] : otks.items())
            published["one_time_keys"][id] = k;
        const Json fallback = b.value("fallback_keys", Json::object());
        for (const auto& [id, k] : fallback.items())
            published["fallback_keys"][id] = k;
        const auto count = published.value("one_time_keys", Json::object()).size();
        MXRTC_ASSERT(machine->onKeysUploaded({{"one_time_key_counts", {{"signed_curve25519", count}}}}).ok(),
                     "onKeysUploaded");
    }
    DeviceRef ref() const { return {user, device}; }
    // /keys/claim: hands out (and deletes) one one-time key, or the fallback key once they are gone.
    Json claimEntry() {
        auto& otks = published["one_time_keys"];
        if (otks.is_object() && !otks.empty()) {
            auto it = otks.begin();
            Json entry = {{it.key(), it.value()}};
            otks.erase(it);
            return entry;
        }
        auto& fb = published["fallback_keys"];
        auto it = fb.begin();
        return Json{{it.key(), it.value()}};
    }
};

inline Json queryResponse(const std::vector<Peer*>& peers) {
    Json r = {{"device_keys", Json::object()}, {"failures", Json::object()}};
    for (auto* p : peers)
        r["device_keys"][p->user.str()][p->device.str()] = p->published["device_keys"];
    return r;
}

inline Json claimResponse(const std::vector<Peer*>& peers) {
    Json r = {{"one_time_keys", Json::object()}, {"failures", Json::object()}};
    for (auto* p : peers)
        r["one_time_keys"][p->user.str()][p->device.str()] = p->claimEntry();
    return r;
}

// `from` learns `to`'s device keys and opens an Olm session with one of its one-time keys.
inline void introduce(Peer& from, Peer& to) {
    auto q = from.machine->onKeysQuery(queryResponse({&to}));
    ASSERT_EQ(q.accepted.size(), 1u);
    auto c = from.machine->onKeysClaim(claimResponse({&to}));
    ASSERT_EQ(c.sessionsCreated.size(), 1u) << (c.failed.empty() ? "" : c.failed[0].reason);
}

inline void learnKeys(Peer& from, Peer& to) {
    auto q = from.machine->onKeysQuery(queryResponse({&to}));
    ASSERT_EQ(q.accepted.size(), 1u);
}

// A to-device event as /sync delivers it.
inline Json toDevice(const Peer& from, const Json& content) {
    return {{"type", "m.room.encrypted"}, {"sender", from.user.str()}, {"content", content}};
}

inline int messageType(const Json& content, const Peer& to) {
    return content["ciphertext"][to.machine->identityKeys().curve25519.str()]["type"].get<int>();
}

}  // namespace mxrtc::olm::test
