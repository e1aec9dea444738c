#include "mxrtc/core/history.hpp"

#include <algorithm>
#include <map>

#include "mxrtc/core/membership_wire.hpp"

namespace mxrtc::core {

namespace w = membership_wire;

namespace {

constexpr char kSep = '\x1f';

struct Open {
    MembershipInterval interval;
    TimePoint createdTs{};
    TimePoint expiresAt{};
};

std::string deviceKey(const CallMembership& m) {
    return m.device.str() + kSep + m.slot.str();
}

bool hasDelayIdMarker(const RoomEvent& ev) {
    return ev.unsignedData.is_object() && ev.unsignedData.contains(w::kDelayIdUnsigned);
}

}  // namespace

std::string_view toString(IntervalEnd end) {
    switch (end) {
        case IntervalEnd::Ongoing:
            return "ongoing";
        case IntervalEnd::Left:
            return "left";
        case IntervalEnd::DelayedLeave:
            return "delayed_leave";
        case IntervalEnd::Expired:
            return "expired";
        case IntervalEnd::RoomLeft:
            return "room_left";
        case IntervalEnd::Rejoined:
            return "rejoined";
    }
    return "unknown";
}

struct CallHistoryBuilder::Impl {
    // source key -> (device key -> open interval)
    std::map<std::string, std::map<std::string, Open>> open;
    std::vector<MembershipInterval> closed;

    void close(Open& o, TimePoint at, IntervalEnd reason, const EventId* by) {
        o.interval.end = std::max(at, o.interval.start);
        o.interval.endReason = reason;
        if (by && !by->empty()) o.interval.endEvent = *by;
        closed.push_back(std::move(o.interval));
    }

