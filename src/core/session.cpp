#include "mxrtc/core/session.hpp"

#include <algorithm>
#include <tuple>

#include "mxrtc/core/membership_wire.hpp"

namespace mxrtc::core {

namespace w = membership_wire;

namespace {

constexpr char kSep = '\x1f';

// Newest event seen for a source; events must be strictly newer to apply.
struct EventOrder {
    TimePoint ts{};
    std::string eventId;
    friend auto operator<=>(const EventOrder&, const EventOrder&) = default;
};

struct OrderKey {
    TimePoint created;
    std::string eventId;
    std::string user;
    std::string device;
    std::string memberKey;  // unique
    friend auto operator<=>(const OrderKey&, const OrderKey&) = default;
};

struct Entry {
    CallMembership membership;
    std::string sourceKey;
    OrderKey order;
    bool listed = false;  // in its slot's ordered set (false while the user is not joined to the room)
};

struct Source {
    EventOrder newest;
    bool seen = false;
    UserId sender;
    std::vector<std::string> memberKeys;  // entries currently declared by this source
};

std::string memberKeyOf(const std::string& sourceKey, const CallMembership& m) {
    return sourceKey + kSep + m.device.str() + kSep + m.slot.str();
}

}  // namespace

std::string_view toString(LeaveReason reason) {
    switch (reason) {
        case LeaveReason::Left:
            return "left";
        case LeaveReason::Expired:
            return "expired";
        case LeaveReason::RoomLeft:
            return "room_left";
        case LeaveReason::Invalid:
            return "invalid";
    }
    return "unknown";
}

struct RoomCalls::Impl {
    std::unordered_map<std::string, Source> sources;
    std::unordered_map<std::string, Entry> entries;
    std::map<SlotId, std::set<OrderKey>> slots;  // listed entries per slot, oldest first
    std::set<std::pair<TimePoint, std::string>> expiries;
    std::unordered_map<UserId, bool> roomJoined;  // absent = unknown = treated as joined
    std::unordered_map<UserId, std::set<std::string>> entriesByUser;

    bool userJoined(const UserId& user) const {
        auto it = roomJoined.find(user);
        return it == roomJoined.end() || it->second;
    }

    void list(Entry& e, TimePoint now, std::vector<SessionChange>& out) {
        if (e.listed) return;
        auto& set = slots[e.membership.slot];
        const bool wasEmpty = set.empty();
        set.insert(e.order);
        e.listed = true;
        if (wasEmpty) out.emplace_back(SessionStarted{e.membership.slot, now});
    }

    void unlist(Entry& e, TimePoint now, std::vector<SessionChange>& out) {
        if (!e.listed) return;
        auto it = slots.find(e.membership.slot);
        e.listed = false;
        if (it == slots.end()) return;
        it->second.erase(e.order);
        if (it->second.empty()) {
            slots.erase(it);
            out.emplace_back(SessionEnded{e.membership.slot, now});
        }
    }

    // Insert a new entry (not yet present). Emits MemberJoined if it becomes listed.
    void insert(const std::string& sourceKey, CallMembership m, TimePoint now,
                std::vector<SessionChange>& out, bool announce) {
        const std::string key = memberKeyOf(sourceKey, m);
        Entry e;
        e.sourceKey = sourceKey;
        e.order = OrderKey{m.createdTs, m.eventId.str(), m.user.str(), m.device.str(), key};
        e.membership = std::move(m);
        expiries.emplace(e.membership.expiresAt, key);
        entriesByUser[e.membership.user].insert(key);
        auto [it, inserted] = entries.emplace(key, std::move(e));
        MXRTC_ASSERT(inserted, "member key already present");
        if (userJoined(it->second.membership.user)) {
            std::vector<SessionChange> started;
            list(it->second, now, started);
            for (auto& c : started)
                out.push_back(std::move(c));
            if (announce) out.emplace_back(MemberJoined{it->second.membership.slot, it->second.membership});
        }
    }

    // Remove an entry entirely. Emits MemberLeft if it was listed.
    void remove(const std::string& key, LeaveReason reason, TimePoint now, std::vector<SessionChange>& out) {
        auto it = entries.find(key);
        if (it == entries.end()) return;
        Entry& e = it->second;
        expiries.erase({e.membership.expiresAt, key});
        if (auto u = entriesByUser.find(e.membership.user); u != entriesByUser.end()) {
            u->second.erase(key);
            if (u->second.empty()) entriesByUser.erase(u);
        }
        if (e.listed) {
            out.emplace_back(MemberLeft{e.membership.slot, e.membership, reason});
            unlist(e, now, out);
        }
        if (auto s = sources.find(e.sourceKey); s != sources.end()) {
            auto& keys = s->second.memberKeys;
            keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
        }
        entries.erase(it);
    }

