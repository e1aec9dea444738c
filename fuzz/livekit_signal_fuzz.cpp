// Arbitrary bytes as a LiveKit signal message, both directions (decodeResponse, decodeRequest).
// Oracles: decoding never crashes or throws; a decoded value re-encodes to bytes that decode to an
// equal value, and encoding that again gives the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/livekit/codec.hpp"

using namespace mxrtc::livekit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    if (auto response = decodeResponse(bytes)) {
        const auto encoded = encodeResponse(*response);
        auto again = decodeResponse(encoded);
        MXRTC_ASSERT(again.ok(), "a re-encoded SignalResponse does not decode");
        MXRTC_ASSERT(*again == *response, "SignalResponse round trip differs");
        MXRTC_ASSERT(encodeResponse(*again) == encoded, "SignalResponse encoding is not stable");
    }
    if (auto request = decodeRequest(bytes)) {
        const auto encoded = encodeRequest(*request);
        auto again = decodeRequest(encoded);
        MXRTC_ASSERT(again.ok(), "a re-encoded SignalRequest does not decode");
        MXRTC_ASSERT(*again == *request, "SignalRequest round trip differs");
        MXRTC_ASSERT(encodeRequest(*again) == encoded, "SignalRequest encoding is not stable");
    }
    return 0;
}