    // Memberships that expired before `at` end silently at their expiry.
    void expireBefore(TimePoint at) {
        for (auto& [source, devices] : open) {
            for (auto it = devices.begin(); it != devices.end();) {
                if (it->second.expiresAt <= at) {
                    close(it->second, it->second.expiresAt, IntervalEnd::Expired, nullptr);
                    it = devices.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }

    void roomLeave(const UserId& user, const RoomEvent& ev) {
        for (auto& [source, devices] : open) {
            for (auto it = devices.begin(); it != devices.end();) {
                if (it->second.interval.user == user) {
                    close(it->second, ev.originServerTs, IntervalEnd::RoomLeft, &ev.eventId);
                    it = devices.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }

    static Open openFrom(const CallMembership& m, TimePoint start) {
        Open o;
        o.interval.slot = m.slot;
        o.interval.user = m.user;
        o.interval.device = m.device;
        o.interval.kind = m.kind;
        o.interval.start = start;
        o.interval.joinEvent = m.eventId;
        o.interval.callIntent = m.callIntent;
        o.createdTs = m.createdTs;
        o.expiresAt = m.expiresAt;
        return o;
    }

    std::optional<Error> add(const RoomEvent& ev) {
        expireBefore(ev.originServerTs);
        if (ev.type == w::kRoomMemberType) {
            if (!ev.stateKey) return std::nullopt;
            auto it = ev.content.find("membership");
            const bool joined = it != ev.content.end() && it->is_string() && it->get<std::string>() == "join";
            if (!joined) roomLeave(UserId(*ev.stateKey), ev);
            return std::nullopt;
        }
        if (!isCallMemberEventType(ev.type)) return std::nullopt;

        auto parsed = parseMemberEvent(ev, ev.originServerTs);
        std::optional<Error> error;
        std::string source;
        if (isStickyMemberEventType(ev.type)) {
            if (!parsed || !parsed->stickyKey)
                return parsed ? std::nullopt : std::optional<Error>(parsed.error());
            source = "sticky" + std::string(1, kSep) + ev.sender.str() + kSep + *parsed->stickyKey;
        } else {
            if (!ev.stateKey) return makeError(errcode::kBadJson, "'state_key' is required for " + ev.type);
            source = "state" + std::string(1, kSep) + *ev.stateKey;
        }
        std::vector<CallMembership> current;
        if (parsed) {
            current = std::move(parsed.value().memberships);
        } else {
            error = parsed.error();
        }

        auto& devices = open[source];
        // History that starts mid-call: the previous content says who was already there.
        if (devices.empty() && !isStickyMemberEventType(ev.type)) {
            if (auto prev = ev.prevContent(); prev && !prev->empty()) {
                RoomEvent before = ev;
                before.content = *prev;
                if (auto p = parseMemberEvent(before, ev.originServerTs)) {
                    for (auto& m : p->memberships) {
                        if (m.expiresAt <= ev.originServerTs) continue;
                        const bool sameCreated =
                            std::any_of(current.begin(), current.end(), [&](const auto& c) {
                                return deviceKey(c) == deviceKey(m) && c.createdTs == m.createdTs;
                            });
                        // With created_ts we know the start; without it, only "before this event".
                        const TimePoint start =
                            sameCreated || m.createdTs < ev.originServerTs ? m.createdTs : ev.originServerTs;
                        devices.emplace(deviceKey(m), openFrom(m, start));
                    }
                }
            }
        }

        const bool delayed = hasDelayIdMarker(ev);
        std::map<std::string, const CallMembership*> now;
        for (const auto& m : current) {
            if (m.expiresAt > ev.originServerTs) now.emplace(deviceKey(m), &m);
        }
        // Leaves.
        for (auto it = devices.begin(); it != devices.end();) {
            if (!now.count(it->first)) {
                close(it->second, ev.originServerTs, delayed ? IntervalEnd::DelayedLeave : IntervalEnd::Left,
                      &ev.eventId);
                it = devices.erase(it);
            } else {
                ++it;
            }
        }
        // Joins, updates, rejoins.
        for (const auto& [key, m] : now) {
            auto it = devices.find(key);
            if (it == devices.end()) {
                const TimePoint start = m->kind == MembershipKind::SessionState
                                            ? std::min(m->createdTs, ev.originServerTs)
                                            : ev.originServerTs;
                devices.emplace(key, openFrom(*m, start));
                continue;
            }
            Open& o = it->second;
            const bool rejoin = m->kind == MembershipKind::SessionState && m->createdTs != o.createdTs;
            if (rejoin) {
                close(o, ev.originServerTs, IntervalEnd::Rejoined, &ev.eventId);
                it->second = openFrom(*m, ev.originServerTs);
            } else {
                o.expiresAt = m->expiresAt;
                if (m->callIntent) o.interval.callIntent = m->callIntent;
            }
        }
        if (devices.empty()) open.erase(source);
        return error;
    }
};

CallHistoryBuilder::CallHistoryBuilder() : m_impl(std::make_unique<Impl>()) {}
CallHistoryBuilder::~CallHistoryBuilder() = default;
CallHistoryBuilder::CallHistoryBuilder(CallHistoryBuilder&&) noexcept = default;
CallHistoryBuilder& CallHistoryBuilder::operator=(CallHistoryBuilder&&) noexcept = default;

std::optional<Error> CallHistoryBuilder::add(const RoomEvent& event) {
    return m_impl->add(event);
}

CallHistory CallHistoryBuilder::finish(TimePoint now) const {
    Impl copy = *m_impl;  // finish() is const: close expiries on a copy
    copy.expireBefore(now);
    CallHistory out;
    out.intervals = std::move(copy.closed);
    for (auto& [source, devices] : copy.open)
        for (auto& [key, o] : devices)
            out.intervals.push_back(std::move(o.interval));
    std::stable_sort(out.intervals.begin(), out.intervals.end(), [](const auto& a, const auto& b) {
        if (a.start != b.start) return a.start < b.start;
        if (a.user != b.user) return a.user < b.user;
        return a.device < b.device;
    });

    // Calls: per slot, merge overlapping intervals (an ongoing interval extends to infinity).
    std::map<SlotId, std::vector<const MembershipInterval*>> bySlot;
    for (const auto& i : out.intervals)
        bySlot[i.slot].push_back(&i);
    for (auto& [slot, intervals] : bySlot) {
        std::optional<CallRecord> cur;
        auto flush = [&] {
            if (!cur) return;
            std::optional<std::string> intent;
            bool conflict = false;
            for (const auto& i : cur->intervals) {
                if (!i.callIntent) continue;
                if (intent && *intent != *i.callIntent) conflict = true;
                intent = i.callIntent;
            }
            if (!conflict) cur->callIntent = intent;
            out.calls.push_back(std::move(*cur));
            cur.reset();
        };
        for (const MembershipInterval* i : intervals) {
            const bool overlaps = cur && (!cur->end || i->start <= *cur->end);
            if (!overlaps) {
                flush();
                cur = CallRecord{};
                cur->slot = slot;
                cur->start = i->start;
                cur->end = i->end;
            } else if (cur->end) {
                cur->end = i->end ? std::optional<TimePoint>(std::max(*cur->end, *i->end)) : std::nullopt;
            }
            if (std::find(cur->participants.begin(), cur->participants.end(), i->user) ==
                cur->participants.end())
                cur->participants.push_back(i->user);
            cur->intervals.push_back(*i);
        }
        flush();
    }
    std::stable_sort(out.calls.begin(), out.calls.end(),
                     [](const auto& a, const auto& b) { return a.start < b.start; });
    return out;
}

CallHistory buildCallHistory(const std::vector<RoomEvent>& events, TimePoint now) {
    CallHistoryBuilder builder;
    for (const auto& e : events)
        (void)builder.add(e);
    return builder.finish(now);
}

}  // namespace mxrtc::core
