// Binary protobuf codec for the LiveKit signal messages (messages.hpp <-> bytes), on Debian's
// libprotobuf with our own schema subset (proto/livekit_signal.proto; field numbers and types as
// in livekit/protocol at the commit livekit-server v1.13.5 pins, checked by a test against the
// upstream files). Untrusted input never throws: decoding returns a Result with a one-line error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mxrtc/common/result.hpp"
#include "mxrtc/livekit/messages.hpp"

namespace mxrtc::livekit {

// What the client sends and the server answers (the direction we use in production).
std::vector<std::uint8_t> encodeRequest(const SignalRequest& request);
Result<SignalResponse> decodeResponse(std::span<const std::uint8_t> bytes);

// The other direction, for tests (recorded sequences, a scripted server) and the fuzz target.
std::vector<std::uint8_t> encodeResponse(const SignalResponse& response);
Result<SignalRequest> decodeRequest(std::span<const std::uint8_t> bytes);

}  // namespace mxrtc::livekit
