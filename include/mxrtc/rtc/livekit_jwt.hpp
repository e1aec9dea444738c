// The focus's authorisation service (lk-jwt-service / mxrtc-auth): a LiveKit URL and JWT for one
// SFU, the way Element Call 0.26 asks for them (spec §8.7):
//   * our own, publishing connection with a state (legacy) membership: POST /sfu/get
//     {room, openid_token, device_id[, delay_id, delay_timeout]} -> identity "<user>:<device>";
//     a 400 M_BAD_JSON while the delay fields are sent is retried without them (a service without
//     delayed-leave delegation);
//   * another member's SFU (subscribe only): POST /get_token first, /sfu/get when the service
//     does not know it (404 / 405 / M_UNRECOGNIZED).
// Every failure names its step in one line: the OpenID token from the homeserver, the service
// unreachable, or the service's refusal with its HTTP status and errcode.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/matrix/client.hpp"

namespace mxrtc::rtc {

struct SfuCredentials {
    std::string url;            // ws(s):// of the SFU
    Redacted<std::string> jwt;  // never logged
    std::string identity;       // the JWT's `sub`: our LiveKit participant identity there
    std::string room;           // the JWT's video.room
    std::string endpoint;       // "/sfu/get" or "/get_token": what answered
    bool delegated = false;     // the service accepted our delayed leave (delay_id)
};

struct SfuTokenRequest {
    std::string serviceUrl;  // livekit_service_url of the transport
    RoomId room;
    SlotId slot{"m.call#ROOM"};
    UserId user;
    DeviceId device;
    MemberId member;                 // /get_token member.id ("<user>:<device>" for state memberships)
    bool publishing = true;          // our own connection: /sfu/get (identity "<user>:<device>")
    std::optional<DelayId> delayId;  // hand our delayed leave to the service (publishing only)
    Duration delayTimeout{0};
    Duration timeout{10'000};  // per HTTP request
};

// Request bodies and the response check, exposed for unit tests.
nlohmann::json sfuGetBody(const SfuTokenRequest& request, const matrix::OpenIdToken& token, bool withDelay);
nlohmann::json getTokenBody(const SfuTokenRequest& request, const matrix::OpenIdToken& token);
// {"url","jwt"} -> credentials (identity and room read from the JWT payload, not verified: the
// SFU verifies it). Errors name what is wrong.
Result<SfuCredentials> parseSfuCredentials(std::string_view body);

boost::asio::awaitable<Result<SfuCredentials>> fetchSfuCredentials(matrix::Client& client,
                                                                   SfuTokenRequest request);

}  // namespace mxrtc::rtc
