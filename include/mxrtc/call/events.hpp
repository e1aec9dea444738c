// What a mxrtc::call::Call reports: typed facts (past tense), one struct each, in one variant.
// Keys are never given out, only their SHA-256 fingerprints and the LiveKit identity they belong to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/membership_manager.hpp"
#include "mxrtc/core/session.hpp"

namespace mxrtc::call {

// ---- the call (Matrix side) -------------------------------------------------------------------
struct MemberJoined {
    UserId user;
    DeviceId device;
    bool self = false;  // this device
    TimePoint at;       // when the membership was created
};
struct MemberLeft {
    UserId user;
    DeviceId device;
    bool self = false;
    core::LeaveReason reason = core::LeaveReason::Left;
    TimePoint at;
};
struct MembershipStatusChanged {  // our own membership: joining, connected, leaving, …
    core::MembershipStatus status;
};
struct ProbablyLeftChanged {  // requests to the homeserver keep failing: it has probably removed us
    bool probablyLeft = false;
};
struct KeyReceived {  // a member's media key, Olm-verified
    UserId user;
    DeviceId device;
    KeyIndex index;
    std::string identity;   // the LiveKit participant identity its frames are encrypted under
    std::string keySha256;  // hex fingerprint, for comparing with other implementations
};
struct OwnKeyChanged {  // we encrypt with this key (index) from now on
    KeyIndex index;
    std::string identity;
    std::string keySha256;
};
struct Warning {  // something went wrong that the call survives
    std::optional<UserId> user;
    std::optional<DeviceId> device;
    std::string text;
};
struct CallFailed {  // the call is over; run() returns 1
    std::string reason;
};

// ---- media ------------------------------------------------------------------------------------
// A remote participant's media: mesh peer calls, or a participant on a LiveKit SFU.
struct PeerStarted {
    UserId user;
    DeviceId device;
    std::string detail;  // mesh: "outbound" | "inbound"
};
struct PeerStateChanged {
    UserId user;
    DeviceId device;
    std::string state;  // mesh: core::CallState names; LiveKit: "subscribed", "connected", …
};
struct PeerEnded {
    UserId user;
    DeviceId device;
    std::string reason;
};
struct RemoteMediaChanged {  // what a participant says it sends (stream metadata / track mute)
    UserId user;
    DeviceId device;
    std::string description;
};
struct SignallingDropped {  // a signalling message we did not act on (diagnostics)
    UserId user;
    DeviceId device;
    std::string reason;
};
struct MediaEnded {      // our media source has ended: a file played once (MediaConfig::loop false)
    std::string source;  // "file <path>", or the pipeline that ended
};
struct SfuStateChanged {     // one LiveKit SFU connection: connecting, connected, resuming, …
    std::string serviceUrl;  // the focus (authorisation service) it belongs to
    std::string state;
    std::string detail;
    bool publishing = false;
};

using CallEvent = std::variant<MemberJoined, MemberLeft, MembershipStatusChanged, ProbablyLeftChanged,
                               KeyReceived, OwnKeyChanged, Warning, CallFailed, PeerStarted, PeerStateChanged,
                               PeerEnded, RemoteMediaChanged, SignallingDropped, SfuStateChanged, MediaEnded>;

// snake_case name of the event ("member_joined", "key_received", …), for logs and JSON output.
std::string_view eventName(const CallEvent& event);

// ---- media statistics ---------------------------------------------------------------------------
struct MediaStats {
    std::uint64_t audioBuffers = 0;    // decoded
    double audioRms = 0.0;             // of the last ~200 ms of decoded audio, 0..1
    double audioHz = 0.0;              // dominant frequency of the last ~0.5 s (a tone's pitch); 0 = silence
    std::uint64_t videoFrames = 0;     // decoded
    std::uint64_t videoKeyFrames = 0;  // received: periodic ones and those our requests (PLI) brought
    std::uint64_t framesEncrypted = 0;
    std::uint64_t framesDecrypted = 0;
    std::uint64_t decryptFailures = 0;  // frames dropped because they did not decrypt
};

struct ParticipantMedia {
    UserId user;
    DeviceId device;
    std::string identity;  // LiveKit identity (SFU), or "" (mesh)
    std::string state;
    MediaStats stats;
    // From the moment both memberships (theirs and ours) were seen: to their first decrypted (or,
    // without E2EE, decoded) frame, and to the media connection being up.
    std::optional<Duration> joinToFirstFrame;
    std::optional<Duration> joinToConnected;
    std::optional<Duration> joinToFirstVideo;  // first decoded video frame, same origin
};

}  // namespace mxrtc::call
