// OpenID verification, the edge half: performs the discovery and userinfo requests that
// openid.hpp plans, over the shared mxrtc::net::HttpClient, with one deadline per verification,
// the SSRF policy applied to every discovered target (DNS answers included), and a small cache of
// discovery results. Single-threaded: use from coroutines on the client's executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <string>

#include "mxrtc/auth/config.hpp"
#include "mxrtc/auth/handler.hpp"

namespace mxrtc::net {
class HttpClient;
}

namespace mxrtc::auth {

struct VerifyOutcome {
    VerifyResult result;
    std::string detail;  // for logs: which URL (without query) and what went wrong; never the token
};

class OpenIdVerifier {
  public:
    OpenIdVerifier(net::HttpClient& client, const AuthConfig& config);
    ~OpenIdVerifier();

    boost::asio::awaitable<VerifyOutcome> verify(VerifyOpenId request);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Executes a handler Fetch (membership check, LiveKit CreateRoom) with `timeout`.
boost::asio::awaitable<FetchResult> performFetch(net::HttpClient& client, const OutboundRequest& request,
                                                 Duration timeout);

}  // namespace mxrtc::auth
