#include "mxrtc/auth/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace mxrtc::auth {

RateLimiter::RateLimiter(RateLimit limit, std::size_t maxClients) : m_limit(limit), m_maxClients(maxClients) {
    if (m_limit.burst < 1) m_limit.burst = 1;
}

void RateLimiter::sweep(TimePoint now) {
    for (auto it = m_buckets.begin(); it != m_buckets.end();) {
        const double elapsed = std::chrono::duration<double>(now - it->second.last).count();
        if (it->second.tokens + elapsed * m_limit.perSecond >= m_limit.burst)
            it = m_buckets.erase(it);
        else
            ++it;
    }
}

RateLimiter::Decision RateLimiter::take(std::string_view client, TimePoint now) {
    if (!enabled()) return {};
    auto it = m_buckets.find(std::string(client));
    if (it == m_buckets.end()) {
        if (m_buckets.size() >= m_maxClients) {
            sweep(now);
            // Still full of active clients: fail open for newcomers rather than grow without bound.
            if (m_buckets.size() >= m_maxClients) return {};
        }
        it = m_buckets.emplace(std::string(client), Bucket{m_limit.burst, now}).first;
    }
    Bucket& b = it->second;
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.last).count());
    b.tokens = std::min(m_limit.burst, b.tokens + elapsed * m_limit.perSecond);
    b.last = now;
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return {};
    }
    const double waitSeconds = (1.0 - b.tokens) / m_limit.perSecond;
    return Decision{false, Duration{static_cast<std::int64_t>(std::ceil(waitSeconds * 1000.0))}};
}

}  // namespace mxrtc::auth
