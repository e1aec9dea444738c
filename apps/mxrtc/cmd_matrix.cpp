// Online commands: login, rooms, create-room, join-room, leave-call, sessions, history,
// ring, wait-ring, decline. Each runs one coroutine on a fresh io_context; the session (token,
// device) lives in the profile's SQLite store and is never printed.
#include <openssl/rand.h>
#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "mxrtc/call/ring.hpp"
#include "mxrtc/core/membership.hpp"
#include "mxrtc/core/membership_wire.hpp"
#include "mxrtc/core/notification.hpp"
#include "mxrtc/core/ring.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/history.hpp"
#include "mxrtc/matrix/store.hpp"

namespace mxrtc::cli {

// ---- profile and session (shared with cmd_doctor.cpp) ---------------------------------------

std::string profileDir(const GlobalOptions& g) {
    if (!g.profile.empty()) return g.profile;
    if (const char* env = std::getenv("MXRTC_PROFILE"); env != nullptr && *env != '\0') return env;
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : ".") + "/.local/share/mxrtc/default";
}

std::unique_ptr<matrix::Store> openStore(const GlobalOptions& g) {
    const std::string dir = profileDir(g);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw CliError{"cannot create the profile directory " + dir + ": " + ec.message()};
    auto store = matrix::Store::open(dir + "/session.db");
    if (!store) throw CliError{store.error().message};
    return std::move(store.value());
}

matrix::LoginSession requireSession(const matrix::Store& store) {
    auto s = store.loadSession();
    if (!s)
        throw CliError{"not logged in: run `mxrtc login --homeserver URL --user NAME --password PASS` first"};
    return *s;
}

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;
using matrix::Client;
using matrix::MatrixError;

}  // namespace

void progress(const GlobalOptions& g, const std::string& text) {
    if (!g.quiet && !g.json) std::fprintf(stderr, "%s\n", text.c_str());
}

[[noreturn]] void fail(const std::string& what, const MatrixError& e) {
    std::string hint;
    if (e.kind == core::FailureKind::Network) hint = " (is the homeserver running and reachable?)";
    if (e.unknownToken) hint = " (log in again)";
    throw CliError{what + ": " + e.message + hint};
}

// Runs `body` to completion on a fresh io_context; CliError thrown inside propagates.
int runAsync(std::function<asio::awaitable<int>(asio::io_context&)> body) {
    asio::io_context io;
    int rc = 0;
    std::exception_ptr error;
    asio::co_spawn(io, body(io), [&](std::exception_ptr e, int r) {
        error = e;
        rc = r;
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return rc;
}

RoomId parseRoom(const std::string& text) {
    if (text.size() < 2 || text.front() != '!') {
        throw CliError{"'" + text +
                       "' is not a room id (expected !opaque:server; join aliases with join-room first)"};
    }
    return RoomId(text);
}

std::string isoTime(TimePoint t) {
    const std::time_t secs = static_cast<std::time_t>(toUnixMs(t) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

namespace {

// ---- login / rooms -------------------------------------------------------------------------------

int runLogin(const GlobalOptions& g, std::string homeserver, std::string user, std::string password,
             bool create) {
    auto store = openStore(g);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        if (homeserver.find("://") == std::string::npos) {
            // A server name: discover the client base URL through .well-known.
            net::HttpClient http(io.get_executor());
            auto wk = co_await Client::wellKnown(http, "https://" + homeserver);
            if (auto* e = std::get_if<MatrixError>(&wk))
                fail("cannot discover the homeserver of " + homeserver, *e);
            const Json& j = std::get<Json>(wk);
            homeserver = j.value("/m.homeserver/base_url"_json_pointer, std::string());
            if (homeserver.empty())
                throw CliError{".well-known of " + homeserver + " has no m.homeserver.base_url"};
        }
        Client client(io.get_executor(), homeserver);
        progress(g, std::string(create ? "registering" : "logging in") + " at " + homeserver + " ...");
        matrix::MxResult<matrix::LoginSession> r = MatrixError{};
        if (create) {
            r = co_await client.registerUser(user, password);
        } else {
            r = co_await client.login(user, password);
        }
        if (auto* e = std::get_if<MatrixError>(&r)) fail(create ? "registration failed" : "login failed", *e);
        const auto& s = std::get<matrix::LoginSession>(r);
        auto saved = store->saveSession(s);
        if (!saved) throw CliError{saved.error().message};
        if (g.json) {
            std::cout << Json{{"user_id", s.userId.str()},
                              {"device_id", s.deviceId.str()},
                              {"homeserver", homeserver}}
                             .dump()
                      << "\n";
        } else {
            std::cout << "logged in as " << s.userId << " (device " << s.deviceId << ")\n";
        }
        co_return 0;
    });
}

int runRooms(const GlobalOptions& g) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        auto r = co_await client.joinedRooms();
        if (auto* e = std::get_if<MatrixError>(&r)) fail("cannot list rooms", *e);
        const Json rooms = std::get<Json>(r).value("joined_rooms", Json::array());
        if (g.json) {
            std::cout << rooms.dump() << "\n";
        } else {
            for (const auto& room : rooms)
                std::cout << room.get<std::string>() << "\n";
        }
        co_return 0;
    });
}

