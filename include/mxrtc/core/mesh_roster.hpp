// Mesh roster and signalling admission: the decisions the mesh shell used to make inline, pure
// and unit-tested (design/review.md item 3).
//   * Who of a call's memberships takes part in the mesh (focus_active or a transport of type
//     "mesh"), and each member's session: membership id + created_ts, so a rejoin (new created_ts)
//     is a new session and signalling addressed to the old one is dropped.
//   * Whether a received to-device call-signalling message is admitted: an Olm-encrypted message
//     must name, in `device_id`, the device Olm verified as its sender (otherwise one device of a
//     user could speak for another); plaintext is refused when encryption is required.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/core/membership.hpp"
#include "mxrtc/core/mesh_call.hpp"

namespace mxrtc::core {

// The transport a mesh member announces: {"type":"mesh"}.
Transport meshTransport();
bool announcesMesh(const CallMembership& m);
// "<member id or user:device>@<created_ts ms>".
std::string meshSessionOf(const CallMembership& m);

struct MeshRoster {
    std::optional<std::string> ownSession;  // empty: we are not (or no longer) in the call
    std::vector<MeshMember> members;        // everyone else who announces the mesh, in input order
};
MeshRoster meshRosterOf(const std::vector<const CallMembership*>& memberships, const UserId& selfUser,
                        const DeviceId& selfDevice);

bool isCallSignallingType(std::string_view type);  // m.call.* and org.matrix.call.*

// Who sent a to-device message, as the Olm layer established it.
struct SignallingOrigin {
    UserId sender;
    bool encrypted = false;
    DeviceId senderDevice;  // Olm-verified; empty when the message was not encrypted
};

enum class SignallingVerdict {
    Accept,
    NotSignalling,     // not a call-signalling type: not ours to handle
    DeviceMismatch,    // encrypted, but device_id is missing or names another device
    PlaintextRefused,  // plaintext while encrypted signalling is required
};
std::string_view toString(SignallingVerdict v);

SignallingVerdict admitSignalling(const SignallingOrigin& origin, std::string_view type,
                                  const nlohmann::json& content, bool requireEncrypted);

}  // namespace mxrtc::core
