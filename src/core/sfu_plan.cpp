#include "mxrtc/core/sfu_plan.hpp"

#include <algorithm>

namespace mxrtc::core {

std::vector<SfuConnectionPlan> planSfuConnections(const RoomCalls& calls, const SlotId& slot,
                                                  const UserId& selfUser, const DeviceId& selfDevice,
                                                  const std::optional<JoiningAs>& joining) {
    std::vector<SfuConnectionPlan> plan;
    const auto members = calls.members(slot);
    const auto self = std::find_if(members.begin(), members.end(), [&](const CallMembership* m) {
        return m->user == selfUser && m->device == selfDevice;
    });
    if (self == members.end() && !joining) return plan;
    const auto entry = [&](const Transport& t) -> SfuConnectionPlan* {
        if (t.type != "livekit") return nullptr;
        const auto url = t.liveKitServiceUrl();
        if (!url || url->empty()) return nullptr;
        for (auto& p : plan)
            if (p.serviceUrl == *url) return &p;
        plan.push_back(SfuConnectionPlan{t, *url, false, {}});
        return &plan.back();
    };
    std::optional<Transport> own;
    if (self != members.end()) {
        own = calls.transportOf(**self);
    } else {
        own = joining->selection == FocusSelection::MultiSfu ? std::optional(joining->transport)
                                                             : calls.focusForJoiner(slot, joining->transport);
    }
    if (own) {
        if (auto* p = entry(*own)) p->publish = true;
    }
    for (const CallMembership* m : members) {
        if (self != members.end() && m == *self) continue;
        auto t = calls.transportOf(*m);
        if (!t) continue;
        if (auto* p = entry(*t)) p->publishers.emplace_back(m->user, m->device);
    }
    return plan;
}

}  // namespace mxrtc::core
