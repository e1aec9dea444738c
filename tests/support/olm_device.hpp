// Test helper for tests that drive real homeservers in-process: one logged-in Matrix device with
// its own SQLite crypto store, OlmMachine and OlmTransport, plus the Synapse fixture's env file.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/olm_transport.hpp"
#include "mxrtc/olm/machine.hpp"
#include "support/synapse_env.hpp"

// ASSERT_* returns from the function; in a coroutine that must be co_return.
#define CO_ASSERT_TRUE(cond)                            \
    if (!(cond)) {                                      \
        ADD_FAILURE() << "assertion failed: " << #cond; \
        co_return;                                      \
    }

namespace mxrtc::test {

template <typename T>
T take(matrix::MxResult<T>&& r, const char* what) {
    if (auto* e = std::get_if<matrix::MatrixError>(&r))
        throw std::runtime_error(std::string(what) + ": " + e->message);
    return std::get<T>(std::move(r));
}

inline TimePoint systemNow() {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

struct OlmDevice {
    std::unique_ptr<matrix::Client> client;
    matrix::LoginSession session;
    std::unique_ptr<olm::SqlitePickleStore> store;
    std::unique_ptr<olm::OlmMachine> machine;
    std::unique_ptr<matrix::OlmTransport> transport;
    std::string since;
    std::string dbPath;

    olm::DeviceRef ref() const { return {session.userId, session.deviceId}; }

    // (Re)opens the crypto store and machine, as a restarted client would.
    void openCrypto() {
        transport.reset();
        machine.reset();
        store.reset();
        auto s = olm::SqlitePickleStore::open(dbPath);
        if (!s) throw std::runtime_error(s.error().message);
        store = std::move(s.value());
        auto m = olm::OlmMachine::open(session.userId, session.deviceId, olm::PickleKey("test pickle key"),
                                       *store, olm::systemRandom());
        if (!m) throw std::runtime_error(m.error().message);
        machine = std::move(m.value());
        transport = std::make_unique<matrix::OlmTransport>(*client, session, *machine);
    }

    // One /sync round through the crypto layer: to-device events of `type`, failures reported.
    boost::asio::awaitable<std::vector<matrix::ReceivedToDevice>> syncOnce(std::string type,
                                                                           Duration timeout) {
        std::vector<matrix::ReceivedToDevice> got;
        auto r = co_await client->sync(since, timeout, "");
        nlohmann::json j = take(std::move(r), "sync");
        since = j.value("next_batch", since);
        auto crypto = co_await transport->handleSync(j, systemNow());
        for (auto& f : crypto.failures)
            ADD_FAILURE() << "to-device failure from " << f.sender << " (" << f.type << "): " << f.error;
        for (auto& e : crypto.events) {
            if (e.type == type) got.push_back(std::move(e));
        }
        co_return got;
    }

    // Syncs until `count` to-device events of `type` arrived or the deadline passed.
    boost::asio::awaitable<std::vector<matrix::ReceivedToDevice>> waitFor(
        std::string type, std::size_t count, std::chrono::milliseconds deadline) {
        std::vector<matrix::ReceivedToDevice> got;
        const auto end = std::chrono::steady_clock::now() + deadline;
        while (got.size() < count && std::chrono::steady_clock::now() < end) {
            auto more = co_await syncOnce(type, Duration{1000});
            for (auto& e : more)
                got.push_back(std::move(e));
        }
        co_return got;
    }
};

}  // namespace mxrtc::test
