// Arbitrary bytes -> event JSON -> notification / legacy notify / decline parsers -> ring machines.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/core/ring.hpp"

using namespace mxrtc;
using namespace mxrtc::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto event = parseRoomEvent(text);
    if (!event) return 0;
    const TimePoint now = fromUnixMs(1760000100000);
    if (auto n = parseRtcNotification(event->content)) {
        // What we parse we can serialise, and it parses back to the same content.
        auto again = parseRtcNotification(serializeRtcNotification(*n));
        MXRTC_ASSERT(again.ok(), "serialised notification does not parse");
        MXRTC_ASSERT(serializeRtcNotification(*again) == serializeRtcNotification(*n), "round trip differs");
        (void)decideRing(*event, *n, UserId("@dave:example.org"), false, now);
    }
    if (auto n = parseLegacyNotify(event->content)) (void)serializeLegacyNotify(*n);
    (void)parseDecline(event->content);

    IncomingRing in(UserId("@dave:example.org"), DeviceId("D"));
    (void)in.onNotification(*event, false, now);
    (void)in.onDecline(*event, now);
    (void)in.onWakeup(now + Duration{200000});
    OutgoingRing out(UserId("@alice:example.org"));
    (void)out.start(EventId("$m"), {}, std::nullopt, Duration{30000}, now);
    (void)out.onNotificationSent(event->eventId, now);
    (void)out.onDecline(*event, now);
    (void)out.onMemberJoined(event->sender, now);
    (void)out.onWakeup(now + Duration{30000});
    return 0;
}
