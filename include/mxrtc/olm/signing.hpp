// Signed JSON (Matrix "Signing JSON"): ed25519 over the canonical form without "signatures" and
// "unsigned". Used for device keys and one-time keys.
#pragma once

#include <nlohmann/json.hpp>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/e2ee/olm_messages.hpp"

namespace mxrtc::olm {

// Checks signatures[signer]["ed25519:<device>"] on `object` against `key`. MXRTC_OLM_BAD_SIGNATURE
// when the signature is missing or does not verify; M_BAD_JSON if `object` has no canonical form.
Result<void> verifySignedJson(const nlohmann::json& object, const UserId& signer, const DeviceId& device,
                              const e2ee::Ed25519Key& key);

}  // namespace mxrtc::olm
