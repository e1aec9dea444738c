// SyncLoop: the one /sync loop of the library, with one retry policy (design/review.md item 4).
// Calls (CallShell), 1:1 calls (DirectCall) and ring watching (call::waitForRing) all poll through
// it, so they back off, honour Retry-After, give up on a dead access token and persist the token in
// the same way.
//
//   SyncLoop::Options o;
//   o.filter = SyncFilter::forRoom(room, 100).dump();
//   o.onToken = save;
//   SyncLoop sync(client, std::move(o));
//   for (;;) {
//       auto r = co_await sync.poll();
//       if (auto* e = std::get_if<MatrixError>(&r)) { if (e->unknownToken) break; continue; }
//       handle(std::get<nlohmann::json>(r));
//   }
//
// Retry policy (SyncBackoff, pure): after a failed /sync wait the server's Retry-After if it sent
// one, else 1 s, doubling up to 30 s; a success resets it. A 401 M_UNKNOWN_TOKEN is not retried.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/matrix/client.hpp"

namespace mxrtc::matrix {

struct SyncRetryPolicy {
    Duration initial{1000};
    Duration max{30'000};
};

// Pure: how long to wait after each failure.
class SyncBackoff {
  public:
    explicit SyncBackoff(SyncRetryPolicy policy = {}) : m_policy(policy), m_next(policy.initial) {}
    // The wait before the next attempt, or nullopt when retrying cannot help (the token is dead).
    std::optional<Duration> onFailure(const MatrixError& e);
    void onSuccess() noexcept;
    int consecutiveFailures() const noexcept { return m_failures; }

  private:
    SyncRetryPolicy m_policy;
    Duration m_next;
    int m_failures = 0;
};

// The filters the library syncs with (lazy-loaded members; no presence, ephemeral or account data).
struct SyncFilter {
    RoomId room;
    int timelineLimit = 100;
    std::vector<std::string> timelineTypes;  // empty: every type
    bool roomState = true;                   // false: the room's state section is left out

    static SyncFilter forRoom(RoomId room, int timelineLimit) {
        SyncFilter f;
        f.room = std::move(room);
        f.timelineLimit = timelineLimit;
        return f;
    }
    nlohmann::json toJson() const;
    std::string dump() const { return toJson().dump(); }
};

class SyncLoop {
  public:
    struct Options {
        std::string filter;        // JSON text (SyncFilter::dump())
        std::string since;         // "" = initial sync (answered at once, timeout 0)
        Duration timeout{30'000};  // long-poll
        SyncRetryPolicy retry;
        // next_batch changed (persist it to resume after a restart). Called once the batch was
        // handled: at the next poll() or commit(), so a crash in between replays it, never skips it.
        std::function<void(const std::string& token)> onToken;
        // A /sync failed and will be retried after `retryIn` (the failure count starts at 1).
        std::function<void(const MatrixError& e, Duration retryIn, int failures)> onRetry;
        // The first success after failures: how long /sync was failing.
        std::function<void(Duration outage)> onRecovered;
    };

    SyncLoop(Client& client, Options options);

    // One /sync. The response body; or the error, after the backoff wait when it will be retried
    // (e.unknownToken: it will not). `timeout` overrides the long-poll timeout of this request.
    boost::asio::awaitable<MxResult<nlohmann::json>> poll(std::optional<Duration> timeout = std::nullopt);

    // The last batch is handled: advance `since` (and persist it) now rather than at the next poll().
    void commit();

    const std::string& since() const noexcept { return m_since; }
    int consecutiveFailures() const noexcept { return m_backoff.consecutiveFailures(); }

  private:
    Client& m_client;
    Options m_options;
    std::string m_since;
    std::optional<std::string> m_pending;  // next_batch of the batch being handled
    SyncBackoff m_backoff;
    std::optional<std::chrono::steady_clock::time_point> m_failingSince;
};

// The events of one joined room in a sync response: `section` is "state" or "timeline". Returns
// nullptr when the room or the section is absent or not an array.
const nlohmann::json* roomEventsOf(const nlohmann::json& body, const RoomId& room, std::string_view section);

}  // namespace mxrtc::matrix
