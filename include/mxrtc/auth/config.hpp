// mxrtc-auth configuration: lk-jwt-service's environment variables (spec §8.6) plus a JSON config
// file and mxrtc-specific MXRTC_AUTH_* variables. Precedence: defaults < file < environment <
// command line (the app passes its flags as an overriding variable map). Validated completely at
// start-up; the first problem is reported as one line naming the variable or JSON key.
// Pure: the environment, the file text and a file reader are inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/auth/openid.hpp"
#include "mxrtc/auth/rate_limiter.hpp"
#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc::auth {

// How OpenID tokens from one homeserver are checked.
enum class VerifyVia {
    Federation,  // GET <federation base>/_matrix/federation/v1/openid/userinfo (lk-jwt-service's way)
    Client,      // the same userinfo path on the client-server base URL (.well-known/matrix/client or
                 // an explicit URL): for homeservers with federation off that expose the `openid`
                 // resource on their client listener (Synapse: listener resources [client, openid]).
};
std::string_view toString(VerifyVia v);

struct HomeserverOverride {
    std::string baseUrl;           // empty = discover; otherwise used verbatim (trusted: no SSRF check)
    std::optional<VerifyVia> via;  // unset = AuthConfig::defaultVia
    friend bool operator==(const HomeserverOverride&, const HomeserverOverride&) = default;
};

struct MembershipCheckConfig {
    bool enabled = false;
    std::string homeserverUrl;          // client-server API base of the service account
    Redacted<std::string> accessToken;  // the service account's access token (must see the rooms)
    bool failOpen = false;              // allow when the homeserver cannot be asked (default: 503)
};

struct AuthConfig {
    // LiveKit (LIVEKIT_URL, LIVEKIT_KEY/LIVEKIT_SECRET, *_FROM_FILE, LIVEKIT_KEY_FILE).
    std::string liveKitUrl;
    std::string liveKitKey;
    Redacted<std::string> liveKitSecret;
    // LIVEKIT_FULL_ACCESS_HOMESERVERS (required; "*" alone = everyone; alias LIVEKIT_LOCAL_HOMESERVERS).
    std::vector<std::string> fullAccessHomeservers;
    bool createRooms = true;  // CreateRoom for full-access users before answering

    // Listener (LIVEKIT_JWT_BIND "[host]:port", or deprecated LIVEKIT_JWT_PORT).
    std::string bindHost;  // empty = all interfaces
    std::uint16_t bindPort = 8080;
    std::string basePath;  // optional prefix, e.g. "/livekit/jwt" (routes also match without it)
    // Reverse proxies whose X-Forwarded-For is believed (IP literals). The client address used for
    // rate limiting and logs is then the right-most X-Forwarded-For entry.
    std::vector<std::string> trustedProxies;

    // OpenID verification.
    bool skipVerifyTls = false;  // LIVEKIT_INSECURE_SKIP_VERIFY_TLS=YES_I_KNOW_WHAT_I_AM_DOING
    VerifyVia defaultVia = VerifyVia::Federation;
    std::map<std::string, HomeserverOverride> homeservers;  // keyed by matrix_server_name
    std::map<std::string, std::string> csApiOverrides;      // LIVEKIT_CS_API_URL_OVERRIDES
    TargetPolicy targetPolicy;
    Duration verifyTimeout{5'000};
    Duration cacheTtl{300'000};
    std::size_t cacheSize = 100'000;

    // HTTP server.
    bool cors = true;
    std::size_t maxBodyBytes = 64 * 1024;
    std::size_t maxConnections = 10'000;
    Duration requestTimeout{10'000};  // whole request must arrive within this
    Duration idleTimeout{60'000};     // keep-alive idle limit
    RateLimit rateLimit{50.0, 100.0};
    bool metrics = true;

    MembershipCheckConfig membership;

    // Logging (LIVEKIT_LOG_LEVEL): trace|debug|info|warn|error; JSON lines unless logJson=false.
    std::string logLevel = "info";
    bool logJson = true;

    // Accepted for compatibility but without effect here (e.g. LIVEKIT_REDIS_URL); the app logs them.
    std::vector<std::string> warnings;

    bool isFullAccess(std::string_view matrixServerName) const;
    // The override for a server name (empty base URL when none) with `via` resolved.
    HomeserverOverride homeserverFor(std::string_view matrixServerName) const;
    // LIVEKIT_URL in http(s) form, for the RoomService Twirp API (ws -> http, wss -> https).
    std::string liveKitHttpUrl() const;
};

struct ConfigInputs {
    std::map<std::string, std::string> env;        // process environment
    std::map<std::string, std::string> overrides;  // command-line flags, same names as env
    std::optional<std::string> fileText;           // JSON config file content
    std::string filePath;                          // for messages only
    // Reads *_FROM_FILE / LIVEKIT_KEY_FILE / access_token_file; nullopt = unreadable.
    std::function<std::optional<std::string>(const std::string&)> readFile;
};

Result<AuthConfig> loadConfig(const ConfigInputs& inputs);

// "server=url,server2=url2" (LIVEKIT_CS_API_URL_OVERRIDES syntax).
Result<std::map<std::string, std::string>> parseServerUrlList(std::string_view text,
                                                              std::string_view variable);

// The names of every environment variable loadConfig reads (documentation and --help).
const std::vector<std::string>& configEnvironmentVariables();

}  // namespace mxrtc::auth
