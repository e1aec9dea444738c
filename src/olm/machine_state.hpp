// OlmMachine's private state records (shared by machine.cpp and megolm.cpp).
#pragma once

#include <map>
#include <set>
#include <string>

#include "libolm.hpp"
#include "mxrtc/olm/machine.hpp"

namespace mxrtc::olm {

struct OlmMachine::OlmSessionEntry {
    e2ee::Curve25519Key theirKey;  // the other device's identity (curve25519) key
    e2ee::OlmSessionId id;
    lib::Session session;
    std::uint64_t seq = 0;  // higher = more recently created or used to decrypt
};

struct OlmMachine::InboundGroupEntry {
    RoomId room;
    e2ee::Curve25519Key senderKey;
    e2ee::Ed25519Key senderEd25519;
    DeviceRef owner;  // the (Olm-verified) device that shared it
    e2ee::MegolmSessionId id;
    lib::InboundGroupSession session;
    std::map<std::uint32_t, std::string> seen;  // message index -> "<event_id>|<origin_server_ts>"
};

struct OlmMachine::OutboundGroupEntry {
    e2ee::MegolmSessionId id;
    lib::OutboundGroupSession session;
    TimePoint createdAt{};
    std::set<DeviceRef> sharedWith;
};

namespace detail {
inline std::string inboundKey(const RoomId& room, const e2ee::Curve25519Key& sender,
                              const e2ee::MegolmSessionId& id) {
    return room.str() + "|" + sender.str() + "|" + id.str();
}
}  // namespace detail

}  // namespace mxrtc::olm
