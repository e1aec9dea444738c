// Per-client token buckets (key = remote IP). Pure: `now` is an argument. Memory is bounded:
// buckets that have refilled completely carry no information and are swept when the table is full.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

struct RateLimit {
    double perSecond = 0;  // <= 0 disables limiting
    double burst = 0;
    friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

class RateLimiter {
  public:
    struct Decision {
        bool allowed = true;
        Duration retryAfter{0};  // when refused: time until one token is available
    };

    explicit RateLimiter(RateLimit limit, std::size_t maxClients = 100'000);

    Decision take(std::string_view client, TimePoint now);
    bool enabled() const noexcept { return m_limit.perSecond > 0; }
    std::size_t clients() const noexcept { return m_buckets.size(); }

  private:
    struct Bucket {
        double tokens;
        TimePoint last;
    };
    void sweep(TimePoint now);

    RateLimit m_limit;
    std::size_t m_maxClients;
    std::unordered_map<std::string, Bucket> m_buckets;
};

}  // namespace mxrtc::auth
