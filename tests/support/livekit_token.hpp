// A LiveKit join token as lk-jwt-service / mxrtc-auth issue it (roomJoin, room, canPublish,
// canSubscribe; HS256), for test peers that join a room without going through a JWT service.
#pragma once

#include <chrono>
#include <string>

#include "mxrtc/auth/jwt.hpp"

namespace mxrtc::test {

inline std::string liveKitJoinToken(const std::string& key, const std::string& secret,
                                    const std::string& identity, const std::string& room) {
    const auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    const auto claims = mxrtc::auth::joinTokenClaims(key, identity, room, now);
    return mxrtc::auth::Hs256Signer(mxrtc::Redacted<std::string>(secret)).sign(claims);
}

}  // namespace mxrtc::test