    // Replace an existing entry's membership in place (a refresh). Emits MemberUpdated.
    void update(const std::string& key, CallMembership m, TimePoint now, std::vector<SessionChange>& out) {
        Entry& e = entries.at(key);
        const bool wasListed = e.listed;
        if (wasListed) {
            slots[e.membership.slot].erase(e.order);
            e.listed = false;
        }
        expiries.erase({e.membership.expiresAt, key});
        e.order = OrderKey{m.createdTs, m.eventId.str(), m.user.str(), m.device.str(), key};
        e.membership = std::move(m);
        expiries.emplace(e.membership.expiresAt, key);
        if (wasListed) {
            slots[e.membership.slot].insert(e.order);
            e.listed = true;
            out.emplace_back(MemberUpdated{e.membership.slot, e.membership});
        } else if (userJoined(e.membership.user)) {
            list(e, now, out);
            out.emplace_back(MemberJoined{e.membership.slot, e.membership});
        }
    }

    void expireDue(TimePoint now, std::vector<SessionChange>& out) {
        while (!expiries.empty() && expiries.begin()->first <= now) {
            const std::string key = expiries.begin()->second;
            remove(key, LeaveReason::Expired, now, out);
        }
    }

    void applyRoomMember(const RoomEvent& ev, TimePoint now, std::vector<SessionChange>& out) {
        if (!ev.stateKey) return;
        const UserId user(*ev.stateKey);
        std::string membership;
        if (auto it = ev.content.find("membership"); it != ev.content.end() && it->is_string())
            membership = it->get<std::string>();
        const bool joined = membership == "join";
        const bool wasJoined = userJoined(user);
        roomJoined[user] = joined;
        if (joined == wasJoined) return;
        auto byUser = entriesByUser.find(user);
        if (byUser == entriesByUser.end()) return;
        for (const auto& key : byUser->second) {
            Entry& e = entries.at(key);
            if (joined) {
                list(e, now, out);
                out.emplace_back(MemberJoined{e.membership.slot, e.membership});
            } else if (e.listed) {
                out.emplace_back(MemberLeft{e.membership.slot, e.membership, LeaveReason::RoomLeft});
                unlist(e, now, out);
            }
        }
    }

