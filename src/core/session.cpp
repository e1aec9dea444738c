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

struct Entry {
    MembershipPtr membership;
    const std::string* key = nullptr;  // points at the map key (node-stable)
    const std::string* sourceKey = nullptr;
    bool listed = false;  // in its slot's ordered set (false while the user is not joined to the room)
};

// Slot order: created ts, then event id, user, device, member key (unique) — deterministic.
struct ByAge {
    bool operator()(const Entry* a, const Entry* b) const {
        const CallMembership& x = *a->membership;
        const CallMembership& y = *b->membership;
        if (x.createdTs != y.createdTs) return x.createdTs < y.createdTs;
        if (int c = x.eventId.str().compare(y.eventId.str())) return c < 0;
        if (int c = x.user.str().compare(y.user.str())) return c < 0;
        if (int c = x.device.str().compare(y.device.str())) return c < 0;
        return *a->key < *b->key;
    }
};

struct ByExpiry {
    bool operator()(const Entry* a, const Entry* b) const {
        if (a->membership->expiresAt != b->membership->expiresAt)
            return a->membership->expiresAt < b->membership->expiresAt;
        return *a->key < *b->key;
    }
};

struct Source {
    EventOrder newest;
    bool seen = false;
    std::vector<Entry*> members;  // entries currently declared by this source
};

std::string memberKeyOf(const std::string& sourceKey, const CallMembership& m) {
    std::string key;
    key.reserve(sourceKey.size() + m.device.str().size() + m.slot.str().size() + 2);
    key.append(sourceKey).append(1, kSep).append(m.device.str()).append(1, kSep).append(m.slot.str());
    return key;
}

