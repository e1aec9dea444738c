// Service metrics in the Prometheus text exposition format (version 0.0.4). Single-threaded like
// the rest of the service: owned by the server's io_context.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "mxrtc/auth/delegation.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

enum class Endpoint {
    SfuGet,
    GetToken,
    DelegateDelayedLeave,
    SfuWebhook,
    Healthz,
    Readyz,
    Metrics,
    Version,
    Other
};
inline constexpr std::size_t kEndpointCount = 9;
std::string_view toString(Endpoint e);

class Histogram {
  public:
    static constexpr std::array<double, 14> kBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
    void observe(double seconds);
    void render(std::string& out, std::string_view name, std::string_view labels) const;

  private:
    std::array<std::uint64_t, kBounds.size()> m_buckets{};
    std::uint64_t m_count = 0;
    double m_sum = 0;
};

struct CacheGauges {
    std::uint64_t hits = 0, misses = 0, evictions = 0, expirations = 0, entries = 0;
};

class Metrics {
  public:
    void request(Endpoint endpoint, int status, std::chrono::microseconds latency);
    void error(std::string_view errcode);
    // outcome: "ok", "rejected", "mismatch", "unreachable", "refused_target", "error"
    void verification(std::string_view outcome, std::chrono::microseconds latency);
    void roomCreation(bool ok);
    void membershipCheck(std::string_view outcome);
    void rateLimited() { ++m_rateLimited; }
    void connectionOpened() { ++m_connectionsTotal, ++m_connectionsOpen; }
    void connectionClosed() { --m_connectionsOpen; }
    // Delayed-leave delegation: one restart/send request and its classified outcome.
    void delegationRequest(DelayedEventAction action, RequestOutcome::Kind outcome);
    // SFU webhooks by outcome: the event name, "ignored", "unauthorized" or "malformed".
    void webhook(std::string_view outcome);

    // The cache is owned by the handler and the jobs by the delegation manager; their counters
    // are sampled at render time.
    std::string render(const CacheGauges& cache, const DelegationCounts& delegation = {}) const;

  private:
    std::array<std::map<int, std::uint64_t>, kEndpointCount> m_requests;
    std::array<Histogram, kEndpointCount> m_requestLatency;
    std::map<std::string, std::uint64_t, std::less<>> m_errors;
    std::map<std::string, std::uint64_t, std::less<>> m_verifications;
    Histogram m_verificationLatency;
    std::uint64_t m_roomCreateOk = 0, m_roomCreateFailed = 0;
    std::map<std::string, std::uint64_t, std::less<>> m_membership;
    std::uint64_t m_rateLimited = 0;
    std::uint64_t m_connectionsTotal = 0;
    std::int64_t m_connectionsOpen = 0;
    std::array<std::array<std::uint64_t, 4>, 2> m_delegationRequests{};  // [action][outcome kind]
    std::map<std::string, std::uint64_t, std::less<>> m_webhooks;
};

}  // namespace mxrtc::auth