int runCreateRoom(const GlobalOptions& g, const std::string& name, const std::vector<std::string>& invites,
                  bool isPrivate) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        // Public by default (anyone may join the call); private rooms are needed for 1:1 calls,
        // since Synapse refuses m.call.invite in public rooms.
        Json body{
            {"preset", isPrivate ? "private_chat" : "public_chat"}, {"name", name}, {"invite", invites}};
        // Members may write their own call-member state (power level 0), as Element Call rooms do.
        body["power_level_content_override"] = {
            {"events",
             {{std::string(core::membership_wire::kCallMemberType), 0},
              {std::string(core::notification_wire::kNotificationType), 0},
              {std::string(core::notification_wire::kDeclineType), 0}}}};
        auto r = co_await client.createRoom(body);
        if (auto* e = std::get_if<MatrixError>(&r)) fail("cannot create the room", *e);
        const auto& room = std::get<RoomId>(r);
        if (g.json) {
            std::cout << Json{{"room_id", room.str()}}.dump() << "\n";
        } else {
            std::cout << room << "\n";
        }
        co_return 0;
    });
}

int runJoinRoom(const GlobalOptions& g, const std::string& room) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        auto r = co_await client.joinRoom(room);
        if (auto* e = std::get_if<MatrixError>(&r)) fail("cannot join " + room, *e);
        if (g.json) {
            std::cout << Json{{"room_id", std::get<RoomId>(r).str()}}.dump() << "\n";
        } else {
            std::cout << std::get<RoomId>(r) << "\n";
        }
        co_return 0;
    });
}

// ---- calls ---------------------------------------------------------------------------------------

int runLeaveCall(const GlobalOptions& g, const std::string& roomText) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(roomText);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        const std::string key = core::sessionStateKey(session.userId, session.deviceId, "m.call", "");
        auto r = co_await client.sendState(room, std::string(core::membership_wire::kCallMemberType), key,
                                           core::sessionLeaveContent());
        if (auto* e = std::get_if<MatrixError>(&r)) fail("cannot leave the call", *e);
        if (!g.quiet && !g.json) std::cout << "left the call in " << room << "\n";
        if (g.json) std::cout << Json{{"left", true}, {"room_id", room.str()}}.dump() << "\n";
        co_return 0;
    });
}

// Room report from live data: current state (sessions) and, for history, the member events of
// the timeline (paginated backwards).
int runReport(const GlobalOptions& g, const std::string& roomText, bool history, int maxEvents) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(roomText);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        std::vector<core::RoomEvent> events;
        if (history) {
            progress(g, "reading the call-member history of " + room.str() + " ...");
            auto read = co_await matrix::readCallHistory(client, room, maxEvents);
            if (auto* e = std::get_if<MatrixError>(&read))
                fail("cannot read the history of " + room.str(), *e);
            events = std::move(std::get<std::vector<core::RoomEvent>>(read));
        } else {
            auto state = co_await client.roomState(room);
            if (auto* e = std::get_if<MatrixError>(&state))
                fail("cannot read the state of " + room.str(), *e);
            events = std::move(std::get<std::vector<core::RoomEvent>>(state));
            std::sort(events.begin(), events.end(), [](const core::RoomEvent& a, const core::RoomEvent& b) {
                return a.originServerTs < b.originServerTs;
            });
        }
        co_return printRoomReport(g, room, events, matrix::wallClockNow(), {});
    });
}

