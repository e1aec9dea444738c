// The mxrtc-auth HTTP server (edge): Boost.Beast on one io_context with C++20 coroutines.
// Keep-alive, request size limits, read timeouts, a connection cap, per-client rate limiting,
// structured JSON access logs without secrets, /metrics. All decisions are the Handler's.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "mxrtc/auth/config.hpp"
#include "mxrtc/common/result.hpp"

namespace mxrtc::auth {

class AuthServer {
  public:
    AuthServer(boost::asio::io_context& io, AuthConfig config, std::shared_ptr<spdlog::logger> logger);
    ~AuthServer();
    AuthServer(const AuthServer&) = delete;
    AuthServer& operator=(const AuthServer&) = delete;

    // Binds and starts accepting. Returns the bound port (useful with port 0).
    Result<std::uint16_t> start();
    // Stops accepting; open connections finish their current request and close. `done` runs once
    // every connection is closed or `grace` has passed.
    void shutdown(Duration grace, std::function<void()> done);

  private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

}  // namespace mxrtc::auth
