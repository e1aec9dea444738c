// record_bot: joins a room's call without sending anything and records what every participant
// sends, each to its own files (Ogg Opus + WebM VP8, playable even if the bot is killed), until
// SIGTERM or SIGINT; then it leaves the call cleanly. Participants may leave and come back: each
// stay gets new files. E2EE calls too (the Olm account lives in <dir>/profile).
//
//   record_bot HOMESERVER USER PASSWORD ROOM DIR [FOCUS]     FOCUS: mesh, or a LiveKit service URL
//                                                            (default: the homeserver's)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>

#include "login.hpp"
#include "mxrtc/call/call.hpp"

using namespace mxrtc;

int main(int argc, char** argv) {
    if (argc < 6) {
        std::cerr << "usage: record_bot HOMESERVER USER PASSWORD ROOM DIR [FOCUS]\n";
        return 2;
    }
    const std::string dir = argv[5], focus = argc > 6 ? argv[6] : "";
    std::filesystem::create_directories(dir + "/profile");
    boost::asio::io_context io;
    int rc = 1;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            matrix::Client client(io.get_executor(), argv[1]);
            auto session = co_await logIn(client, argv[2], argv[3]);
            if (!session) co_return;
            call::CallConfig config;
            config.room = RoomId(argv[4]);
            config.focus = focusFromArg(focus);
            config.media.source = call::MediaSource::Receive;  // send nothing
            config.media.recordDir = dir;                      // one file pair per participant
            config.e2ee = true;
            config.profileDir = dir + "/profile";
            auto made = co_await call::Call::create(client, *session, config, [](const call::CallEvent& e) {
                if (const auto* j = std::get_if<call::MemberJoined>(&e))
                    std::cout << "recording " << j->user << " " << j->device << std::endl;
                else if (const auto* l = std::get_if<call::MemberLeft>(&e))
                    std::cout << "left " << l->user << " " << l->device << std::endl;
                else if (const auto* f = std::get_if<call::CallFailed>(&e))
                    std::cerr << "call failed: " << f->reason << std::endl;
            });
            if (!made) {
                std::cerr << "cannot join: " << made.error().message << "\n";
                co_return;
            }
            auto& c = *made.value();
            boost::asio::signal_set stop(io, SIGINT, SIGTERM);
            stop.async_wait([&](auto ec, int) {
                if (!ec) c.leave();
            });
            rc = co_await c.run();
            stop.cancel();
            std::cout << "left the call" << std::endl;
        },
        boost::asio::detached);
    io.run();
    return rc;
}
