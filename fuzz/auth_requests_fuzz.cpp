// mxrtc-auth request decoders: arbitrary bytes -> the legacy /sfu/get body, the /get_token body, the
// /delegate_delayed_leave body, a LiveKit webhook body, a webhook Authorization header (+ body), and
// a signed JWT payload (to reach claim decoding past the signature check). The first byte picks the
// decoder, the rest is its input.
// Invariants: no crash/UB/exception; an accepted body has every field its endpoint requires; the
// per-endpoint parsers agree with the shared field reader; a forged header never verifies.
//
// Fuzz builds configure only the pure modules (no src/auth: it also holds the Beast edge), so the
// pure decoder sources are compiled into this target directly. They need nothing beyond mxrtc::core,
// mxrtc::common, OpenSSL and nlohmann_json, which every fuzz target links.
#include <cstddef>
#include <cstdint>
#include <string_view>

// Order matters: jwt.cpp selects OpenSSL's deprecated SHA256_CTX before any OpenSSL header.
#include "../src/auth/jwt.cpp"
#include "../src/auth/requests.cpp"
#include "../src/auth/webhook.cpp"
#include "mxrtc/common/assert.hpp"
#include "mxrtc/common/encoding.hpp"

using namespace mxrtc;
using namespace mxrtc::auth;

namespace {

constexpr TimePoint kNow = fromUnixMs(1'760'000'000'000);
const Redacted<std::string> kFuzzSecret{std::string("fuzz-secret")};

void tokenRequest(RequestKind kind, std::string_view body) {
    const auto parsed = parseTokenRequest(kind, body);
    bool ok = false;
    switch (kind) {
        case RequestKind::LegacySfuGet:
            ok = std::holds_alternative<LegacySfuRequest>(parseLegacySfuRequest(body));
            break;
        case RequestKind::GetToken:
            ok = std::holds_alternative<GetTokenRequest>(parseGetTokenRequest(body));
            break;
        case RequestKind::DelegateDelayedLeave:
            ok = std::holds_alternative<DelegateDelayedLeaveRequest>(parseDelegateDelayedLeaveRequest(body));
            break;
    }
    const auto* r = std::get_if<TokenRequest>(&parsed);
    MXRTC_ASSERT(ok == (r != nullptr), "endpoint parser disagrees with the shared field reader");
    if (r == nullptr) {
        const auto& e = std::get<ErrorResponse>(parsed);
        MXRTC_ASSERT(e.status == 400, "decoder errors are 400");
        MXRTC_ASSERT(e.error.errcode == "M_NOT_JSON" || e.error.errcode == "M_BAD_JSON",
                     "unexpected errcode");
        return;
    }
    MXRTC_ASSERT(!r->roomId.empty() && !r->slotId.empty(), "accepted without room/slot");
    MXRTC_ASSERT(!r->openIdToken.accessToken.empty() && !r->openIdToken.matrixServerName.empty(),
                 "accepted without OpenID token");
    if (kind != RequestKind::LegacySfuGet)
        MXRTC_ASSERT(
            !r->member.id.empty() && !r->member.claimedUserId.empty() && !r->member.claimedDeviceId.empty(),
            "accepted without member");
    if (kind == RequestKind::DelegateDelayedLeave)
        MXRTC_ASSERT(!r->delayId.empty() && r->delayTimeout > 0,
                     "delegation accepted without delay parameters");
    else
        MXRTC_ASSERT(r->delayId.empty() == (r->delayTimeout <= 0), "half of the delay parameters accepted");
}

void webhookBody(std::string_view body) {
    const auto event = parseWebhookEvent(body);
    if (!event || !*event) return;
    MXRTC_ASSERT(!(*event)->participant.room.empty(), "event without room");
    if ((*event)->kind != SfuEvent::Kind::RoomFinished)
        MXRTC_ASSERT(!(*event)->participant.identity.empty(), "participant event without identity");
}

// "<Authorization header>\n<body>": unsigned input must never verify.
void webhookHeader(std::string_view input) {
    const auto nl = input.find('\n');
    const auto header = input.substr(0, nl);
    const auto body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    const auto verified = verifyWebhookAuthorization(header, body, "devkey", kFuzzSecret, kNow);
    MXRTC_ASSERT(!verified, "a forged webhook signature verified");
}

// A claims payload signed with the right secret: exercises claim decoding and the sha256 check.
void signedPayload(std::string_view payload) {
    std::string token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.";
    token += base64Encode(asBytes(payload), Base64Alphabet::Url, Base64Padding::Unpadded);
    const std::string sig = Hs256Signer(kFuzzSecret).mac(token);
    token.push_back('.');
    token += base64Encode(asBytes(sig), Base64Alphabet::Url, Base64Padding::Unpadded);
    (void)verifyHs256(token, kFuzzSecret, kNow);
    (void)verifyWebhookAuthorization(token, payload, "devkey", kFuzzSecret, kNow);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 6) {
        case 0:
            tokenRequest(RequestKind::LegacySfuGet, input);
            break;
        case 1:
            tokenRequest(RequestKind::GetToken, input);
            break;
        case 2:
            tokenRequest(RequestKind::DelegateDelayedLeave, input);
            break;
        case 3:
            webhookBody(input);
            break;
        case 4:
            webhookHeader(input);
            break;
        default:
            signedPayload(input);
            break;
    }
    return 0;
}
