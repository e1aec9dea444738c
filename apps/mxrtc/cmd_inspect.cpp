// `mxrtc inspect DUMP.json`: read a room's events from a JSON dump and print its calls (active
// sessions with members and focus) and its call history. Works offline; the dump is either
//   {"room_id": "...", "now": <unix ms, optional>, "events": [ ...events in timeline order... ]}
// or a bare array of events.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "mxrtc/core/history.hpp"
#include "mxrtc/core/session.hpp"

namespace mxrtc::cli {

namespace {

using Json = nlohmann::json;
using namespace mxrtc::core;

std::string formatTime(TimePoint t) {
    const std::time_t secs = static_cast<std::time_t>(toUnixMs(t) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string formatDuration(Duration d) {
    const auto totalSeconds = d.count() / 1000;
    const auto hours = totalSeconds / 3600;
    const auto minutes = (totalSeconds % 3600) / 60;
    const auto seconds = totalSeconds % 60;
    std::ostringstream os;
    if (hours > 0) os << hours << "h ";
    if (hours > 0 || minutes > 0) os << minutes << "m ";
    os << seconds << "s";
    return os.str();
}

std::string transportText(const std::optional<Transport>& t) {
    if (!t) return "none";
    return t->type + " " + t->liveKitServiceUrl().value_or("");
}

std::string selectionText(const CallMembership& m) {
    if (m.kind == MembershipKind::StickyRtc) return "rtc_transports";
    if (!m.focusActive) return std::string(toString(m.kind));
    switch (m.focusActive->selection) {
        case FocusSelection::OldestMembership:
            return "oldest_membership";
        case FocusSelection::MultiSfu:
            return "multi_sfu";
        case FocusSelection::Unknown:
            return "unknown";
    }
    return "unknown";
}

struct Dump {
    std::optional<RoomId> room;
    std::optional<TimePoint> now;
    std::vector<RoomEvent> events;
    std::vector<std::string> problems;  // events that could not be read at all
};

Dump readDump(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CliError{"cannot open '" + path + "'"};
    const Json doc = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) throw CliError{"'" + path + "' is not valid JSON"};
    Dump dump;
    const Json* events = &doc;
    if (doc.is_object()) {
        if (auto r = doc.find("room_id"); r != doc.end() && r->is_string())
            dump.room = RoomId(r->get<std::string>());
        if (auto n = doc.find("now"); n != doc.end() && n->is_number_integer())
            dump.now = fromUnixMs(n->get<std::int64_t>());
        auto e = doc.find("events");
        if (e == doc.end() || !e->is_array()) throw CliError{"'" + path + "': expected an 'events' array"};
        events = &*e;
    } else if (!doc.is_array()) {
        throw CliError{"'" + path + "': expected an object with 'events' or an array of events"};
    }
    for (std::size_t i = 0; i < events->size(); ++i) {
        auto ev = parseRoomEvent((*events)[i]);
        if (!ev) {
            dump.problems.push_back("event #" + std::to_string(i) + ": " + ev.error().message);
            continue;
        }
        dump.events.push_back(std::move(ev).value());
    }
    return dump;
}

Json membershipJson(const RoomCalls& calls, const CallMembership& m) {
    Json j{{"user_id", m.user.str()},
           {"device_id", m.device.str()},
           {"format", std::string(toString(m.kind))},
           {"created_ts", toUnixMs(m.createdTs)},
           {"expires_ts", toUnixMs(m.expiresAt)},
           {"livekit_identity", m.liveKitIdentity()},
           {"focus_selection", selectionText(m)},
           {"event_id", m.eventId.str()}};
    if (auto t = calls.transportOf(m)) j["transport"] = t->raw;
    if (m.callIntent) j["intent"] = *m.callIntent;
    return j;
}

int runInspect(const GlobalOptions& global, const std::string& path, std::optional<std::int64_t> nowArg) {
    Dump dump = readDump(path);
    const TimePoint now = nowArg ? fromUnixMs(*nowArg)
                          : dump.now
                              ? *dump.now
                              : std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
    const RoomId room = dump.room.value_or(RoomId("!unknown"));
    return printRoomReport(global, room, dump.events, now, dump.problems);
}

}  // namespace

int printRoomReport(const GlobalOptions& global, const RoomId& room,
                    const std::vector<core::RoomEvent>& events, TimePoint now,
                    std::vector<std::string> problems) {
    using namespace mxrtc::core;
    RoomCalls calls(room);
    CallHistoryBuilder history;
    std::vector<std::string> invalid = std::move(problems);
    for (const auto& ev : events) {
        auto r = calls.apply(ev, std::min(ev.originServerTs, now));
        if (r.error)
            invalid.push_back(ev.eventId.str() + " from " + ev.sender.str() + ": " + r.error->message);
        (void)history.add(ev);
    }
    (void)calls.expire(now);
    const CallHistory h = history.finish(now);

    if (global.json) {
        Json out{{"room_id", room.str()},
                 {"now", toUnixMs(now)},
                 {"sessions", Json::array()},
                 {"history", Json::array()},
                 {"invalid_events", invalid}};
        for (const auto& slot : calls.activeSlots()) {
            Json s{{"slot_id", slot.str()}, {"members", Json::array()}};
            if (auto f = calls.focusForJoiner(slot, std::nullopt)) s["focus"] = f->raw;
            if (auto intent = calls.callIntent(slot)) s["intent"] = *intent;
            for (const auto* m : calls.members(slot))
                s["members"].push_back(membershipJson(calls, *m));
            out["sessions"].push_back(std::move(s));
        }
        for (const auto& c : h.calls) {
            Json call{{"slot_id", c.slot.str()},
                      {"start", toUnixMs(c.start)},
                      {"end", c.end ? Json(toUnixMs(*c.end)) : Json(nullptr)},
                      {"duration_ms", c.duration(now).count()},
                      {"participants", Json::array()},
                      {"devices", Json::array()}};
            for (const auto& p : c.participants)
                call["participants"].push_back(p.str());
            for (const auto& i : c.intervals) {
                call["devices"].push_back(Json{{"user_id", i.user.str()},
                                               {"device_id", i.device.str()},
                                               {"start", toUnixMs(i.start)},
                                               {"end", i.end ? Json(toUnixMs(*i.end)) : Json(nullptr)},
                                               {"end_reason", std::string(toString(i.endReason))}});
            }
            out["history"].push_back(std::move(call));
        }
        std::cout << out.dump(2) << "\n";
        return 0;
    }

    std::cout << "Room " << room << " at " << formatTime(now) << " UTC\n\n";
    const auto slots = calls.activeSlots();
    std::cout << "Active calls: " << slots.size() << "\n";
    for (const auto& slot : slots) {
        const auto members = calls.members(slot);
        std::cout << "  " << slot << ": " << members.size() << " member(s)";
        if (auto intent = calls.callIntent(slot)) std::cout << ", intent " << *intent;
        std::cout << "\n    focus for new joiners (oldest membership): "
                  << transportText(calls.focusForJoiner(slot, std::nullopt)) << "\n";
        int n = 0;
        for (const auto* m : members) {
            std::cout << "    " << ++n << ". " << m->user << " " << m->device << "  [" << toString(m->kind)
                      << ", " << selectionText(*m) << "]\n"
                      << "       since " << formatTime(m->createdTs) << ", expires "
                      << formatTime(m->expiresAt) << "\n       publishes on "
                      << transportText(calls.transportOf(*m)) << "\n       livekit identity "
                      << m->liveKitIdentity() << "\n";
        }
    }
    // What a reader understands. A leave through the delayed event cannot be told from a timeout:
    // clients end a call by firing their own delayed leave (js-sdk, Element Call, mxrtc).
    bool ambiguous = false;
    const auto endText = [&](core::IntervalEnd e) -> std::string {
        switch (e) {
            case core::IntervalEnd::Ongoing:
                return "in the call";
            case core::IntervalEnd::Left:
                return "left";
            case core::IntervalEnd::DelayedLeave:
                ambiguous = true;
                return "left or timed out*";
            case core::IntervalEnd::Expired:
                return "expired (vanished without a delayed leave)";
            case core::IntervalEnd::RoomLeft:
                return "left the room";
            case core::IntervalEnd::Rejoined:
                return "rejoined";
        }
        return std::string(toString(e));
    };
    std::cout << "\nCall history: " << h.calls.size() << " call(s)\n";
    for (const auto& c : h.calls) {
        std::cout << "  " << c.slot << "  " << formatTime(c.start) << " -> "
                  << (c.end ? formatTime(*c.end) : std::string("ongoing")) << "  ("
                  << formatDuration(c.duration(now)) << ")  " << c.participants.size() << " participant(s)";
        if (c.callIntent) std::cout << ", " << *c.callIntent;
        std::cout << "\n";
        for (const auto& i : c.intervals) {
            std::cout << "    " << i.user << " " << i.device << "  " << formatTime(i.start) << " -> "
                      << (i.end ? formatTime(*i.end) : std::string("now")) << "  "
                      << formatDuration(i.duration(now)) << "  " << endText(i.endReason) << "\n";
        }
    }
    if (ambiguous)
        std::cout << "  * ended by the member's delayed leave (MSC4140): a clean leave and a client that "
                     "crashed or lost the network look the same to the homeserver\n";
    if (!invalid.empty()) {
        std::cout << "\nIgnored invalid events: " << invalid.size() << "\n";
        for (const auto& p : invalid)
            std::cout << "  " << p << "\n";
    }
    return 0;
}

void registerInspect(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto* cmd =
        app.add_subcommand("inspect", "Show the calls and call history of a room from a JSON event dump");
    auto path = std::make_shared<std::string>();
    auto now = std::make_shared<std::int64_t>(0);
    cmd->add_option("dump", *path, "JSON file: {\"room_id\", \"now\", \"events\": [...]} or [events...]")
        ->required();
    cmd->add_option("--now", *now,
                    "evaluate at this Unix time in ms (default: the dump's 'now', else the clock)");
    cmd->callback([&global, &action, path, now] {
        action = [&global, path, now] {
            return runInspect(global, *path, *now ? std::optional<std::int64_t>(*now) : std::nullopt);
        };
    });
}

}  // namespace mxrtc::cli
