#include "mxrtc/common/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace mxrtc::detail {

void assertFailed(const char* expr, const char* message, const char* file, int line) noexcept {
    std::fprintf(stderr, "mxrtc: assertion failed: %s (%s) at %s:%d\n", expr, message, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace mxrtc::detail
