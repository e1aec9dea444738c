// Arbitrary bytes -> event JSON -> every membership parser -> the session model.
// Invariants checked: no crash/UB, the session's member count matches members(), and the next
// expiry (if any) is not in the past after expire(now).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/core/session.hpp"

using namespace mxrtc;
using namespace mxrtc::core;

namespace {
RoomCalls& calls() {
    static RoomCalls c(RoomId("!fuzz:example.org"));
    return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto event = parseRoomEvent(text);
    if (!event) return 0;
    const TimePoint now = fromUnixMs(1760000100000);
    (void)parseMemberEvent(*event, now);
    RoomCalls& c = calls();
    (void)c.apply(*event, now);
    for (const auto& slot : c.activeSlots()) {
        MXRTC_ASSERT(c.members(slot).size() == c.memberCount(slot), "member count mismatch");
        for (const auto* m : c.members(slot))
            (void)c.transportOf(*m);
        (void)c.callIntent(slot);
    }
    (void)c.expire(now);
    if (auto next = c.nextExpiry()) MXRTC_ASSERT(*next > now, "expired membership survived expire()");
    if (c.totalMemberCount() > 10000) c = RoomCalls(RoomId("!fuzz:example.org"));
    return 0;
}
