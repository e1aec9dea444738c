// Arbitrary bytes as a media-key message (to-device or legacy room event) or key request, then
// through the KeyManager. Oracle: an accepted to-device message rebuilt by us parses back equal.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/e2ee/key_manager.hpp"

using namespace mxrtc;
using namespace mxrtc::e2ee;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto content =
        nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), nullptr, false);
    if (content.is_discarded()) return 0;
    const RoomId room("!room:example.org");
    const UserId bob("@bob:example.org");
    const TimePoint now = fromUnixMs(1760000100000);
    KeyMember self{UserId("@alice:example.org"), DeviceId("ALICEDEV"), "@alice:example.org:ALICEDEV", now,
                   "a"};
    KeyMember bobMember{bob, DeviceId("BOBDEV"), "@bob:example.org:BOBDEV", now, "b"};
    KeyManager km(self, [](std::span<std::uint8_t> b) { std::fill(b.begin(), b.end(), 7); });
    (void)km.join({bobMember}, now);

    if (auto k = parseToDeviceKeyMessage(content, {bob, true, DeviceId("")}, room, now)) {
        auto rebuilt = buildToDeviceKeyMessage(k->key, k->memberId, k->device, room, {}, now);
        auto again = parseToDeviceKeyMessage(rebuilt, {bob, true, DeviceId("")}, room, now);
        MXRTC_ASSERT(again.ok(), "rebuilt key message does not parse");
        MXRTC_ASSERT(again->key.key == k->key.key && again->key.index == k->key.index, "round trip differs");
        (void)km.onKeyReceived(*k, now);
    }
    if (auto ks = parseRoomKeyEvent(content, bob, now)) {
        for (const auto& k : *ks)
            (void)km.onKeyReceived(k, now);
    }
    if (auto req = parseKeyRequest(content, bob, room)) (void)km.onKeyRequest(*req, now);
    (void)km.onWakeup(now + Duration{120'000});
    return 0;
}
