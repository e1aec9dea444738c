// LiveKit webhooks (POST /sfu_webhook), the pure half: checking the signature and decoding the
// events delegation needs. LiveKit signs every webhook with its API key: the Authorization header
// is an HS256 JWT (LIVEKIT_SECRET, iss = LIVEKIT_KEY) whose "sha256" claim is the standard base64
// of SHA-256(body). The body is protojson of livekit.WebhookEvent (camelCase names; snake_case
// accepted too).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mxrtc/auth/delegation.hpp"
#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

// Webhook event names (livekit/protocol webhook package).
namespace webhook_event {
inline constexpr std::string_view kParticipantJoined = "participant_joined";
inline constexpr std::string_view kParticipantLeft = "participant_left";
inline constexpr std::string_view kParticipantConnectionAborted = "participant_connection_aborted";
inline constexpr std::string_view kRoomFinished = "room_finished";
}  // namespace webhook_event

// Checks `Authorization: <jwt>` (a "Bearer " prefix is tolerated): signature, nbf/exp, iss ==
// apiKey, sha256 claim == SHA-256(body). Errors are M_UNAUTHORIZED naming what failed (for logs;
// the message never contains the token).
Result<void> verifyWebhookAuthorization(std::string_view authorization, std::string_view body,
                                        std::string_view apiKey, const Redacted<std::string>& secret,
                                        TimePoint now);

// The event, or nullopt for events delegation does not act on (room_started, track_*, ...).
// participant_left and participant_connection_aborted both mean "left". Errors: M_BAD_JSON.
Result<std::optional<SfuEvent>> parseWebhookEvent(std::string_view body);

}  // namespace mxrtc::auth