// ---- ringing (mxrtc::call::ring / waitForRing) ------------------------------------------------

int runRing(const GlobalOptions& g, const std::string& roomText, const std::vector<std::string>& to,
            std::int64_t lifetimeMs, const std::string& intent, bool wait) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(roomText);
    if (lifetimeMs <= 0 || lifetimeMs > 120'000) throw CliError{"--lifetime must be within 1..120000 ms"};
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        call::RingOptions options;
        for (const auto& u : to)
            options.to.emplace_back(u);
        options.lifetime = Duration{lifetimeMs};
        if (!intent.empty()) options.intent = intent;
        options.waitForOutcome = wait;
        if (wait) progress(g, "ringing for up to " + std::to_string(lifetimeMs / 1000) + " s ...");
        auto r = co_await call::ring(client, session, room, options);
        if (!r) throw CliError{r.error().message};
        const auto& res = r.value();
        if (g.json) {
            Json j{{"event_id", res.notification.str()}, {"lifetime_ms", lifetimeMs}};
            if (wait) j["outcome"] = std::string(call::toString(res.outcome));
            if (res.by) j["by"] = res.by->str();
            std::cout << j.dump() << "\n";
        } else if (!wait) {
            std::cout << "ringing (" << res.notification << ", " << lifetimeMs / 1000 << " s)\n";
        } else {
            std::cout << call::toString(res.outcome) << (res.by ? " by " + res.by->str() : std::string())
                      << "\n";
        }
        // --wait: 0 answered, 3 declined, 4 timed out (scripts can branch on it).
        if (!wait || res.outcome == call::RingOutcome::Answered) co_return 0;
        co_return res.outcome == call::RingOutcome::Declined ? 3 : 4;
    });
}

// Follows the room and reports incoming rings (and declines them with --decline).
int runWaitRing(const GlobalOptions& g, const std::string& roomText, double timeoutS, bool declineIt) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(roomText);
    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        call::WaitForRingOptions options;
        options.timeout = Duration{static_cast<std::int64_t>(timeoutS * 1000)};
        options.decline = declineIt;
        options.onRing = [&g](const call::IncomingCall& c) {
            if (g.json) {
                std::cout << Json{{"event", "ringing"},
                                  {"from", c.caller.str()},
                                  {"notification", c.notification.str()},
                                  {"until", toUnixMs(c.until)}}
                                 .dump()
                          << std::endl;
            } else {
                std::cout << isoTime(matrix::wallClockNow()) << " ringing: " << c.caller << " calls ("
                          << c.notification << ")" << std::endl;
            }
        };
        auto r = co_await call::waitForRing(client, session, room, options);
        if (!r) throw CliError{r.error().message};
        if (!r.value()) {
            if (!g.json) std::cerr << "mxrtc: no ring within " << timeoutS << " s" << std::endl;
            co_return 2;
        }
        const auto reason = std::string(core::toString(*r.value()));
        if (g.json) {
            std::cout << Json{{"event", "ring_stopped"}, {"reason", reason}}.dump() << std::endl;
        } else {
            std::cout << isoTime(matrix::wallClockNow()) << " ring stopped: " << reason << std::endl;
        }
        co_return 0;
    });
}

}  // namespace

void registerMatrixCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
    {
        auto* cmd =
            app.add_subcommand("login", "Log in (or --register) and remember the session in the profile");
        auto hs = std::make_shared<std::string>();
        auto user = std::make_shared<std::string>();
        auto password = std::make_shared<std::string>();
        auto reg = std::make_shared<bool>(false);
        cmd->add_option("--homeserver", *hs, "base URL (http://127.0.0.1:8008) or server name (.well-known)")
            ->required();
        cmd->add_option("--user", *user, "user name or full user id")->required();
        cmd->add_option("--password", *password, "password (or env MXRTC_PASSWORD)")
            ->envname("MXRTC_PASSWORD")
            ->required();
        cmd->add_flag("--register", *reg, "create the account first (servers with open registration)");
        cmd->callback([&global, &action, hs, user, password, reg] {
            action = [&global, hs, user, password, reg] {
                return runLogin(global, *hs, *user, *password, *reg);
            };
        });
    }
    {
        auto* cmd = app.add_subcommand("rooms", "List joined rooms");
        cmd->callback([&global, &action] { action = [&global] { return runRooms(global); }; });
    }
    {
        auto* cmd = app.add_subcommand("create-room", "Create a room where members may join calls");
        auto name = std::make_shared<std::string>("mxrtc call");
        auto invites = std::make_shared<std::vector<std::string>>();
        auto isPrivate = std::make_shared<bool>(false);
        cmd->add_option("--name", *name, "room name");
        cmd->add_option("--invite", *invites, "users to invite");
        cmd->add_flag(
            "--private", *isPrivate,
            "invite-only room (needed for 1:1 calls: Synapse refuses call invites in public rooms)");
        cmd->callback([&global, &action, name, invites, isPrivate] {
            action = [&global, name, invites, isPrivate] {
                return runCreateRoom(global, *name, *invites, *isPrivate);
            };
        });
    }
    {
        auto* cmd = app.add_subcommand("join-room", "Join a room by id or alias");
        auto room = std::make_shared<std::string>();
        cmd->add_option("room", *room, "room id or alias")->required();
        cmd->callback(
            [&global, &action, room] { action = [&global, room] { return runJoinRoom(global, *room); }; });
    }
    {
        auto* cmd = app.add_subcommand("leave-call", "Remove this device's membership from the room's call");
        auto room = std::make_shared<std::string>();
        cmd->add_option("room", *room, "room id")->required();
        cmd->callback(
            [&global, &action, room] { action = [&global, room] { return runLeaveCall(global, *room); }; });
    }
    {
        auto* cmd = app.add_subcommand("sessions", "Show the room's current calls, members and focus");
        auto room = std::make_shared<std::string>();
        cmd->add_option("room", *room, "room id")->required();
        cmd->callback([&global, &action, room] {
            action = [&global, room] { return runReport(global, *room, false, 0); };
        });
    }
    {
        auto* cmd = app.add_subcommand("history", "Show the room's call history from its member events");
        auto room = std::make_shared<std::string>();
        auto max = std::make_shared<int>(5000);
        cmd->add_option("room", *room, "room id")->required();
        cmd->add_option("--max-events", *max, "read at most this many member events");
        cmd->callback([&global, &action, room, max] {
            action = [&global, room, max] { return runReport(global, *room, true, *max); };
        });
    }
    {
        auto* cmd = app.add_subcommand("ring", "Ring the room's members (MSC4075 rtc.notification)");
        auto room = std::make_shared<std::string>();
        auto to = std::make_shared<std::vector<std::string>>();
        auto lifetime = std::make_shared<std::int64_t>(30'000);
        auto intent = std::make_shared<std::string>("audio");
        cmd->add_option("room", *room, "room id")->required();
        cmd->add_option("--to", *to, "users to ring (default: @room)");
        cmd->add_option("--lifetime", *lifetime, "ring for this many ms (max 120000)");
        cmd->add_option("--intent", *intent, "audio|video");
        auto wait = std::make_shared<bool>(false);
        cmd->add_flag("--wait", *wait,
                      "follow the ring: print answered / declined / timed_out (exit 0 / 3 / 4)");
        cmd->callback([&global, &action, room, to, lifetime, intent, wait] {
            action = [&global, room, to, lifetime, intent, wait] {
                return runRing(global, *room, *to, *lifetime, *intent, *wait);
            };
        });
    }
    for (bool declineIt : {false, true}) {
        auto* cmd =
            declineIt
                ? app.add_subcommand("decline", "Wait for a ring in the room and decline it (MSC4310)")
                : app.add_subcommand("wait-ring", "Wait for a ring in the room and report it until it stops");
        auto room = std::make_shared<std::string>();
        auto timeout = std::make_shared<double>(60);
        cmd->add_option("room", *room, "room id")->required();
        cmd->add_option("--timeout", *timeout, "give up after this many seconds");
        cmd->callback([&global, &action, room, timeout, declineIt] {
            action = [&global, room, timeout, declineIt] {
                return runWaitRing(global, *room, *timeout, declineIt);
            };
        });
    }
}

}  // namespace mxrtc::cli
