#include "mxrtc/auth/token_cache.hpp"

// SHA256_CTX (deprecated in OpenSSL 3, still shipped): no EVP context allocation per lookup.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>
#include <string>

namespace mxrtc::auth {

VerifiedTokenCache::VerifiedTokenCache(std::size_t capacity, Duration ttl)
    : m_capacity(capacity), m_ttl(ttl) {
    m_map.reserve(std::min<std::size_t>(capacity, 1 << 16));
}

VerifiedTokenCache::Key VerifiedTokenCache::keyFor(std::string_view serverName,
                                                   std::string_view accessToken) {
    // SHA-256("<len(server)>:<server>:<token>"), hashed piecewise (no copy of the token).
    const std::string prefix = std::to_string(serverName.size()) + ":";
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, prefix.data(), prefix.size());
    SHA256_Update(&ctx, serverName.data(), serverName.size());
    SHA256_Update(&ctx, ":", 1);
    SHA256_Update(&ctx, accessToken.data(), accessToken.size());
    Key key;
    SHA256_Final(key.data(), &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return key;
}

std::size_t VerifiedTokenCache::KeyHash::operator()(const Key& k) const noexcept {
    std::size_t h;
    std::memcpy(&h, k.data(), sizeof h);  // already a uniform hash
    return h;
}

std::optional<UserId> VerifiedTokenCache::find(const Key& key, TimePoint now) {
    const auto it = m_map.find(key);
    if (it == m_map.end()) {
        ++m_stats.misses;
        return std::nullopt;
    }
    if (now >= it->second->expiresAt) {
        m_lru.erase(it->second);
        m_map.erase(it);
        ++m_stats.expirations;
        ++m_stats.misses;
        return std::nullopt;
    }
    m_lru.splice(m_lru.begin(), m_lru, it->second);
    ++m_stats.hits;
    return it->second->userId;
}

void VerifiedTokenCache::insert(const Key& key, UserId userId, TimePoint now,
                                std::optional<Duration> tokenLifetime) {
    if (m_capacity == 0 || m_ttl <= Duration::zero()) return;
    Duration ttl = m_ttl;
    if (tokenLifetime && *tokenLifetime > Duration::zero()) ttl = std::min(ttl, *tokenLifetime);
    const TimePoint expiresAt = now + ttl;
    if (const auto it = m_map.find(key); it != m_map.end()) {
        it->second->userId = std::move(userId);
        it->second->expiresAt = expiresAt;
        m_lru.splice(m_lru.begin(), m_lru, it->second);
        return;
    }
    while (m_map.size() >= m_capacity) {
        // Prefer dropping an expired tail entry; otherwise the least recently used one.
        const auto& victim = m_lru.back();
        if (now >= victim.expiresAt)
            ++m_stats.expirations;
        else
            ++m_stats.evictions;
        m_map.erase(victim.key);
        m_lru.pop_back();
    }
    m_lru.push_front(Entry{key, std::move(userId), expiresAt});
    m_map.emplace(key, m_lru.begin());
}

void VerifiedTokenCache::clear() {
    m_map.clear();
    m_lru.clear();
}

}  // namespace mxrtc::auth
