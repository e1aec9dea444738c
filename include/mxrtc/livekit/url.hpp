// The LiveKit signal URL (protocol v0, two peer connections):
//   <base>/rtc?access_token=…&protocol=17&auto_subscribe=1&sdk=cpp&version=…&os=linux
//   &adaptive_stream=0[&reconnect=1&sid=PA_…&reconnect_reason=…]
// with the query parameters livekit-server v1.13.5 reads (pkg/service/rtcservice.go, utils.go
// ParseClientInfo). Pure string building; the base URL comes from the focus / the auth service.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/common/redacted.hpp"

namespace mxrtc::livekit {

struct IceServer;

// ReconnectReason (livekit_models.proto), sent as a number in `reconnect_reason`.
enum class ReconnectReason : int {
    Unknown = 0,
    SignalDisconnected = 1,
    PublisherFailed = 2,
    SubscriberFailed = 3,
    SwitchCandidate = 4,
};

struct SignalUrlOptions {
    Redacted<std::string> accessToken;  // the JWT
    std::string sdkVersion = "0.1.0";   // `version` (ours; `sdk=cpp` is fixed)
    bool autoSubscribe = true;
    bool adaptiveStream = false;
    // Resume (OpenSocket{resume=true}): reconnect=1&sid=<participantSid>&reconnect_reason=<n>.
    bool reconnect = false;
    std::string participantSid;
    ReconnectReason reconnectReason = ReconnectReason::Unknown;
};

// `wsBaseUrl` is ws(s)://host[:port][/path] (http(s):// is turned into ws(s)://, as livekit-client
// does); an existing path is kept and "/rtc" appended to it, an existing query is kept after ours.
// Every value is percent-encoded (RFC 3986 unreserved characters stay as they are).
std::string signalUrl(std::string_view wsBaseUrl, const SignalUrlOptions& options);

// The same URL for logs: the access_token value replaced by "<redacted sha256:…>" (the token's
// fingerprint, as Redacted prints it).
std::string signalUrlForLog(std::string_view wsBaseUrl, const SignalUrlOptions& options);

// Any URL with the value of its access_token query parameter redacted the same way (for a URL
// that is only at hand as text, e.g. in an error message).
std::string redactAccessToken(std::string_view url);

// TURN relays from the JoinResponse's ice_servers, as GStreamer webrtcbin's add-turn-server takes
// them: "turn:h:p?transport=udp" with username U and credential C becomes
// "turn://U:C@h:p?transport=udp" ("turns:" -> "turns://"), U and C percent-encoded (LiveKit's
// usernames hold ':' and its credentials are base64). STUN URLs and unknown schemes are left out:
// libnice takes a single STUN server, which comes from our own configuration. The result holds
// secrets: never log it.
std::vector<std::string> turnServerUris(const std::vector<IceServer>& servers);

}  // namespace mxrtc::livekit