void eraseValue(std::vector<Entry*>& v, const Entry* e) {
    v.erase(std::remove(v.begin(), v.end(), e), v.end());
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
    std::map<SlotId, std::set<Entry*, ByAge>> slots;  // listed entries per slot, oldest first
    std::set<Entry*, ByExpiry> expiries;
    std::unordered_map<UserId, bool> roomJoined;  // absent = unknown = treated as joined
    // The newest m.room.member event applied per user: an older one (a first sync's timeline
    // replaying the invite before the join) never undoes a newer one.
    std::unordered_map<UserId, EventOrder> roomMemberNewest;
    std::unordered_map<UserId, std::vector<Entry*>> entriesByUser;

    bool userJoined(const UserId& user) const {
        auto it = roomJoined.find(user);
        return it == roomJoined.end() || it->second;
    }

    void list(Entry& e, TimePoint now, std::vector<SessionChange>& out) {
        if (e.listed) return;
        auto& set = slots[e.membership->slot];
        if (set.empty()) out.emplace_back(SessionStarted{e.membership->slot, now});
        set.insert(&e);
        e.listed = true;
    }

    void unlist(Entry& e, TimePoint now, std::vector<SessionChange>& out) {
        if (!e.listed) return;
        e.listed = false;
        auto it = slots.find(e.membership->slot);
        if (it == slots.end()) return;
        it->second.erase(&e);
        if (it->second.empty()) {
            out.emplace_back(SessionEnded{it->first, now});
            slots.erase(it);
        }
    }

    Entry* insert(const std::string& sourceKey, std::string key, MembershipPtr m, TimePoint now,
                  std::vector<SessionChange>& out) {
        auto [it, inserted] = entries.try_emplace(std::move(key));
        MXRTC_ASSERT(inserted, "member key already present");
        Entry& e = it->second;
        e.key = &it->first;
        e.sourceKey = &sourceKey;
        e.membership = std::move(m);
        expiries.insert(&e);
        entriesByUser[e.membership->user].push_back(&e);
        if (userJoined(e.membership->user)) {
            list(e, now, out);
            out.emplace_back(MemberJoined{e.membership->slot, e.membership});
        }
        return &e;
    }

    // Remove an entry entirely (the caller fixes up its source's member list).
    void remove(Entry& e, LeaveReason reason, TimePoint now, std::vector<SessionChange>& out) {
        expiries.erase(&e);
        if (auto u = entriesByUser.find(e.membership->user); u != entriesByUser.end()) {
            eraseValue(u->second, &e);
            if (u->second.empty()) entriesByUser.erase(u);
        }
        if (e.listed) {
            out.emplace_back(MemberLeft{e.membership->slot, e.membership, reason});
            unlist(e, now, out);
        }
        entries.erase(entries.find(*e.key));  // by iterator: the key lives inside the erased node
    }

    // Replace an existing entry's membership in place (a refresh). Emits MemberUpdated.
    void update(Entry& e, MembershipPtr m, TimePoint now, std::vector<SessionChange>& out) {
        const bool wasListed = e.listed;
        if (wasListed) slots[e.membership->slot].erase(&e);
        expiries.erase(&e);
        e.membership = std::move(m);
        expiries.insert(&e);
        if (wasListed) {
            slots[e.membership->slot].insert(&e);
            out.emplace_back(MemberUpdated{e.membership->slot, e.membership});
        } else if (userJoined(e.membership->user)) {
            list(e, now, out);
            out.emplace_back(MemberJoined{e.membership->slot, e.membership});
        }
    }

    void expireDue(TimePoint now, std::vector<SessionChange>& out) {
        while (!expiries.empty() && (*expiries.begin())->membership->expiresAt <= now) {
            Entry& e = **expiries.begin();
            if (auto s = sources.find(*e.sourceKey); s != sources.end()) eraseValue(s->second.members, &e);
            remove(e, LeaveReason::Expired, now, out);
        }
    }

    void applyRoomMember(const RoomEvent& ev, TimePoint now, std::vector<SessionChange>& out) {
        if (!ev.stateKey) return;
        const UserId user(*ev.stateKey);
        EventOrder order{ev.originServerTs, ev.eventId.str()};
        auto [newest, first] = roomMemberNewest.try_emplace(user, order);
        if (!first) {
            if (order < newest->second) return;
            newest->second = std::move(order);
        }
        std::string membership;
        if (auto it = ev.content.find("membership"); it != ev.content.end() && it->is_string())
            membership = it->get<std::string>();
        const bool joined = membership == "join";
        const bool wasJoined = userJoined(user);
        roomJoined[user] = joined;
        if (joined == wasJoined) return;
        auto byUser = entriesByUser.find(user);
        if (byUser == entriesByUser.end()) return;
        for (Entry* e : byUser->second) {
            if (joined) {
                list(*e, now, out);
                out.emplace_back(MemberJoined{e->membership->slot, e->membership});
            } else if (e->listed) {
                out.emplace_back(MemberLeft{e->membership->slot, e->membership, LeaveReason::RoomLeft});
                unlist(*e, now, out);
            }
        }
    }

    void applySource(std::string sourceKeyIn, const RoomEvent& ev, Result<MemberEventContent>& parsed,
                     TimePoint now, ApplyResult& result) {
        auto [srcIt, created] = sources.try_emplace(std::move(sourceKeyIn));
        const std::string& sourceKey = srcIt->first;
        Source& src = srcIt->second;
        EventOrder order{ev.originServerTs, ev.eventId.str()};
        if (src.seen && order <= src.newest) {
            result.ignored = order == src.newest ? IgnoredBecause::Duplicate : IgnoredBecause::Stale;
            return;
        }
        src.seen = true;
        src.newest = std::move(order);

        std::vector<std::pair<std::string, MembershipPtr>> incoming;
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
                std::string key = memberKeyOf(sourceKey, m);
                bool duplicate = false;  // the same device twice in one event: first wins
                for (const auto& [k, _] : incoming)
                    duplicate = duplicate || k == key;
                if (!duplicate)
                    incoming.emplace_back(std::move(key),
                                          std::make_shared<const CallMembership>(std::move(m)));
            }
        }

        auto& changes = result.changes;
        // Members no longer declared by this source leave.
        std::vector<Entry*> kept;
        for (Entry* e : src.members) {
            bool still = false;
            for (const auto& [k, _] : incoming)
                still = still || k == *e->key;
            if (still) {
                kept.push_back(e);
            } else {
                remove(*e, reasonForMissing, now, changes);
            }
        }
        // New or refreshed members.
        std::vector<Entry*> members;
        members.reserve(incoming.size());
        for (auto& [key, m] : incoming) {
            Entry* existing = nullptr;
            for (Entry* e : kept)
                existing = *e->key == key ? e : existing;
            if (existing) {
                update(*existing, std::move(m), now, changes);
                members.push_back(existing);
            } else {
                members.push_back(insert(sourceKey, std::move(key), std::move(m), now, changes));
            }
        }
        src.members = std::move(members);
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
    m_impl->applySource(std::move(sourceKey), event, parsed, now, result);
    return result;
}

std::vector<SessionChange> RoomCalls::expire(TimePoint now) {
    std::vector<SessionChange> out;
    m_impl->expireDue(now, out);
    return out;
}

std::optional<TimePoint> RoomCalls::nextExpiry() const {
    if (m_impl->expiries.empty()) return std::nullopt;
    return (*m_impl->expiries.begin())->membership->expiresAt;
}

std::vector<const CallMembership*> RoomCalls::members(const SlotId& slot) const {
    std::vector<const CallMembership*> out;
    auto it = m_impl->slots.find(slot);
    if (it == m_impl->slots.end()) return out;
    out.reserve(it->second.size());
    for (const Entry* e : it->second)
        out.push_back(e->membership.get());
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
    return (*it->second.begin())->membership.get();
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
