// Arbitrary bytes -> {"type", "content", "transport"?} -> the m.call.* parser (room and to-device)
// -> the PeerCall and MeshCall state machines.
// Invariants: no crash/UB; what parses serialises and parses back to the same value; the state
// machines never throw and a MeshCall never holds more buffered messages than configured.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/core/mesh_call.hpp"

using namespace mxrtc;
using namespace mxrtc::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return 0;
    const auto typeIt = doc.find("type");
    const auto contentIt = doc.find("content");
    if (typeIt == doc.end() || !typeIt->is_string() || contentIt == doc.end()) return 0;
    const std::string type = typeIt->get<std::string>();
    const nlohmann::json& content = *contentIt;
    const TimePoint now = fromUnixMs(1760000100000);

    for (auto transport : {CallTransport::Room, CallTransport::ToDevice}) {
        auto m = parseCallMessage(type, content, transport);
        if (!m) continue;
        auto again = parseCallMessage(type, serializeCallMessage(*m), transport);
        MXRTC_ASSERT(again.ok(), "serialised call message does not parse");
        MXRTC_ASSERT(*again == *m, "call message round trip differs");

        // As the first message of a call we receive, and as a reply to a call we placed.
        PeerCall callee(m->callId, UserId("@bob:example.org"), PartyId("BOBDEV"));
        if (m->type() == CallEventType::Invite) {
            (void)callee.onInvite(UserId("@alice:example.org"), *m, Duration{0}, now);
            (void)callee.answer(std::nullopt, now);
            (void)callee.onLocalDescription(SessionDescription{SdpType::Answer, "a"}, now);
        }
        (void)callee.onMessage(UserId("@alice:example.org"), *m, now);
        PeerCall caller(m->callId, UserId("@alice:example.org"), PartyId("ALICEDEV"));
        (void)caller.placeCall(std::nullopt, std::nullopt, now);
        (void)caller.onLocalDescription(SessionDescription{SdpType::Offer, "o"}, now);
        (void)caller.onMessage(UserId("@bob:example.org"), *m, now);
        (void)caller.onIceState(IceConnectionState::Failed, now);
        (void)caller.onMessage(UserId("@bob:example.org"), *m, now);
        (void)caller.onWakeup(now + Duration{120'000});
    }

    // Through a mesh call: the sender is a member with the session the message names (if any).
    MeshCallConfig config;
    config.maxBufferedPerSender = 4;
    MeshCall mesh(
        MeshSelf{UserId("@bob:example.org"), DeviceId("BOBDEV"), "sessB", "conf1"},
        [] { return std::string("fuzzid0001"); }, config);
    std::string senderSession = "sessA";
    std::string senderDevice = "ALICEDEV";
    if (content.is_object()) {
        if (auto s = content.find("sender_session_id"); s != content.end() && s->is_string())
            senderSession = *s;
        if (auto d = content.find("device_id"); d != content.end() && d->is_string()) senderDevice = *d;
    }
    (void)mesh.join({MeshMember{UserId("@alice:example.org"), DeviceId(senderDevice), senderSession}}, now);
    for (int i = 0; i < 3; ++i)
        (void)mesh.onToDevice(UserId("@alice:example.org"), type, content, now);
    for (const auto& p : mesh.peers()) {
        (void)mesh.onLocalDescription(p.call, SessionDescription{SdpType::Answer, "a"}, now);
        (void)mesh.onIceState(p.call, IceConnectionState::Connected, now);
    }
    (void)mesh.onMembersChanged({}, now);
    (void)mesh.onWakeup(now + Duration{60'000});
    (void)mesh.leave(now);
    return 0;
}
