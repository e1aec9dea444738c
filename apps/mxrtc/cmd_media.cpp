#include <boost/asio/steady_timer.hpp>
#include <iostream>

#include "media_cli.hpp"

#ifdef MXRTC_HAVE_RTC
#include <boost/asio/signal_set.hpp>

#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/store.hpp"
#include "mxrtc/rtc/direct_call.hpp"
#endif

namespace mxrtc::cli {

using Json = nlohmann::json;

#ifndef MXRTC_HAVE_RTC

void registerMediaCommands(CLI::App&, const GlobalOptions&, Action&) {}  // no media: no call/answer

#else

namespace {

struct DirectCallCli {
    std::string room;
    std::string to;
    double duration = 0;  // place: hang up after this many seconds of call; 0 = until Ctrl-C / their hangup
    double wait = 60;     // answer: how long to wait for an invite
    std::int64_t lifetimeMs = 60'000;
    std::string recordDir;
    double statsInterval = 1.0;
    std::vector<std::string> iceAddresses;
    std::string stunServer;
};

int runDirectCall(const GlobalOptions& g, const DirectCallCli& o, bool placing) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(o.room);
    checkIceAddresses(o.iceAddresses);
    if (!o.to.empty() && (o.to.front() != '@' || o.to.find(':') == std::string::npos))
        throw CliError{"--to must be a user id like @bob:example.org"};
    return runAsync([&](boost::asio::io_context& io) -> boost::asio::awaitable<int> {
        matrix::Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        auto engine = rtc::MediaEngine::create(io.get_executor());
        if (!engine) throw CliError{"cannot start the media engine: " + engine.error().message};
        rtc::DirectCallOptions options;
        options.room = room;
        options.media.dataChannel = false;
        options.media.recordDir = o.recordDir;
        options.media.streamId = "mxrtc-" + session.deviceId.str();
        if (!o.iceAddresses.empty()) options.media.iceAddresses = o.iceAddresses;
        options.media.stunServer = o.stunServer;
        std::size_t h = std::hash<std::string>{}(session.deviceId.str());
        options.media.toneFrequency = 300.0 + static_cast<double>(h % 601);
        options.peer.inviteLifetime = Duration{o.lifetimeMs};
        if (!o.to.empty()) options.invitee = UserId(o.to);
        auto call = std::make_unique<rtc::DirectCall>(
            client, session, **engine, options, [&g](const rtc::DirectCallEvent& e) {
                static constexpr const char* kinds[] = {"incoming", "call_state", "call_ended",
                                                        "dropped",  "warning",    "remote_media"};
                if (g.json) {
                    Json j{{"event", kinds[static_cast<int>(e.kind)]},
                           {"detail", e.detail},
                           {"ts", toUnixMs(matrix::wallClockNow())}};
                    if (!e.user.empty()) j["user_id"] = e.user;
                    std::cout << j.dump() << std::endl;
                } else if (e.kind == rtc::DirectCallEvent::Kind::Warning) {
                    if (!g.quiet) std::cerr << "warning: " << e.detail << std::endl;
                } else if (e.kind != rtc::DirectCallEvent::Kind::Dropped) {
                    std::cout << kinds[static_cast<int>(e.kind)] << " " << e.user << " " << e.detail
                              << std::endl;
                }
            });
        const auto report = [&](bool final) {
            auto s = call->stats();
            auto st = call->state();
            if (!s || !st) return;
            call::ParticipantMedia m;
            m.user = call->remote().value_or(UserId());
            m.state = std::string(core::toString(*st));
            m.stats = {.audioBuffers = s->audioBuffersDecoded,
                       .audioRms = s->audioRms,
                       .audioHz = s->audioHz,
                       .videoFrames = s->videoFramesDecoded,
                       .videoKeyFrames = s->videoKeyFrames,
                       .framesEncrypted = s->framesEncrypted,
                       .framesDecrypted = s->framesDecrypted,
                       .decryptFailures = s->decryptFailures};
            printMediaReport(g, final, m);
        };
        boost::asio::steady_timer stats(io);
        std::function<void()> arm = [&] {
            if (o.statsInterval <= 0) return;
            stats.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(o.statsInterval * 1000)));
            stats.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                if (call->state() == core::CallState::Connected) report(false);
                arm();
            });
        };
        arm();
        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (!ec) call->hangup();
        });
        // --duration counts from the moment the call connects.
        boost::asio::steady_timer deadline(io);
        std::function<void()> watchConnect = [&] {
            deadline.expires_after(std::chrono::milliseconds(50));
            deadline.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                if (call->state() != core::CallState::Connected) return watchConnect();
                if (o.duration <= 0) return;
                deadline.expires_after(
                    std::chrono::milliseconds(static_cast<std::int64_t>(o.duration * 1000)));
                deadline.async_wait([&](const boost::system::error_code& ec2) {
                    if (!ec2) {
                        report(true);
                        call->hangup();
                    }
                });
            });
        };
        watchConnect();
        progress(g, placing ? "calling in " + room.str() + " (Ctrl-C hangs up)"
                            : "waiting for a call in " + room.str() + " (Ctrl-C stops)");
        int rc = placing ? co_await call->place()
                         : co_await call->answer(Duration{static_cast<std::int64_t>(o.wait * 1000)});
        signals.cancel();
        deadline.cancel();
        stats.cancel();
        if (rc != 0) {
            std::string why = "the call did not connect";
            if (auto end = call->ended()) {
                why += ": " + std::string(core::toString(end->reason)) + (end->rejected ? " (rejected)" : "");
            } else if (!placing && !call->state()) {
                why = "no call came in";
            }
            call.reset();
            throw CliError{why};
        }
        progress(g, "call ended");
        call.reset();
        co_return 0;
    });
}

}  // namespace

void registerMediaCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
    for (bool placing : {true, false}) {
        auto* cmd = placing
                        ? app.add_subcommand("call", "Place a 1:1 call (MSC2746 room events) with test media")
                        : app.add_subcommand("answer", "Wait for a 1:1 call in a room and answer it");
        auto o = std::make_shared<DirectCallCli>();
        cmd->add_option("room", o->room, "room id")->required();
        if (placing) {
            cmd->add_option("--to", o->to, "user to call (default: anyone in the room)");
            cmd->add_option("--lifetime-ms", o->lifetimeMs, "how long the invite rings");
        } else {
            cmd->add_option("--wait", o->wait, "seconds to wait for an invite");
        }
        cmd->add_option("--duration", o->duration, "hang up this many seconds after connecting");
        cmd->add_option("--record", o->recordDir, "write what the other side sends into DIR");
        cmd->add_option("--stats-interval", o->statsInterval, "seconds between media reports (0 = none)");
        cmd->add_option("--ice-address", o->iceAddresses,
                        "local address to offer ICE candidates on (repeatable; default 127.0.0.1)");
        cmd->add_option("--stun", o->stunServer, "STUN server, stun://host:port")
            ->check(CLI::Validator(
                [](std::string& v) {
                    return v.starts_with("stun://") ? std::string() : std::string("must start with stun://");
                },
                "stun://HOST:PORT"));
        cmd->callback([&global, &action, o, placing] {
            action = [&global, o, placing] { return runDirectCall(global, *o, placing); };
        });
    }
}

#endif

}  // namespace mxrtc::cli
