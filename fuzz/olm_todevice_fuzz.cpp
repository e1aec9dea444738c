// Arbitrary bytes as the network input of Matrix E2EE: an m.room.encrypted to-device event (Olm
// envelope), the decrypted Olm plaintext checks, Megolm envelope/plaintext, m.room_key, a
// /keys/query device-keys listing and a /keys/claim entry; plus canonical JSON (what signatures
// cover). No crypto state is needed for any of these parsers.
// Oracles: whatever parses is rebuilt by our builders and parses back to the same values; the
// canonical form is a fixed point and re-parses to the same JSON value.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/common/canonical_json.hpp"
#include "mxrtc/e2ee/olm_messages.hpp"

using namespace mxrtc;
using namespace mxrtc::e2ee;
using Json = nlohmann::json;

namespace {

const Curve25519Key kOurKey("BOBCURVE0000000000000000000000000000000000");
const UserId kAlice("@alice:example.org");
const UserId kBob("@bob:example.org");
const OlmRecipient kUs{kBob, Ed25519Key("BOBED25519")};
const RoomId kRoom("!room:example.org");

void envelope(const Json& event) {
    const Json* content = &event;
    if (event.is_object() && event.contains("content")) content = &event["content"];
    auto e = parseOlmEnvelope(*content, kOurKey);
    if (!e) return;
    auto rebuilt = parseOlmEnvelope(buildOlmEnvelope(e->senderKey, kOurKey, e->type, e->body), kOurKey);
    MXRTC_ASSERT(rebuilt.ok(), "rebuilt Olm envelope does not parse");
    MXRTC_ASSERT(rebuilt->senderKey == e->senderKey && rebuilt->type == e->type && rebuilt->body == e->body,
                 "Olm envelope round trip differs");
}

void olmPlaintext(std::string_view text) {
    auto p = parseOlmPayload(text, kAlice, kUs);
    if (!p) return;
    MXRTC_ASSERT(p->sender == kAlice, "accepted a plaintext from another sender");
    const DeviceId device = p->senderDevice.value_or(DeviceId("ALICEDEV"));
    const Json rebuilt = buildOlmPayload(
        p->type, p->content, {kAlice, device, p->senderEd25519, kBob, kUs.ed25519, p->senderDeviceKeys});
    auto again = parseOlmPayload(rebuilt.dump(-1, ' ', false, Json::error_handler_t::replace), kAlice, kUs);
    MXRTC_ASSERT(again.ok(), "rebuilt Olm plaintext does not parse");
    MXRTC_ASSERT(again->type == p->type && again->senderEd25519 == p->senderEd25519,
                 "Olm plaintext round trip");
    // The same plaintext addressed to someone else must be refused.
    MXRTC_ASSERT(!parseOlmPayload(text, kAlice, {UserId("@carol:example.org"), kUs.ed25519}).ok(),
                 "plaintext for bob accepted by carol");
}

void megolm(const Json& j, std::string_view text) {
    if (auto e = parseMegolmEnvelope(j)) {
        auto again = parseMegolmEnvelope(buildMegolmEnvelope(*e));
        MXRTC_ASSERT(again.ok() && again->sessionId == e->sessionId && again->ciphertext == e->ciphertext,
                     "Megolm envelope round trip");
    }
    if (auto p = parseMegolmPayload(text, kRoom)) {
        MXRTC_ASSERT(!parseMegolmPayload(text, RoomId("!other:example.org")).ok(), "room check bypassed");
    }
    if (auto k = parseRoomKey(j)) {
        auto again = parseRoomKey(buildRoomKey(*k));
        MXRTC_ASSERT(again.ok() && again->sessionKey == k->sessionKey && again->roomId == k->roomId,
                     "m.room_key round trip");
    }
}

void keys(const Json& j) {
    // A /keys/query response body, or one device-keys object.
    if (j.is_object() && j.contains("device_keys") && j["device_keys"].is_object()) {
        for (auto u = j["device_keys"].begin(); u != j["device_keys"].end(); ++u) {
            if (!u.value().is_object()) continue;
            for (auto d = u.value().begin(); d != u.value().end(); ++d) {
                auto k = parseDeviceKeys(d.value(), UserId(u.key()), DeviceId(d.key()));
                if (k)
                    MXRTC_ASSERT(k->user.str() == u.key() && k->device.str() == d.key(), "ids not checked");
                (void)findSignature(d.value(), UserId(u.key()), "ed25519:" + d.key());
            }
        }
    }
    (void)parseDeviceKeys(j, kAlice, DeviceId("ALICEDEV"));
    (void)parseClaimedKey(j);
}

void canonical(const Json& j) {
    auto c = canonicalJson(j);
    if (!c) return;
    const Json back = Json::parse(*c, nullptr, false);
    MXRTC_ASSERT(!back.is_discarded(), "canonical JSON does not parse");
    auto again = canonicalJson(back);
    MXRTC_ASSERT(again.ok() && *again == *c, "canonical JSON is not a fixed point");
    (void)canonicalJsonForSigning(j);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    olmPlaintext(text);
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return 0;
    envelope(j);
    megolm(j, text);
    keys(j);
    canonical(j);
    return 0;
}
