// MXRTC_ASSERT: programmer errors abort with a message (mediasoup MS_ASSERT style).
// Never used for untrusted input; parsers return Result<T> instead.
#pragma once

namespace mxrtc::detail {
[[noreturn]] void assertFailed(const char* expr, const char* message, const char* file, int line) noexcept;
}  // namespace mxrtc::detail

#define MXRTC_ASSERT(cond, message)                                                     \
    do {                                                                                \
        if (!(cond)) ::mxrtc::detail::assertFailed(#cond, message, __FILE__, __LINE__); \
    } while (false)
