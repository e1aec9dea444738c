// player: plays a media file (anything GStreamer decodes: audio, video or both) into a room's
// call once, and leaves when it has played.
//
//   player HOMESERVER USER PASSWORD ROOM FILE [FOCUS]       FOCUS: mesh, or a LiveKit service URL
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "login.hpp"
#include "mxrtc/call/call.hpp"

using namespace mxrtc;

int main(int argc, char** argv) {
    if (argc < 6) {
        std::cerr << "usage: player HOMESERVER USER PASSWORD ROOM FILE [FOCUS]\n";
        return 2;
    }
    const std::string focus = argc > 6 ? argv[6] : "";
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
            config.media.source = call::MediaSource::File;
            config.media.file = argv[5];
            config.media.loop = false;
            config.e2ee = true;
            config.profileDir = ".";
            call::Call* current = nullptr;
            auto made = co_await call::Call::create(client, *session, config, [&](const call::CallEvent& e) {
                if (std::holds_alternative<call::MediaEnded>(e) && current != nullptr) {
                    std::cout << "played " << argv[5] << std::endl;
                    current->leave();  // done: leave the call
                }
            });
            if (!made) {
                std::cerr << "cannot play: " << made.error().message << "\n";  // e.g. not a media file
                co_return;
            }
            current = made.value().get();
            rc = co_await current->run();
        },
        boost::asio::detached);
    io.run();
    return rc;
}
