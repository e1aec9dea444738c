// mxrtc_consumer: a small application built against an installed mxrtc (find_package(mxrtc),
// target mxrtc::call). It logs in to a homeserver, joins a room's MatrixRTC call for a few seconds,
// prints what the call reports and leaves.
//
//   mxrtc_consumer HOMESERVER USER PASSWORD [--room ROOM] [--seconds N] [--media test]
//                  [--e2ee PROFILE_DIR]
//
// Without --room it creates a room. --media test joins a full-mesh call (mesh focus) sending a test
// tone and pattern; otherwise the call carries membership (and keys) only. Exit status 0 when our
// own membership was seen in the call and the call was left cleanly.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <variant>

#include "mxrtc/call/call.hpp"
#include "mxrtc/version.hpp"

namespace asio = boost::asio;
using namespace mxrtc;

namespace {

struct Options {
    std::string homeserver, user, password, room, profileDir;
    int seconds = 3;
    bool testMedia = false;
};

int usage() {
    std::cerr << "usage: mxrtc_consumer HOMESERVER USER PASSWORD [--room ROOM] [--seconds N] [--media test]"
                 " [--e2ee PROFILE_DIR]\n";
    return 2;
}

asio::awaitable<int> joinBriefly(const Options& o) {
    auto executor = co_await asio::this_coro::executor;
    matrix::Client client(executor, o.homeserver);
    auto login = co_await client.login(o.user, o.password);
    if (const auto* error = std::get_if<matrix::MatrixError>(&login)) {
        std::cerr << "consumer: login failed: " << error->message << "\n";
        co_return 1;
    }
    const auto session = std::get<matrix::LoginSession>(login);
    client.setAccessToken(session.accessToken);
    std::cout << "logged in as " << session.userId.str() << "\n";

    RoomId room{o.room};
    if (o.room.empty()) {
        // Built outside the co_await: GCC 12 rejects string-literal initializer lists in one.
        const nlohmann::json body = {{"preset", "private_chat"}, {"name", "mxrtc consumer"}};
        auto created = co_await client.createRoom(body);
        if (const auto* error = std::get_if<matrix::MatrixError>(&created)) {
            std::cerr << "consumer: cannot create a room: " << error->message << "\n";
            co_return 1;
        }
        room = std::get<RoomId>(created);
    }

    call::CallConfig config;
    config.room = room;
    if (o.testMedia) {
        config.focus.kind = call::FocusConfig::Kind::Mesh;
        config.media.source = call::MediaSource::Test;
    }
    if (!o.profileDir.empty()) {
        config.e2ee = true;
        config.profileDir = o.profileDir;
    }
    bool joined = false;
    auto made = co_await call::Call::create(client, session, config, [&](const call::CallEvent& event) {
        std::cout << "event: " << call::eventName(event);
        if (const auto* m = std::get_if<call::MemberJoined>(&event)) {
            std::cout << " " << m->user.str() << " " << m->device.str() << (m->self ? " (us)" : "");
            joined = joined || m->self;
        } else if (const auto* s = std::get_if<call::MembershipStatusChanged>(&event)) {
            std::cout << " " << core::toString(s->status);
        } else if (const auto* f = std::get_if<call::CallFailed>(&event)) {
            std::cout << " " << f->reason;
        }
        std::cout << std::endl;
    });
    if (!made) {
        std::cerr << "consumer: cannot start the call: " << made.error().message << "\n";
        co_return 1;
    }
    auto& c = *made.value();
    std::cout << "joining the call in " << room.str() << " for " << o.seconds << " s\n";

    asio::steady_timer timer(executor, std::chrono::seconds(o.seconds));
    timer.async_wait([&c](const boost::system::error_code& ec) {
        if (!ec) c.leave();
    });
    const int rc = co_await c.run();
    timer.cancel();
    std::cout << "left the call (run() = " << rc << ")\n";
    if (!joined) std::cerr << "consumer: our own membership never showed up in the call\n";
    co_return rc == 0 && joined ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::cout << "mxrtc " << mxrtc::kVersion << " consumer" << std::endl;
    if (argc < 4) return usage();
    Options o;
    o.homeserver = argv[1];
    o.user = argv[2];
    o.password = argv[3];
    for (int i = 4; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool hasValue = i + 1 < argc;
        if (arg == "--room" && hasValue) {
            o.room = argv[++i];
        } else if (arg == "--seconds" && hasValue) {
            o.seconds = std::stoi(argv[++i]);
        } else if (arg == "--media" && hasValue && std::string_view(argv[i + 1]) == "test") {
            o.testMedia = true;
            ++i;
        } else if (arg == "--e2ee" && hasValue) {
            o.profileDir = argv[++i];
        } else {
            return usage();
        }
    }
    int rc = 1;
    try {
        asio::io_context io;
        asio::co_spawn(io, joinBriefly(o), [&rc](std::exception_ptr e, int r) {
            if (e) std::rethrow_exception(e);
            rc = r;
        });
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "consumer: " << e.what() << "\n";
        return 1;
    }
    return rc;
}
