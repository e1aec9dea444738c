// ringer: rings a user in a room (MSC4075) and reports how it ended: answered (they joined the
// room's call), declined (MSC4310) or timed out. Exit status 0 answered, 3 declined, 4 timed out.
//
//   ringer HOMESERVER USER PASSWORD ROOM CALLEE [SECONDS]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "login.hpp"
#include "mxrtc/call/ring.hpp"

using namespace mxrtc;

int main(int argc, char** argv) {
    if (argc < 6) {
        std::cerr << "usage: ringer HOMESERVER USER PASSWORD ROOM CALLEE [SECONDS]\n";
        return 2;
    }
    boost::asio::io_context io;
    int rc = 1;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            matrix::Client client(io.get_executor(), argv[1]);
            auto session = co_await logIn(client, argv[2], argv[3]);
            if (!session) co_return;
            call::RingOptions ring;
            ring.to = {UserId(argv[5])};
            ring.lifetime = Duration{(argc > 6 ? std::stoi(argv[6]) : 30) * 1000};
            ring.intent = "audio";
            auto result = co_await call::ring(client, *session, RoomId(argv[4]), ring);
            if (!result) {
                std::cerr << "cannot ring: " << result.error().message << "\n";
                co_return;
            }
            std::cout << call::toString(result->outcome);
            if (result->by) std::cout << " by " << *result->by;
            std::cout << std::endl;
            rc = result->outcome == call::RingOutcome::Answered   ? 0
                 : result->outcome == call::RingOutcome::Declined ? 3
                                                                  : 4;
        },
        boost::asio::detached);
    io.run();
    return rc;
}
