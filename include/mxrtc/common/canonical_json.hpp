// Matrix canonical JSON (spec "Signing JSON"): the exact bytes that are signed and verified.
//
//  * object keys sorted by Unicode code point (= UTF-8 byte order), no insignificant whitespace
//  * strings UTF-8 (not \u-escaped), only '"', '\\' and control characters escaped, with the
//    short forms \b \f \n \r \t and \u00XX (lower-case hex) for the rest
//  * numbers: integers in [-(2^53)+1, 2^53-1] only, written without exponent or fraction (an
//    integral float such as 1e10 is written 10000000000); non-integral numbers are refused
//
// For signing, the top-level "signatures" and "unsigned" members are removed first.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mxrtc/common/result.hpp"

namespace mxrtc {

// Canonical encoding of any JSON value. M_BAD_JSON (naming the path) for a fraction, an
// out-of-range integer or a string that is not valid UTF-8.
Result<std::string> canonicalJson(const nlohmann::json& value);

// Canonical encoding of `object` without its top-level "signatures" and "unsigned": the bytes
// an ed25519 signature on a Matrix JSON object covers. M_BAD_JSON if `object` is not an object.
Result<std::string> canonicalJsonForSigning(const nlohmann::json& object);

}  // namespace mxrtc
