// Which LiveKit SFUs a member of a call connects to (spec §2.3, what Element Call 0.26 does):
// it publishes on the transport its own membership says it uses (oldest_membership: the oldest
// member's; multi_sfu: its own) and subscribes on every distinct transport another member publishes
// on — one connection per SFU, the publishing one subscribing too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/core/session.hpp"

namespace mxrtc::core {

struct SfuConnectionPlan {
    Transport transport;     // a LiveKit transport (livekit_service_url set)
    std::string serviceUrl;  // its livekit_service_url: connections are keyed by it
    bool publish = false;    // ours: publish (and subscribe) here; others: subscribe only
    std::vector<std::pair<UserId, DeviceId>> publishers;  // the other members publishing here
    friend bool operator==(const SfuConnectionPlan&, const SfuConnectionPlan&) = default;
};

// Our membership as we are writing it, before the room state shows it: lets a client connect to
// its SFU while the membership is still on its way back through /sync (what Element Call does).
struct JoiningAs {
    Transport transport;  // foci_preferred[0]
    FocusSelection selection = FocusSelection::OldestMembership;
};

// `self`: our device. Without our own membership in `slot` (not joined yet, or left) the plan is
// empty, unless `joining` says how we are joining: then we publish where that membership will
// (multi_sfu: our transport; oldest_membership: the oldest member's, ours when alone).
// Non-LiveKit transports (mesh, unknown) are ignored. Order: the publishing connection first, then
// by first appearance among the members (oldest first).
std::vector<SfuConnectionPlan> planSfuConnections(const RoomCalls& calls, const SlotId& slot,
                                                  const UserId& selfUser, const DeviceId& selfDevice,
                                                  const std::optional<JoiningAs>& joining = std::nullopt);

}  // namespace mxrtc::core
