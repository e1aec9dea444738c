#include "mxrtc/e2ee/key_manager.hpp"

#include <algorithm>

namespace mxrtc::e2ee {

KeyManager::KeyManager(KeyMember self, RandomSource random, KeyManagerConfig config)
    : m_self(std::move(self)), m_random(std::move(random)), m_config(config) {}

std::optional<MediaKey> KeyManager::currentKey() const {
    return m_current;
}

std::optional<TimePoint> KeyManager::nextWakeup() const {
    std::optional<TimePoint> t;
    auto consider = [&t](TimePoint at) {
        if (!t || at < *t) t = at;
    };
    if (m_pending) consider(m_useAt);
    if (m_inFlight && m_inFlight->retryAt) consider(*m_inFlight->retryAt);
    for (const auto& p : m_parked)
        consider(p.expiresAt);
    return t;
}

void KeyManager::emitWakeup(Effects& out) {
    auto next = nextWakeup();
    if (next && next != m_announcedWakeup) out.emplace_back(core::ScheduleWakeup{*next});
    m_announcedWakeup = next;
}

MediaKey KeyManager::newKey(std::uint8_t index) {
    MediaKey k;
    k.index = index;
    k.key.resize(16);
    m_random(k.key);
    return k;
}

void KeyManager::distribute(std::vector<KeyMember> to, const MediaKey& key, bool tracked, Effects& out) {
    if (to.empty()) return;
    const KeyRequestId id = ++m_lastId;
    if (tracked) m_inFlight = InFlight{id, to, key, 0, std::nullopt};
    out.emplace_back(DistributeKey{id, std::move(to), key});
}

// ---- our key --------------------------------------------------------------------------------------

KeyManager::Effects KeyManager::join(const std::vector<KeyMember>& members, TimePoint now) {
    Effects out;
    if (m_active) return out;
    m_active = true;
    m_members.clear();
    for (const auto& m : members) {
        if (keyOf(m) != keyOf(m_self)) m_members[keyOf(m)] = m;
    }
    m_current = newKey(0);
    m_currentCreatedAt = now;
    out.emplace_back(UseOwnKey{*m_current});
    m_sharedWith = m_members;
    std::vector<KeyMember> all;
    for (const auto& [k, m] : m_members)
        all.push_back(m);
    distribute(std::move(all), *m_current, true, out);
    applyParked(now, out);
    emitWakeup(out);
    return out;
}

KeyManager::Effects KeyManager::leave() {
    m_active = false;
    m_members.clear();
    m_sharedWith.clear();
    m_current.reset();
    m_pending.reset();
    m_inFlight.reset();
    m_followUp = false;
    m_received.clear();
    m_parked.clear();
    m_announcedWakeup.reset();
    return {};
}

KeyManager::Effects KeyManager::onMembersChanged(const std::vector<KeyMember>& members, TimePoint now) {
    Effects out;
    std::map<DeviceKey, KeyMember> next;
    for (const auto& m : members) {
        if (keyOf(m) != keyOf(m_self)) next[keyOf(m)] = m;
    }
    for (const auto& [gone, m] : m_members) {
        if (next.contains(gone)) continue;
        out.emplace_back(RemoteMemberGone{m});
        const DeviceKey k = gone;
        std::erase_if(m_received, [&k](const auto& e) {
            return std::get<0>(e.first) == k.first && std::get<1>(e.first) == k.second;
        });
    }
    m_members = std::move(next);
    if (m_active) {
        applyParked(now, out);
        evaluate(now, out);
    }
    emitWakeup(out);
    return out;
}

void KeyManager::evaluate(TimePoint now, Effects& out) {
    if (m_inFlight) {
        m_followUp = true;  // coalesce: one follow-up round once the current one is done
        return;
    }
    bool someoneLeft = false;
    for (const auto& [k, m] : m_sharedWith) {
        if (!m_members.contains(k)) someoneLeft = true;
    }
    std::vector<KeyMember> joiners;
    for (const auto& [k, m] : m_members) {
        auto it = m_sharedWith.find(k);
        if (it == m_sharedWith.end() || it->second.createdTs != m.createdTs ||
            it->second.memberId != m.memberId) {
            joiners.push_back(m);
        }
    }
    if (someoneLeft) {
        rotate(now, out);  // a leaver must not decrypt what we send from now on
        return;
    }
    if (joiners.empty()) return;
    if (now - m_currentCreatedAt < m_config.rotationGracePeriod) {
        for (const auto& j : joiners)
            m_sharedWith[keyOf(j)] = j;
        if (m_pending) {
            // Frames still use the current key until the pending one takes over: send both.
            distribute(joiners, *m_current, false, out);
            distribute(std::move(joiners), *m_pending, true, out);
        } else {
            distribute(std::move(joiners), *m_current, true, out);
        }
        return;
    }
    rotate(now, out);
}

void KeyManager::rotate(TimePoint now, Effects& out) {
    const std::uint8_t newest = m_pending ? m_pending->index : m_current->index;
    m_pending = newKey(static_cast<std::uint8_t>((newest + 1) % 256));
    m_currentCreatedAt = now;
    m_useAt = now + m_config.useKeyDelay;
    m_sharedWith = m_members;
    std::vector<KeyMember> all;
    for (const auto& [k, m] : m_members)
        all.push_back(m);
    if (all.empty()) {
        // Nobody to wait for: use the new key at once.
        m_current = m_pending;
        m_pending.reset();
        out.emplace_back(UseOwnKey{*m_current});
        return;
    }
    distribute(std::move(all), *m_pending, true, out);
}

KeyManager::Effects KeyManager::onDistributed(KeyRequestId id, bool delivered, TimePoint now) {
    Effects out;
    if (!m_inFlight || m_inFlight->id != id) return out;  // untracked (joiner top-up, request answer)
    if (delivered) {
        m_inFlight.reset();
    } else if (++m_inFlight->retries > m_config.maxDistributionRetries) {
        out.emplace_back(DistributionFailed{m_inFlight->recipients, m_inFlight->key.index});
        m_inFlight.reset();
    } else {
        m_inFlight->retryAt = now + m_config.distributionRetryDelay;
    }
    if (!m_inFlight && m_followUp && m_active) {
        m_followUp = false;
        evaluate(now, out);
    }
    emitWakeup(out);
    return out;
}

KeyManager::Effects KeyManager::onWakeup(TimePoint now) {
    Effects out;
    if (m_pending && now >= m_useAt) {
        m_current = m_pending;
        m_pending.reset();
        out.emplace_back(UseOwnKey{*m_current});
    }
    if (m_inFlight && m_inFlight->retryAt && now >= *m_inFlight->retryAt) {
        m_inFlight->retryAt.reset();
        m_inFlight->id = ++m_lastId;
        out.emplace_back(DistributeKey{m_inFlight->id, m_inFlight->recipients, m_inFlight->key});
    }
    std::erase_if(m_parked, [&](const Parked& p) {
        if (p.expiresAt > now) return false;
        out.emplace_back(KeyDropped{p.key.sender, p.key.device, "no membership appeared for this device"});
        return true;
    });
    m_announcedWakeup.reset();
    emitWakeup(out);
    return out;
}

// ---- their keys ---------------------------------------------------------------------------------

void KeyManager::deliver(const KeyMember& member, const ReceivedKey& key, Effects& out) {
    auto slot = std::make_tuple(key.sender.str(), key.device.str(), key.memberId, int{key.key.index});
    auto it = m_received.find(slot);
    if (it != m_received.end()) {
        if (key.timestamp < it->second.first) {
            out.emplace_back(KeyDropped{key.sender, key.device,
                                        "outdated key for index " + std::to_string(key.key.index)});
            return;
        }
        if (it->second.second == key.key.key) {
            it->second.first = key.timestamp;  // same key again: only refresh its timestamp
            return;
        }
    }
    m_received[slot] = {key.timestamp, key.key.key};
    out.emplace_back(RemoteKeyReceived{member, key.key});
}

KeyManager::Effects KeyManager::onKeyReceived(const ReceivedKey& key, TimePoint now) {
    Effects out;
    if (key.sender == m_self.user && key.device == m_self.device) return out;  // our own echo
    auto it = m_members.find({key.sender.str(), key.device.str()});
    if (!m_active || it == m_members.end()) {
        // The membership may simply not have synced yet: hold the key for a while.
        if (m_parked.size() >= m_config.maxParkedKeys) {
            out.emplace_back(KeyDropped{m_parked.front().key.sender, m_parked.front().key.device,
                                        "too many keys waiting for a membership"});
            m_parked.erase(m_parked.begin());
        }
        m_parked.push_back(Parked{key, now + m_config.parkedKeyLifetime});
        emitWakeup(out);
        return out;
    }
    deliver(it->second, key, out);
    emitWakeup(out);
    return out;
}

void KeyManager::applyParked(TimePoint now, Effects& out) {
    std::vector<Parked> keep;
    for (auto& p : m_parked) {
        auto it = m_members.find({p.key.sender.str(), p.key.device.str()});
        if (it != m_members.end() && p.expiresAt > now) {
            deliver(it->second, p.key, out);
        } else {
            keep.push_back(std::move(p));
        }
    }
    m_parked = std::move(keep);
}

KeyManager::Effects KeyManager::onKeyRequest(const KeyRequest& request, TimePoint now) {
    Effects out;
    auto it = m_members.find({request.sender.str(), request.device.str()});
    if (!m_active || !m_current) {
        out.emplace_back(KeyDropped{request.sender, request.device, "key request while not in the call"});
    } else if (it == m_members.end()) {
        out.emplace_back(
            KeyDropped{request.sender, request.device, "key request from a device that is not a member"});
    } else {
        distribute({it->second}, *m_current, false, out);
        if (m_pending) distribute({it->second}, *m_pending, false, out);
    }
    (void)now;
    return out;
}

}  // namespace mxrtc::e2ee
