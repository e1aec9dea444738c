#include "mxrtc/olm/signing.hpp"

#include "libolm.hpp"
#include "mxrtc/common/canonical_json.hpp"

namespace mxrtc::olm {

Result<void> verifySignedJson(const nlohmann::json& object, const UserId& signer, const DeviceId& device,
                              const e2ee::Ed25519Key& key) {
    const std::string keyId = std::string(e2ee::kEd25519) + ":" + device.str();
    const std::string* signature = e2ee::findSignature(object, signer, keyId);
    if (signature == nullptr)
        return makeError(errcode::kBadSignature, "no signature by " + signer.str() + " " + keyId);
    MXRTC_TRY_ASSIGN(canonical, canonicalJsonForSigning(object));
    if (!lib::ed25519Verify(key, canonical, *signature))
        return makeError(errcode::kBadSignature,
                         "the signature by " + signer.str() + " " + keyId + " does not verify");
    return {};
}

}  // namespace mxrtc::olm
