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

// Where a server's client-server API is, for delayed-event requests.
struct ClientApi {
    std::string baseUrl;   // empty = not found
    bool trusted = false;  // written by the operator (no SSRF check per request)
    std::string error;     // why not found (logs)
};

// An SSRF-vetted host: the address to connect to, or why not.
struct VettedHost {
    bool allowed = false;
    std::string address;  // pinned address (empty when the host is an IP literal)
    std::string detail;
};

class OpenIdVerifier {
  public:
    OpenIdVerifier(net::HttpClient& client, const AuthConfig& config);
    ~OpenIdVerifier();

    boost::asio::awaitable<VerifyOutcome> verify(VerifyOpenId request);

    // LIVEKIT_CS_API_URL_OVERRIDES, then an explicit homeserver URL for verify_via client, then
    // https://<server name>/.well-known/matrix/client (SSRF-policed, cached 4 h; failures 5 min).
    boost::asio::awaitable<ClientApi> resolveClientApi(std::string serverName);
    // Applies the SSRF policy to `host` (DNS answers included).
    boost::asio::awaitable<VettedHost> vetHost(std::string host, Duration timeout);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Executes a handler Fetch (membership check, LiveKit CreateRoom) with `timeout`.
boost::asio::awaitable<FetchResult> performFetch(net::HttpClient& client, const OutboundRequest& request,
                                                 Duration timeout);

}  // namespace mxrtc::auth
