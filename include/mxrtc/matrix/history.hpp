// The call-member history of a room, read back from the homeserver: the room's call-member
// (gen 0-2), rtc.member (gen 3) and m.room.member events, paged backwards with /messages and
// returned oldest first, ready for core::callHistory().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <vector>

#include "mxrtc/core/event.hpp"
#include "mxrtc/matrix/client.hpp"

namespace mxrtc::matrix {

// At most `maxEvents` of the newest matching events (pages of 100), oldest first. Events that do not
// parse are left out. Fails with the first page that fails.
boost::asio::awaitable<MxResult<std::vector<core::RoomEvent>>> readCallHistory(Client& client,
                                                                               const RoomId& room,
                                                                               int maxEvents);

}  // namespace mxrtc::matrix
