#include "mxrtc/auth/webhook.hpp"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/common/encoding.hpp"

namespace mxrtc::auth {

namespace {

Error refused(std::string message) {
    return makeError(errcode::kUnauthorized, std::move(message));
}
Error malformed(std::string message) {
    return makeError(errcode::kBadJson, std::move(message));
}

// Reads obj[camel] or obj[snake] as a string ("" when absent or not a string).
std::string stringField(const nlohmann::json& obj, const char* camel, const char* snake = nullptr) {
    for (const char* key : {camel, snake}) {
        if (key == nullptr) continue;
        const auto it = obj.find(key);
        if (it != obj.end() && it->is_string()) return it->get<std::string>();
    }
    return {};
}

}  // namespace

Result<void> verifyWebhookAuthorization(std::string_view authorization, std::string_view body,
                                        std::string_view apiKey, const Redacted<std::string>& secret,
                                        TimePoint now) {
    if (authorization.starts_with("Bearer ")) authorization.remove_prefix(7);
    if (authorization.empty()) return refused("webhook without Authorization header");
    auto claims = verifyHs256(authorization, secret, now);
    if (!claims) return refused("webhook token: " + claims.error().message);
    if (claims->issuer != apiKey) return refused("webhook token issuer is not LIVEKIT_KEY");
    const auto claimed = base64Decode(claims->sha256);
    const auto actual = sha256(body);
    if (!claimed || claimed->size() != actual.size() ||
        CRYPTO_memcmp(claimed->data(), actual.data(), actual.size()) != 0)
        return refused("webhook body does not match the token's sha256 claim");
    return {};
}

Result<std::optional<SfuEvent>> parseWebhookEvent(std::string_view body) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) return malformed("webhook body is not a JSON object");
    const std::string event = stringField(j, "event");
    if (event.empty()) return malformed("webhook without \"event\"");
    SfuEvent::Kind kind;
    if (event == webhook_event::kParticipantJoined)
        kind = SfuEvent::Kind::ParticipantJoined;
    else if (event == webhook_event::kParticipantLeft ||
             event == webhook_event::kParticipantConnectionAborted)
        kind = SfuEvent::Kind::ParticipantLeft;
    else if (event == webhook_event::kRoomFinished)
        kind = SfuEvent::Kind::RoomFinished;
    else
        return std::optional<SfuEvent>{};
    const auto room = j.find("room");
    if (room == j.end() || !room->is_object()) return malformed("webhook " + event + " without \"room\"");
    SfuEvent out{kind, ParticipantKey{stringField(*room, "name"), {}}};
    if (out.participant.room.empty()) return malformed("webhook " + event + " without room name");
    if (kind != SfuEvent::Kind::RoomFinished) {
        const auto participant = j.find("participant");
        if (participant == j.end() || !participant->is_object())
            return malformed("webhook " + event + " without \"participant\"");
        out.participant.identity = stringField(*participant, "identity");
        if (out.participant.identity.empty())
            return malformed("webhook " + event + " without participant identity");
    }
    return std::optional<SfuEvent>{std::move(out)};
}

}  // namespace mxrtc::auth
