// Session model throughput: applying one member event to sessions of various sizes, and a full
// rebuild from events. Targets (issue #2): <= 5 us per applied event at any size; rebuild of
// 5000 members <= 2 ms.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "mxrtc/core/session.hpp"

namespace {

using namespace mxrtc;
using namespace mxrtc::core;
using Json = nlohmann::json;

constexpr std::int64_t kT0 = 1760000000000;

RoomEvent memberEvent(int i, std::int64_t ts, bool join, std::int64_t createdTs = 0) {
    RoomEvent ev;
    const std::string user = "@user" + std::to_string(i) + ":example.org";
    const std::string device = "DEV" + std::to_string(i);
    ev.type = "org.matrix.msc3401.call.member";
    ev.stateKey = "_" + user + "_" + device + "_m.call";
    ev.sender = UserId(user);
    ev.eventId = EventId("$ev" + std::to_string(i) + "_" + std::to_string(ts));
    ev.originServerTs = fromUnixMs(ts);
    if (join) {
        ev.content =
            Json{{"application", "m.call"},
                 {"call_id", ""},
                 {"scope", "m.room"},
                 {"device_id", device},
                 {"focus_active", {{"type", "livekit"}, {"focus_selection", "oldest_membership"}}},
                 {"foci_preferred",
                  Json::array({{{"type", "livekit"}, {"livekit_service_url", "https://rtc.example.org"}}})},
                 {"expires", 14400000},
                 {"membershipID", user + ":" + device}};
        if (createdTs) ev.content["created_ts"] = createdTs;
    } else {
        ev.content = Json::object();
    }
    return ev;
}

RoomCalls populated(int members) {
    RoomCalls calls(RoomId("!room:example.org"));
    for (int i = 0; i < members; ++i)
        (void)calls.apply(memberEvent(i, kT0 + i, true), fromUnixMs(kT0 + i));
    return calls;
}

// A refresh (update) of an existing member in a session of N members.
void BM_ApplyRefresh(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    RoomCalls calls = populated(n);
    // Pre-build events so the benchmark measures apply, not event construction.
    std::vector<RoomEvent> events;
    const int kEvents = 4096;
    events.reserve(kEvents);
    for (int k = 0; k < kEvents; ++k)
        events.push_back(memberEvent(k % n, kT0 + n + 1 + k, true, kT0 + (k % n)));
    std::size_t k = 0;
    std::int64_t now = kT0 + n + 1;
    for (auto _ : state) {
        if (k == events.size()) {
            state.PauseTiming();
            for (auto& e : events)
                e.originServerTs += Duration{kEvents};
            now += kEvents;
            k = 0;
            state.ResumeTiming();
        }
        auto r = calls.apply(events[k], fromUnixMs(now + static_cast<std::int64_t>(k)));
        benchmark::DoNotOptimize(r);
        ++k;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyRefresh)->Arg(10)->Arg(1000)->Arg(10000);

// A new member joining and then leaving (two events per iteration) in a session of N members.
void BM_ApplyJoinLeave(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    RoomCalls calls = populated(n);
    std::int64_t ts = kT0 + n + 10;
    int id = n;
    for (auto _ : state) {
        state.PauseTiming();
        const RoomEvent join = memberEvent(id, ts, true);
        const RoomEvent leave = memberEvent(id, ts + 1, false);
        state.ResumeTiming();
        auto a = calls.apply(join, fromUnixMs(ts));
        auto b = calls.apply(leave, fromUnixMs(ts + 1));
        benchmark::DoNotOptimize(a);
        benchmark::DoNotOptimize(b);
        ts += 2;
        ++id;
    }
    state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_ApplyJoinLeave)->Arg(10)->Arg(1000)->Arg(10000);

// Full rebuild of a session of 5000 members from their (parsed) events.
void BM_Rebuild(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    std::vector<RoomEvent> events;
    events.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        events.push_back(memberEvent(i, kT0 + i, true));
    const TimePoint now = fromUnixMs(kT0 + n);
    for (auto _ : state) {
        RoomCalls calls(RoomId("!room:example.org"));
        for (const auto& e : events)
            benchmark::DoNotOptimize(calls.apply(e, now));
        benchmark::DoNotOptimize(calls.memberCount(SlotId("m.call#ROOM")));
    }
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Rebuild)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace

namespace {

// Parsing alone (content JSON -> CallMembership), the dominant part of a rebuild.
void BM_ParseMemberEvent(benchmark::State& state) {
    const RoomEvent ev = memberEvent(1, kT0, true);
    for (auto _ : state)
        benchmark::DoNotOptimize(parseMemberEvent(ev, fromUnixMs(kT0)));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseMemberEvent);

}  // namespace