    void applySource(const std::string& sourceKey, const RoomEvent& ev, Result<MemberEventContent>& parsed,
                     TimePoint now, ApplyResult& result) {
        Source& src = sources[sourceKey];
        const EventOrder order{ev.originServerTs, ev.eventId.str()};
        if (src.seen && order <= src.newest) {
            result.ignored = order == src.newest ? IgnoredBecause::Duplicate : IgnoredBecause::Stale;
            return;
        }
        src.seen = true;
        src.newest = order;
        src.sender = ev.sender;

        std::vector<CallMembership> incoming;
        LeaveReason reasonForMissing = LeaveReason::Left;
        if (!parsed) {
            result.error = parsed.error();
            reasonForMissing = LeaveReason::Invalid;
        } else {
            for (auto& m : parsed.value().memberships) {
                if (m.isExpired(now)) {
                    reasonForMissing = LeaveReason::Expired;
                    continue;
                }
                incoming.push_back(std::move(m));
            }
        }

        std::set<std::string> incomingKeys;
        for (const auto& m : incoming)
            incomingKeys.insert(memberKeyOf(sourceKey, m));
        auto& changes = result.changes;
        // Members no longer declared by this source.
        const std::vector<std::string> previous = src.memberKeys;
        for (const auto& key : previous) {
            if (!incomingKeys.count(key)) remove(key, reasonForMissing, now, changes);
        }
        // New or refreshed members.
        std::vector<std::string> keys;
        for (auto& m : incoming) {
            const std::string key = memberKeyOf(sourceKey, m);
            if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;  // same device twice
            keys.push_back(key);
            if (entries.count(key)) {
                update(key, std::move(m), now, changes);
            } else {
                insert(sourceKey, std::move(m), now, changes, /*announce=*/true);
            }
        }
        sources[sourceKey].memberKeys = std::move(keys);
        if (changes.empty() && !result.error && !result.ignored) result.ignored = IgnoredBecause::NotRelevant;
    }
};

RoomCalls::RoomCalls(RoomId room) : m_room(std::move(room)), m_impl(std::make_unique<Impl>()) {}
RoomCalls::~RoomCalls() = default;
RoomCalls::RoomCalls(RoomCalls&&) noexcept = default;
RoomCalls& RoomCalls::operator=(RoomCalls&&) noexcept = default;

ApplyResult RoomCalls::apply(const RoomEvent& event, TimePoint now) {
    ApplyResult result;
    m_impl->expireDue(now, result.changes);
    if (event.type == w::kRoomMemberType) {
        m_impl->applyRoomMember(event, now, result.changes);
        if (result.changes.empty()) result.ignored = IgnoredBecause::NotRelevant;
        return result;
    }
    if (!isCallMemberEventType(event.type)) {
        result.ignored = IgnoredBecause::NotRelevant;
        return result;
    }
    auto parsed = parseMemberEvent(event, now);
    std::string sourceKey;
    if (isStickyMemberEventType(event.type)) {
        // Sticky map key: (room, sender, type, sticky_key). Without a valid key there is no source.
        if (!parsed || !parsed->stickyKey) {
            result.ignored = IgnoredBecause::Invalid;
            if (!parsed) result.error = parsed.error();
            return result;
        }
        sourceKey = "sticky" + std::string(1, kSep) + event.sender.str() + kSep + event.type + kSep +
                    *parsed->stickyKey;
    } else {
        if (!event.stateKey) {
            result.ignored = IgnoredBecause::Invalid;
            result.error = makeError(errcode::kBadJson, "'state_key' is required for " + event.type);
            return result;
        }
        sourceKey = "state" + std::string(1, kSep) + event.type + kSep + *event.stateKey;
    }
    m_impl->applySource(sourceKey, event, parsed, now, result);
    return result;
}

std::vector<SessionChange> RoomCalls::expire(TimePoint now) {
    std::vector<SessionChange> out;
    m_impl->expireDue(now, out);
    return out;
}

std::optional<TimePoint> RoomCalls::nextExpiry() const {
    if (m_impl->expiries.empty()) return std::nullopt;
    return m_impl->expiries.begin()->first;
}

std::vector<const CallMembership*> RoomCalls::members(const SlotId& slot) const {
    std::vector<const CallMembership*> out;
    auto it = m_impl->slots.find(slot);
    if (it == m_impl->slots.end()) return out;
    out.reserve(it->second.size());
    for (const auto& key : it->second)
        out.push_back(&m_impl->entries.at(key.memberKey).membership);
    return out;
}

std::size_t RoomCalls::memberCount(const SlotId& slot) const {
    auto it = m_impl->slots.find(slot);
    return it == m_impl->slots.end() ? 0 : it->second.size();
}

std::size_t RoomCalls::totalMemberCount() const {
    std::size_t n = 0;
    for (const auto& [slot, set] : m_impl->slots)
        n += set.size();
    return n;
}

const CallMembership* RoomCalls::oldest(const SlotId& slot) const {
    auto it = m_impl->slots.find(slot);
    if (it == m_impl->slots.end() || it->second.empty()) return nullptr;
    return &m_impl->entries.at(it->second.begin()->memberKey).membership;
}

std::vector<SlotId> RoomCalls::activeSlots() const {
    std::vector<SlotId> out;
    for (const auto& [slot, set] : m_impl->slots)
        out.push_back(slot);
    return out;
}

std::optional<Transport> RoomCalls::transportOf(const CallMembership& member) const {
    auto first = [](const CallMembership& m) -> std::optional<Transport> {
        if (m.transports.empty()) return std::nullopt;
        return m.transports.front();
    };
    switch (member.kind) {
        case MembershipKind::StickyRtc:
        case MembershipKind::MembershipArray:
        case MembershipKind::Msc3401Devices:
            return first(member);
        case MembershipKind::SessionState:
            break;
    }
    if (!member.focusActive) return std::nullopt;
    switch (member.focusActive->selection) {
        case FocusSelection::MultiSfu:
            return first(member);
        case FocusSelection::OldestMembership: {
            const CallMembership* o = oldest(member.slot);
            return first(o ? *o : member);
        }
        case FocusSelection::Unknown:
            return std::nullopt;
    }
    return std::nullopt;
}

std::optional<Transport> RoomCalls::focusForJoiner(const SlotId& slot,
                                                   const std::optional<Transport>& ownPreferred) const {
    const CallMembership* o = oldest(slot);
    if (!o || o->transports.empty()) return ownPreferred;
    return o->transports.front();
}

std::vector<Transport> RoomCalls::transportsInUse(const SlotId& slot) const {
    std::vector<Transport> out;
    for (const CallMembership* m : members(slot)) {
        auto t = transportOf(*m);
        if (t && std::find(out.begin(), out.end(), *t) == out.end()) out.push_back(std::move(*t));
    }
    return out;
}

std::optional<std::string> RoomCalls::callIntent(const SlotId& slot) const {
    std::optional<std::string> intent;
    for (const CallMembership* m : members(slot)) {
        if (!m->callIntent) continue;
        if (intent && *intent != *m->callIntent) return std::nullopt;
        intent = m->callIntent;
    }
    return intent;
}

}  // namespace mxrtc::core
