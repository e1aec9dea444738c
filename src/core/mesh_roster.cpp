#include "mxrtc/core/mesh_roster.hpp"

#include <algorithm>

namespace mxrtc::core {

Transport meshTransport() {
    return Transport{"mesh", nlohmann::json{{"type", "mesh"}}};
}

bool announcesMesh(const CallMembership& m) {
    if (m.focusActive && m.focusActive->type == "mesh") return true;
    return std::any_of(m.transports.begin(), m.transports.end(),
                       [](const Transport& t) { return t.type == "mesh"; });
}

std::string meshSessionOf(const CallMembership& m) {
    const std::string id = m.memberId ? m.memberId->str() : m.user.str() + ":" + m.device.str();
    return id + "@" + std::to_string(m.createdTs.time_since_epoch().count());
}

MeshRoster meshRosterOf(const std::vector<const CallMembership*>& memberships, const UserId& selfUser,
                        const DeviceId& selfDevice) {
    MeshRoster roster;
    for (const auto* m : memberships) {
        if (m == nullptr) continue;
        if (m->user == selfUser && m->device == selfDevice) {
            roster.ownSession = meshSessionOf(*m);
            continue;
        }
        if (!announcesMesh(*m)) continue;
        roster.members.push_back(MeshMember{m->user, m->device, meshSessionOf(*m)});
    }
    return roster;
}

bool isCallSignallingType(std::string_view type) {
    return type.starts_with("m.call.") || type.starts_with("org.matrix.call.");
}

std::string_view toString(SignallingVerdict v) {
    switch (v) {
        case SignallingVerdict::Accept:
            return "accepted";
        case SignallingVerdict::NotSignalling:
            return "not call signalling";
        case SignallingVerdict::DeviceMismatch:
            return "device_id does not match the Olm-verified sending device";
        case SignallingVerdict::PlaintextRefused:
            return "plaintext signalling refused";
    }
    return "unknown";
}

SignallingVerdict admitSignalling(const SignallingOrigin& origin, std::string_view type,
                                  const nlohmann::json& content, bool requireEncrypted) {
    if (!isCallSignallingType(type)) return SignallingVerdict::NotSignalling;
    if (origin.encrypted) {
        const auto it = content.is_object() ? content.find("device_id") : content.end();
        if (it == content.end() || !it->is_string() || origin.senderDevice.str().empty() ||
            it->get_ref<const std::string&>() != origin.senderDevice.str())
            return SignallingVerdict::DeviceMismatch;
        return SignallingVerdict::Accept;
    }
    return requireEncrypted ? SignallingVerdict::PlaintextRefused : SignallingVerdict::Accept;
}

}  // namespace mxrtc::core
