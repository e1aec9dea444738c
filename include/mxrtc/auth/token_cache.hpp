// Bounded, TTL'd cache of verified OpenID tokens: (server name, token) -> Matrix user id.
// Keyed by SHA-256 of the pair, so the raw token is never stored; least recently used entries are
// evicted at capacity. Pure: `now` is an argument.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

class VerifiedTokenCache {
  public:
    using Key = std::array<std::uint8_t, 32>;

    struct Stats {
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;
        std::uint64_t evictions = 0;    // dropped at capacity
        std::uint64_t expirations = 0;  // dropped because their TTL passed
    };

    // capacity 0 disables the cache.
    VerifiedTokenCache(std::size_t capacity, Duration ttl);

    // SHA-256 over a length-prefixed (serverName, token) pair.
    static Key keyFor(std::string_view serverName, std::string_view accessToken);

    std::optional<UserId> find(const Key& key, TimePoint now);
    // `tokenLifetime` (the token's own expires_in, when positive) can only shorten the TTL.
    void insert(const Key& key, UserId userId, TimePoint now,
                std::optional<Duration> tokenLifetime = std::nullopt);
    void clear();

    std::size_t size() const noexcept { return m_map.size(); }
    std::size_t capacity() const noexcept { return m_capacity; }
    const Stats& stats() const noexcept { return m_stats; }

  private:
    struct Entry {
        Key key;
        UserId userId;
        TimePoint expiresAt;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept;
    };
    using List = std::list<Entry>;

    std::size_t m_capacity;
    Duration m_ttl;
    List m_lru;  // front = most recently used
    std::unordered_map<Key, List::iterator, KeyHash> m_map;
    Stats m_stats;
};

}  // namespace mxrtc::auth
