#include "mxrtc/auth/config.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

namespace mxrtc::auth {

namespace {

using Json = nlohmann::json;

Error configError(std::string message) {
    return makeError(errcode::kInvalidParam, std::move(message));
}

std::string trim(std::string_view s, std::string_view chars = " \t\r\n") {
    const auto b = s.find_first_not_of(chars);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(chars);
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> splitList(std::string_view text) {
    // lk-jwt-service: strings.Fields(strings.ReplaceAll(v, ",", " "))
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string didYouMean(std::string_view key, const std::vector<std::string_view>& known) {
    std::string_view best;
    std::size_t bestD = 3;
    for (auto k : known) {
        const auto d = editDistance(key, k);
        if (d < bestD) bestD = d, best = k;
    }
    return best.empty() ? std::string() : " (did you mean \"" + std::string(best) + "\"?)";
}

Result<void> checkKeys(const Json& obj, std::string_view where, const std::vector<std::string_view>& known) {
    for (const auto& [key, _] : obj.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end())
            return configError(std::string(where) + ": unknown key \"" + key + "\"" + didYouMean(key, known));
    }
    return {};
}

Result<bool> parseBool(std::string_view text, std::string_view name) {
    std::string v = trim(text);
    std::transform(v.begin(), v.end(), v.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    return configError(std::string(name) + ": expected true or false, got \"" + std::string(text) + "\"");
}

template <typename Int>
Result<Int> parseInt(std::string_view text, std::string_view name, Int min, Int max) {
    const std::string v = trim(text);
    Int out{};
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size() || v.empty() || out < min || out > max)
        return configError(std::string(name) + ": expected an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got \"" + std::string(text) + "\"");
    return out;
}

Result<VerifyVia> parseVia(std::string_view text, std::string_view name) {
    if (text == "federation") return VerifyVia::Federation;
    if (text == "client") return VerifyVia::Client;
    return configError(std::string(name) + ": expected \"federation\" or \"client\", got \"" +
                       std::string(text) + "\"");
}

bool isHttpUrl(std::string_view u) {
    return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
}

std::string stripSlash(std::string s) {
    while (!s.empty() && s.back() == '/')
        s.pop_back();
    return s;
}

// "host:port", ":port", "[v6]:port" (Go net.Listen syntax).
Result<void> parseBind(std::string_view text, std::string_view name, AuthConfig& c) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return configError(std::string(name) + ": expected [host]:port, got \"" + std::string(text) + "\"");
    std::string host(text.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto port = parseInt<int>(text.substr(colon + 1), name, 0, 65535);
    if (!port) return port.error();
    c.bindHost = host;
    c.bindPort = static_cast<std::uint16_t>(*port);
    return {};
}

struct Layer {
    // Effective string value of a variable: overrides > env; nullopt when unset or empty
    // (lk-jwt-service treats empty as unset).
    const ConfigInputs& in;
    std::optional<std::string> get(const std::string& name) const {
        if (auto it = in.overrides.find(name); it != in.overrides.end() && !it->second.empty())
            return it->second;
        if (auto it = in.env.find(name); it != in.env.end() && !it->second.empty()) return it->second;
        return std::nullopt;
    }
};

Result<std::string> readSecretFile(const ConfigInputs& in, const std::string& path, std::string_view what) {
    if (!in.readFile) return configError(std::string(what) + ": cannot read files here");
    auto text = in.readFile(path);
    if (!text) return configError(std::string(what) + ": cannot read \"" + path + "\"");
    return *text;
}

// ---- config file -------------------------------------------------------------------------

Result<void> applyFile(const Json& root, const ConfigInputs& in, AuthConfig& c) {
    if (!root.is_object()) return configError("config file: top level must be a JSON object");
    if (auto r = checkKeys(root, "config file",
                           {"livekit", "listen", "rate_limit", "openid", "membership_check", "log"});
        !r)
        return r.error();

    auto str = [](const Json& obj, const char* key, std::string where, std::string& out) -> Result<void> {
        if (!obj.contains(key)) return {};
        if (!obj[key].is_string()) return configError(where + "." + key + ": expected a string");
        out = obj[key].get<std::string>();
        return {};
    };
    auto boolean = [](const Json& obj, const char* key, std::string where, bool& out) -> Result<void> {
        if (!obj.contains(key)) return {};
        if (!obj[key].is_boolean()) return configError(where + "." + key + ": expected true or false");
        out = obj[key].get<bool>();
        return {};
    };
    auto number = [](const Json& obj, const char* key, std::string where, double min, double max,
                     double& out) -> Result<void> {
        if (!obj.contains(key)) return {};
        if (!obj[key].is_number()) return configError(where + "." + key + ": expected a number");
        const double v = obj[key].get<double>();
        if (v < min || v > max)
            return configError(where + "." + key + ": out of range [" + std::to_string(min) + ", " +
                               std::to_string(max) + "]");
        out = v;
        return {};
    };
#define MXRTC_CFG(expr)             \
    do {                            \
        auto r_ = (expr);           \
        if (!r_) return r_.error(); \
    } while (false)

    if (root.contains("livekit")) {
        const auto& lk = root["livekit"];
        if (!lk.is_object()) return configError("livekit: expected an object");
        MXRTC_CFG(checkKeys(lk, "livekit",
                            {"url", "key", "secret", "key_from_file", "secret_from_file", "key_file",
                             "full_access_homeservers", "create_rooms"}));
        MXRTC_CFG(str(lk, "url", "livekit", c.liveKitUrl));
        MXRTC_CFG(str(lk, "key", "livekit", c.liveKitKey));
        std::string secret;
        MXRTC_CFG(str(lk, "secret", "livekit", secret));
        if (!secret.empty()) c.liveKitSecret = Redacted<std::string>(secret);
        std::string keyFromFile, secretFromFile, keyFile;
        MXRTC_CFG(str(lk, "key_from_file", "livekit", keyFromFile));
        MXRTC_CFG(str(lk, "secret_from_file", "livekit", secretFromFile));
        MXRTC_CFG(str(lk, "key_file", "livekit", keyFile));
        if (!keyFromFile.empty()) {
            auto t = readSecretFile(in, keyFromFile, "livekit.key_from_file");
            if (!t) return t.error();
            c.liveKitKey = *t;
        }
        if (!secretFromFile.empty()) {
            auto t = readSecretFile(in, secretFromFile, "livekit.secret_from_file");
            if (!t) return t.error();
            c.liveKitSecret = Redacted<std::string>(*t);
        }
        if (!keyFile.empty()) {
            auto t = readSecretFile(in, keyFile, "livekit.key_file");
            if (!t) return t.error();
            const auto colon = t->find(':');
            if (colon == std::string::npos || t->find(':', colon + 1) != std::string::npos)
                return configError("livekit.key_file: expected \"key:secret\"");
            c.liveKitKey = t->substr(0, colon);
            c.liveKitSecret = Redacted<std::string>(t->substr(colon + 1));
        }
        if (lk.contains("full_access_homeservers")) {
            const auto& list = lk["full_access_homeservers"];
            if (!list.is_array())
                return configError("livekit.full_access_homeservers: expected an array of strings");
            c.fullAccessHomeservers.clear();
            for (const auto& e : list) {
                if (!e.is_string())
                    return configError("livekit.full_access_homeservers: expected an array of strings");
                c.fullAccessHomeservers.push_back(e.get<std::string>());
            }
        }
        MXRTC_CFG(boolean(lk, "create_rooms", "livekit", c.createRooms));
    }
    if (root.contains("listen")) {
        const auto& l = root["listen"];
        if (!l.is_object()) return configError("listen: expected an object");
        MXRTC_CFG(checkKeys(l, "listen",
                            {"bind", "base_path", "cors", "max_body_bytes", "max_connections",
                             "request_timeout_ms", "idle_timeout_ms", "metrics", "trusted_proxies"}));
        if (l.contains("trusted_proxies")) {
            const auto& list = l["trusted_proxies"];
            if (!list.is_array())
                return configError("listen.trusted_proxies: expected an array of IP addresses");
            c.trustedProxies.clear();
            for (const auto& e : list) {
                if (!e.is_string() || !classifyAddress(e.get<std::string>()))
                    return configError("listen.trusted_proxies: expected an array of IP addresses");
                c.trustedProxies.push_back(e.get<std::string>());
            }
        }
        std::string bind;
        MXRTC_CFG(str(l, "bind", "listen", bind));
        if (!bind.empty()) MXRTC_CFG(parseBind(bind, "listen.bind", c));
        MXRTC_CFG(str(l, "base_path", "listen", c.basePath));
        MXRTC_CFG(boolean(l, "cors", "listen", c.cors));
        MXRTC_CFG(boolean(l, "metrics", "listen", c.metrics));
        double v = static_cast<double>(c.maxBodyBytes);
        MXRTC_CFG(number(l, "max_body_bytes", "listen", 256, 16 * 1024 * 1024, v));
        c.maxBodyBytes = static_cast<std::size_t>(v);
        v = static_cast<double>(c.maxConnections);
        MXRTC_CFG(number(l, "max_connections", "listen", 1, 1'000'000, v));
        c.maxConnections = static_cast<std::size_t>(v);
        v = static_cast<double>(c.requestTimeout.count());
        MXRTC_CFG(number(l, "request_timeout_ms", "listen", 100, 600'000, v));
        c.requestTimeout = Duration{static_cast<std::int64_t>(v)};
        v = static_cast<double>(c.idleTimeout.count());
        MXRTC_CFG(number(l, "idle_timeout_ms", "listen", 100, 3'600'000, v));
        c.idleTimeout = Duration{static_cast<std::int64_t>(v)};
    }
    if (root.contains("rate_limit")) {
        const auto& r = root["rate_limit"];
        if (!r.is_object()) return configError("rate_limit: expected an object");
        MXRTC_CFG(checkKeys(r, "rate_limit", {"per_second", "burst"}));
        MXRTC_CFG(number(r, "per_second", "rate_limit", 0, 1e9, c.rateLimit.perSecond));
        MXRTC_CFG(number(r, "burst", "rate_limit", 1, 1e9, c.rateLimit.burst));
    }
    if (root.contains("openid")) {
        const auto& o = root["openid"];
        if (!o.is_object()) return configError("openid: expected an object");
        MXRTC_CFG(checkKeys(
            o, "openid",
            {"verify_via", "timeout_ms", "cache_ttl_seconds", "cache_size", "allow_loopback_targets",
             "allow_private_targets", "insecure_skip_verify_tls", "homeservers", "cs_api_url_overrides"}));
        std::string via;
        MXRTC_CFG(str(o, "verify_via", "openid", via));
        if (!via.empty()) {
            auto v = parseVia(via, "openid.verify_via");
            if (!v) return v.error();
            c.defaultVia = *v;
        }
        double v = static_cast<double>(c.verifyTimeout.count());
        MXRTC_CFG(number(o, "timeout_ms", "openid", 100, 60'000, v));
        c.verifyTimeout = Duration{static_cast<std::int64_t>(v)};
        v = static_cast<double>(c.cacheTtl.count()) / 1000.0;
        MXRTC_CFG(number(o, "cache_ttl_seconds", "openid", 0, 86'400, v));
        c.cacheTtl = Duration{static_cast<std::int64_t>(v * 1000)};
        v = static_cast<double>(c.cacheSize);
        MXRTC_CFG(number(o, "cache_size", "openid", 0, 10'000'000, v));
        c.cacheSize = static_cast<std::size_t>(v);
        MXRTC_CFG(boolean(o, "allow_loopback_targets", "openid", c.targetPolicy.allowLoopback));
        MXRTC_CFG(boolean(o, "allow_private_targets", "openid", c.targetPolicy.allowPrivate));
        MXRTC_CFG(boolean(o, "insecure_skip_verify_tls", "openid", c.skipVerifyTls));
        if (o.contains("homeservers")) {
            const auto& hs = o["homeservers"];
            if (!hs.is_object())
                return configError("openid.homeservers: expected an object keyed by server name");
            for (const auto& [name, entry] : hs.items()) {
                const std::string where = "openid.homeservers[\"" + name + "\"]";
                if (!parseServerName(name)) return configError(where + ": not a valid server name");
                if (!entry.is_object()) return configError(where + ": expected an object");
                MXRTC_CFG(checkKeys(entry, where, {"base_url", "verify_via"}));
                HomeserverOverride ov;
                MXRTC_CFG(str(entry, "base_url", where, ov.baseUrl));
                if (!ov.baseUrl.empty() && !isHttpUrl(ov.baseUrl))
                    return configError(where + ".base_url: expected an http(s) URL");
                ov.baseUrl = stripSlash(ov.baseUrl);
                std::string hv;
                MXRTC_CFG(str(entry, "verify_via", where, hv));
                if (!hv.empty()) {
                    auto pv = parseVia(hv, where + ".verify_via");
                    if (!pv) return pv.error();
                    ov.via = *pv;
                }
                c.homeservers[name] = ov;
            }
        }
        if (o.contains("cs_api_url_overrides")) {
            const auto& m = o["cs_api_url_overrides"];
            if (!m.is_object()) return configError("openid.cs_api_url_overrides: expected an object");
            for (const auto& [name, url] : m.items()) {
                if (!url.is_string() || !isHttpUrl(url.get<std::string>()))
                    return configError("openid.cs_api_url_overrides[\"" + name +
                                       "\"]: expected an http(s) URL");
                c.csApiOverrides[name] = stripSlash(url.get<std::string>());
            }
        }
    }
    if (root.contains("membership_check")) {
        const auto& m = root["membership_check"];
        if (!m.is_object()) return configError("membership_check: expected an object");
        MXRTC_CFG(checkKeys(m, "membership_check",
                            {"enabled", "homeserver_url", "access_token", "access_token_file", "fail_open"}));
        MXRTC_CFG(boolean(m, "enabled", "membership_check", c.membership.enabled));
        MXRTC_CFG(str(m, "homeserver_url", "membership_check", c.membership.homeserverUrl));
        std::string token, tokenFile;
        MXRTC_CFG(str(m, "access_token", "membership_check", token));
        MXRTC_CFG(str(m, "access_token_file", "membership_check", tokenFile));
        if (!tokenFile.empty()) {
            auto t = readSecretFile(in, tokenFile, "membership_check.access_token_file");
            if (!t) return t.error();
            token = trim(*t);
        }
        if (!token.empty()) c.membership.accessToken = Redacted<std::string>(token);
        MXRTC_CFG(boolean(m, "fail_open", "membership_check", c.membership.failOpen));
    }
    if (root.contains("log")) {
        const auto& l = root["log"];
        if (!l.is_object()) return configError("log: expected an object");
        MXRTC_CFG(checkKeys(l, "log", {"level", "json"}));
        MXRTC_CFG(str(l, "level", "log", c.logLevel));
        MXRTC_CFG(boolean(l, "json", "log", c.logJson));
    }
    return {};
}

// ---- environment -------------------------------------------------------------------------

Result<void> applyEnv(const Layer& env, const ConfigInputs& in, AuthConfig& c) {
    // LiveKit credentials, exactly lk-jwt-service's readKeySecret(): LIVEKIT_KEY_FILE wins over the
    // *_FROM_FILE pair, which win over LIVEKIT_KEY / LIVEKIT_SECRET; values are trimmed of " \r\n".
    if (auto v = env.get("LIVEKIT_KEY")) c.liveKitKey = *v;
    if (auto v = env.get("LIVEKIT_SECRET")) c.liveKitSecret = Redacted<std::string>(*v);
    if (auto path = env.get("LIVEKIT_KEY_FILE")) {
        auto t = readSecretFile(in, *path, "LIVEKIT_KEY_FILE");
        if (!t) return t.error();
        const auto colon = t->find(':');
        if (colon == std::string::npos || t->find(':', colon + 1) != std::string::npos)
            return configError("LIVEKIT_KEY_FILE: invalid key secret file format (expected \"key:secret\")");
        c.liveKitKey = t->substr(0, colon);
        c.liveKitSecret = Redacted<std::string>(t->substr(colon + 1));
    } else {
        if (auto path = env.get("LIVEKIT_KEY_FROM_FILE")) {
            auto t = readSecretFile(in, *path, "LIVEKIT_KEY_FROM_FILE");
            if (!t) return t.error();
            c.liveKitKey = *t;
        }
        if (auto path = env.get("LIVEKIT_SECRET_FROM_FILE")) {
            auto t = readSecretFile(in, *path, "LIVEKIT_SECRET_FROM_FILE");
            if (!t) return t.error();
            c.liveKitSecret = Redacted<std::string>(*t);
        }
    }
    if (auto v = env.get("LIVEKIT_URL")) c.liveKitUrl = *v;

    std::optional<std::string> full = env.get("LIVEKIT_FULL_ACCESS_HOMESERVERS");
    if (!full) {
        if (auto legacy = env.get("LIVEKIT_LOCAL_HOMESERVERS")) {
            full = legacy;
            c.warnings.push_back(
                "LIVEKIT_LOCAL_HOMESERVERS is deprecated, use LIVEKIT_FULL_ACCESS_HOMESERVERS");
        }
    }
    if (full) c.fullAccessHomeservers = splitList(*full);

    const auto bind = env.get("LIVEKIT_JWT_BIND");
    const auto port = env.get("LIVEKIT_JWT_PORT");
    if (bind && port) return configError("LIVEKIT_JWT_BIND and LIVEKIT_JWT_PORT must not be set together");
    if (bind) MXRTC_CFG(parseBind(*bind, "LIVEKIT_JWT_BIND", c));
    if (port) {
        auto p = parseInt<int>(*port, "LIVEKIT_JWT_PORT", 0, 65535);
        if (!p) return p.error();
        c.bindHost.clear();
        c.bindPort = static_cast<std::uint16_t>(*p);
        c.warnings.push_back("LIVEKIT_JWT_PORT is deprecated, use LIVEKIT_JWT_BIND");
    }
    if (auto v = env.get("LIVEKIT_INSECURE_SKIP_VERIFY_TLS")) {
        // Only the exact magic value turns verification off, as in lk-jwt-service.
        if (*v == "YES_I_KNOW_WHAT_I_AM_DOING") c.skipVerifyTls = true;
    }
    if (auto v = env.get("LIVEKIT_LOG_LEVEL")) c.logLevel = *v;
    if (auto v = env.get("LIVEKIT_CS_API_URL_OVERRIDES")) {
        auto m = parseServerUrlList(*v, "LIVEKIT_CS_API_URL_OVERRIDES");
        if (!m) return m.error();
        for (auto& [k, url] : *m)
            c.csApiOverrides[k] = stripSlash(url);
    }
    if (auto v = env.get("LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS")) {
        auto s = parseInt<long>(*v, "LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS", 0, 1'000'000'000L);
        if (!s) return s.error();
    }
    if (env.get("LIVEKIT_REDIS_URL"))
        c.warnings.push_back("LIVEKIT_REDIS_URL is ignored: mxrtc-auth keeps delegation jobs in memory only");

    // mxrtc additions.
    if (auto v = env.get("MXRTC_AUTH_BASE_PATH")) c.basePath = *v;
    if (auto v = env.get("MXRTC_AUTH_TRUSTED_PROXIES")) {
        c.trustedProxies.clear();
        for (const auto& ip : splitList(*v)) {
            if (!classifyAddress(ip))
                return configError("MXRTC_AUTH_TRUSTED_PROXIES: \"" + ip + "\" is not an IP address");
            c.trustedProxies.push_back(ip);
        }
    }
    if (auto v = env.get("MXRTC_AUTH_CORS")) {
        auto b = parseBool(*v, "MXRTC_AUTH_CORS");
        if (!b) return b.error();
        c.cors = *b;
    }
    if (auto v = env.get("MXRTC_AUTH_METRICS")) {
        auto b = parseBool(*v, "MXRTC_AUTH_METRICS");
        if (!b) return b.error();
        c.metrics = *b;
    }
    if (auto v = env.get("MXRTC_AUTH_CREATE_ROOMS")) {
        auto b = parseBool(*v, "MXRTC_AUTH_CREATE_ROOMS");
        if (!b) return b.error();
        c.createRooms = *b;
    }
    if (auto v = env.get("MXRTC_AUTH_VERIFY_VIA")) {
        auto via = parseVia(*v, "MXRTC_AUTH_VERIFY_VIA");
        if (!via) return via.error();
        c.defaultVia = *via;
    }
    if (auto v = env.get("MXRTC_AUTH_HOMESERVER_URLS")) {
        auto m = parseServerUrlList(*v, "MXRTC_AUTH_HOMESERVER_URLS");
        if (!m) return m.error();
        for (auto& [name, url] : *m) {
            if (!parseServerName(name))
                return configError("MXRTC_AUTH_HOMESERVER_URLS: \"" + name + "\" is not a valid server name");
            c.homeservers[name].baseUrl = stripSlash(url);
        }
    }
    if (auto v = env.get("MXRTC_AUTH_VERIFY_VIA_CLIENT")) {
        for (const auto& name : splitList(*v)) {
            if (!parseServerName(name))
                return configError("MXRTC_AUTH_VERIFY_VIA_CLIENT: \"" + name +
                                   "\" is not a valid server name");
            c.homeservers[name].via = VerifyVia::Client;
        }
    }
    if (auto v = env.get("MXRTC_AUTH_ALLOW_LOOPBACK_TARGETS")) {
        auto b = parseBool(*v, "MXRTC_AUTH_ALLOW_LOOPBACK_TARGETS");
        if (!b) return b.error();
        c.targetPolicy.allowLoopback = *b;
    }
    if (auto v = env.get("MXRTC_AUTH_ALLOW_PRIVATE_TARGETS")) {
        auto b = parseBool(*v, "MXRTC_AUTH_ALLOW_PRIVATE_TARGETS");
        if (!b) return b.error();
        c.targetPolicy.allowPrivate = *b;
    }
    if (auto v = env.get("MXRTC_AUTH_VERIFY_TIMEOUT_MS")) {
        auto n = parseInt<long>(*v, "MXRTC_AUTH_VERIFY_TIMEOUT_MS", 100, 60'000);
        if (!n) return n.error();
        c.verifyTimeout = Duration{*n};
    }
    if (auto v = env.get("MXRTC_AUTH_CACHE_TTL_SECONDS")) {
        auto n = parseInt<long>(*v, "MXRTC_AUTH_CACHE_TTL_SECONDS", 0, 86'400);
        if (!n) return n.error();
        c.cacheTtl = Duration{*n * 1000};
    }
    if (auto v = env.get("MXRTC_AUTH_CACHE_SIZE")) {
        auto n = parseInt<long>(*v, "MXRTC_AUTH_CACHE_SIZE", 0, 10'000'000);
        if (!n) return n.error();
        c.cacheSize = static_cast<std::size_t>(*n);
    }
    if (auto v = env.get("MXRTC_AUTH_RATE_LIMIT")) {
        // "<per_second>/<burst>" or "0" / "off".
        if (*v == "0" || *v == "off") {
            c.rateLimit = RateLimit{0, 1};
        } else {
            const auto slash = v->find('/');
            if (slash == std::string::npos)
                return configError("MXRTC_AUTH_RATE_LIMIT: expected <per_second>/<burst> or off");
            auto rate = parseInt<long>(v->substr(0, slash), "MXRTC_AUTH_RATE_LIMIT", 0, 1'000'000'000);
            auto burst = parseInt<long>(v->substr(slash + 1), "MXRTC_AUTH_RATE_LIMIT", 1, 1'000'000'000);
            if (!rate) return rate.error();
            if (!burst) return burst.error();
            c.rateLimit = RateLimit{static_cast<double>(*rate), static_cast<double>(*burst)};
        }
    }
    if (auto v = env.get("MXRTC_AUTH_MAX_BODY_BYTES")) {
        auto n = parseInt<long>(*v, "MXRTC_AUTH_MAX_BODY_BYTES", 256, 16 * 1024 * 1024);
        if (!n) return n.error();
        c.maxBodyBytes = static_cast<std::size_t>(*n);
    }
    if (auto v = env.get("MXRTC_AUTH_LOG_FORMAT")) {
        if (*v == "json")
            c.logJson = true;
        else if (*v == "text")
            c.logJson = false;
        else
            return configError("MXRTC_AUTH_LOG_FORMAT: expected json or text");
    }
    if (auto v = env.get("MXRTC_AUTH_MEMBERSHIP_CHECK_URL")) {
        c.membership.enabled = true;
        c.membership.homeserverUrl = *v;
    }
    if (auto v = env.get("MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN"))
        c.membership.accessToken = Redacted<std::string>(*v);
    if (auto path = env.get("MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN_FILE")) {
        auto t = readSecretFile(in, *path, "MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN_FILE");
        if (!t) return t.error();
        c.membership.accessToken = Redacted<std::string>(trim(*t));
    }
    return {};
}

Result<void> validate(AuthConfig& c) {
    c.liveKitKey = trim(c.liveKitKey, " \r\n");
    c.liveKitSecret = Redacted<std::string>(trim(c.liveKitSecret.exposeSecret(), " \r\n"));
    if (c.liveKitKey.empty() || c.liveKitSecret.empty() || c.liveKitUrl.empty())
        return configError("LIVEKIT_KEY* / LIVEKIT_SECRET* and LIVEKIT_URL must be set");
    const auto& u = c.liveKitUrl;
    if (u.rfind("ws://", 0) != 0 && u.rfind("wss://", 0) != 0 && !isHttpUrl(u))
        return configError("LIVEKIT_URL: expected a ws://, wss://, http:// or https:// URL, got \"" + u +
                           "\"");
    if (c.fullAccessHomeservers.empty())
        return configError(
            "LIVEKIT_FULL_ACCESS_HOMESERVERS environment variable must be set to the homeserver(s) you "
            "intend to "
            "serve — see README for guidance");
    for (const auto& hs : c.fullAccessHomeservers) {
        if (hs == "*") {
            if (c.fullAccessHomeservers.size() != 1)
                c.warnings.push_back(
                    "LIVEKIT_FULL_ACCESS_HOMESERVERS: \"*\" only means everyone when it is the only entry");
            continue;
        }
        if (!parseServerName(hs))
            return configError("LIVEKIT_FULL_ACCESS_HOMESERVERS: \"" + hs + "\" is not a valid server name");
    }
    if (!c.basePath.empty()) {
        if (c.basePath.front() != '/') return configError("base path must start with '/'");
        c.basePath = stripSlash(c.basePath);
    }
    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    std::string level = c.logLevel;
    std::transform(level.begin(), level.end(), level.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (level == "warning") level = "warn";
    if (!kLevels.count(level))
        return configError("log level: expected trace|debug|info|warn|error, got \"" + c.logLevel + "\"");
    c.logLevel = level;
    if (c.membership.enabled) {
        if (!isHttpUrl(c.membership.homeserverUrl))
            return configError("membership check: homeserver_url must be an http(s) URL");
        if (c.membership.accessToken.empty())
            return configError(
                "membership check: an access token (access_token or access_token_file) is required");
        c.membership.homeserverUrl = stripSlash(c.membership.homeserverUrl);
    }
    for (const auto& [name, url] : c.csApiOverrides) {
        if (!isHttpUrl(url))
            return configError("LIVEKIT_CS_API_URL_OVERRIDES: \"" + url + "\" for " + name +
                               " is not an http(s) URL");
    }
    for (const auto& [name, ov] : c.homeservers) {
        if (!ov.baseUrl.empty() && !isHttpUrl(ov.baseUrl))
            return configError("homeserver override for " + name + ": \"" + ov.baseUrl +
                               "\" is not an http(s) URL");
    }
    return {};
}

#undef MXRTC_CFG

}  // namespace

std::string_view toString(VerifyVia v) {
    return v == VerifyVia::Federation ? "federation" : "client";
}

bool AuthConfig::isFullAccess(std::string_view matrixServerName) const {
    if (fullAccessHomeservers.size() == 1 && fullAccessHomeservers.front() == "*") return true;
    return std::find(fullAccessHomeservers.begin(), fullAccessHomeservers.end(), matrixServerName) !=
           fullAccessHomeservers.end();
}

HomeserverOverride AuthConfig::homeserverFor(std::string_view matrixServerName) const {
    HomeserverOverride ov;
    if (const auto it = homeservers.find(std::string(matrixServerName)); it != homeservers.end())
        ov = it->second;
    if (!ov.via) ov.via = defaultVia;
    return ov;
}

std::string AuthConfig::liveKitHttpUrl() const {
    std::string u = liveKitUrl;
    if (u.rfind("wss://", 0) == 0)
        u = "https://" + u.substr(6);
    else if (u.rfind("ws://", 0) == 0)
        u = "http://" + u.substr(5);
    return stripSlash(u);
}

Result<std::map<std::string, std::string>> parseServerUrlList(std::string_view text,
                                                              std::string_view variable) {
    std::map<std::string, std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const auto entry =
            text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        const auto eq = entry.find('=');
        const std::string server = eq == std::string_view::npos ? std::string() : trim(entry.substr(0, eq));
        const std::string url = eq == std::string_view::npos ? std::string() : trim(entry.substr(eq + 1));
        if (server.empty() || url.empty())
            return configError(std::string(variable) + ": invalid entry \"" + std::string(entry) +
                               "\", expected server_name=url");
        if (!isHttpUrl(url))
            return configError(std::string(variable) + ": \"" + url + "\" is not an http(s) URL");
        out[server] = url;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

const std::vector<std::string>& configEnvironmentVariables() {
    static const std::vector<std::string> kVars{"LIVEKIT_URL",
                                                "LIVEKIT_KEY",
                                                "LIVEKIT_SECRET",
                                                "LIVEKIT_KEY_FROM_FILE",
                                                "LIVEKIT_SECRET_FROM_FILE",
                                                "LIVEKIT_KEY_FILE",
                                                "LIVEKIT_FULL_ACCESS_HOMESERVERS",
                                                "LIVEKIT_LOCAL_HOMESERVERS",
                                                "LIVEKIT_JWT_BIND",
                                                "LIVEKIT_JWT_PORT",
                                                "LIVEKIT_INSECURE_SKIP_VERIFY_TLS",
                                                "LIVEKIT_LOG_LEVEL",
                                                "LIVEKIT_CS_API_URL_OVERRIDES",
                                                "LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS",
                                                "LIVEKIT_REDIS_URL",
                                                "MXRTC_AUTH_CONFIG",
                                                "MXRTC_AUTH_BASE_PATH",
                                                "MXRTC_AUTH_TRUSTED_PROXIES",
                                                "MXRTC_AUTH_CORS",
                                                "MXRTC_AUTH_METRICS",
                                                "MXRTC_AUTH_CREATE_ROOMS",
                                                "MXRTC_AUTH_VERIFY_VIA",
                                                "MXRTC_AUTH_HOMESERVER_URLS",
                                                "MXRTC_AUTH_VERIFY_VIA_CLIENT",
                                                "MXRTC_AUTH_ALLOW_LOOPBACK_TARGETS",
                                                "MXRTC_AUTH_ALLOW_PRIVATE_TARGETS",
                                                "MXRTC_AUTH_VERIFY_TIMEOUT_MS",
                                                "MXRTC_AUTH_CACHE_TTL_SECONDS",
                                                "MXRTC_AUTH_CACHE_SIZE",
                                                "MXRTC_AUTH_RATE_LIMIT",
                                                "MXRTC_AUTH_MAX_BODY_BYTES",
                                                "MXRTC_AUTH_LOG_FORMAT",
                                                "MXRTC_AUTH_MEMBERSHIP_CHECK_URL",
                                                "MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN",
                                                "MXRTC_AUTH_MEMBERSHIP_CHECK_TOKEN_FILE"};
    return kVars;
}

Result<AuthConfig> loadConfig(const ConfigInputs& inputs) {
    AuthConfig c;
    if (inputs.fileText) {
        const auto root = Json::parse(*inputs.fileText, nullptr, false, /*ignore_comments=*/true);
        if (root.is_discarded()) return configError("config file " + inputs.filePath + ": not valid JSON");
        auto r = applyFile(root, inputs, c);
        if (!r)
            return makeError(r.error().errcode, "config file " + inputs.filePath + ": " + r.error().message);
    }
    const Layer env{inputs};
    if (auto r = applyEnv(env, inputs, c); !r) return r.error();
    if (auto r = validate(c); !r) return r.error();
    return c;
}

}  // namespace mxrtc::auth
