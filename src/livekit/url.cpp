#include "mxrtc/livekit/url.hpp"

#include <array>

#include "mxrtc/livekit/messages.hpp"

namespace mxrtc::livekit {

namespace {

constexpr std::string_view kTokenParam = "access_token=";

std::string percentEncode(std::string_view s) {
    static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                  '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        }
    }
    return out;
}

std::string redactedValue(std::string_view fingerprint) {
    return "<redacted " + std::string(fingerprint) + ">";
}

// Builds the URL with `token` inserted verbatim as the access_token value.
std::string build(std::string_view base, std::string_view token, const SignalUrlOptions& o) {
    std::string scheme;
    std::string_view rest = base;
    if (auto p = base.find("://"); p != std::string_view::npos) {
        scheme = std::string(base.substr(0, p));
        rest = base.substr(p + 3);
        if (scheme == "http") scheme = "ws";
        if (scheme == "https") scheme = "wss";
    }
    std::string_view fragmentless = rest.substr(0, rest.find('#'));
    std::string_view query;
    std::string_view authorityAndPath = fragmentless;
    if (auto q = fragmentless.find('?'); q != std::string_view::npos) {
        query = fragmentless.substr(q + 1);
        authorityAndPath = fragmentless.substr(0, q);
    }
    while (!authorityAndPath.empty() && authorityAndPath.back() == '/')
        authorityAndPath.remove_suffix(1);

    std::string url;
    if (!scheme.empty()) url += scheme + "://";
    url += authorityAndPath;
    url += "/rtc?";
    url += kTokenParam;
    url += token;
    url += "&protocol=" + std::to_string(kProtocolVersion);
    url += std::string("&auto_subscribe=") + (o.autoSubscribe ? "1" : "0");
    url += "&sdk=cpp";
    url += "&version=" + percentEncode(o.sdkVersion);
    url += "&os=linux";
    url += std::string("&adaptive_stream=") + (o.adaptiveStream ? "1" : "0");
    if (o.reconnect) {
        url += "&reconnect=1";
        url += "&sid=" + percentEncode(o.participantSid);
        url += "&reconnect_reason=" + std::to_string(static_cast<int>(o.reconnectReason));
    }
    if (!query.empty()) {
        url += '&';
        url += query;
    }
    return url;
}

}  // namespace

std::string signalUrl(std::string_view wsBaseUrl, const SignalUrlOptions& options) {
    return build(wsBaseUrl, percentEncode(options.accessToken.exposeSecret()), options);
}

std::string signalUrlForLog(std::string_view wsBaseUrl, const SignalUrlOptions& options) {
    return build(wsBaseUrl, redactedValue(options.accessToken.fingerprint()), options);
}

std::string redactAccessToken(std::string_view url) {
    std::string out;
    std::size_t pos = 0;
    while (pos < url.size()) {
        std::size_t hit = url.find(kTokenParam, pos);
        if (hit == std::string_view::npos) break;
        // Only a parameter name: preceded by '?' or '&'.
        const bool isParam = hit > 0 && (url[hit - 1] == '?' || url[hit - 1] == '&');
        const std::size_t valueStart = hit + kTokenParam.size();
        out += url.substr(pos, valueStart - pos);
        if (!isParam) {
            pos = valueStart;
            continue;
        }
        std::size_t valueEnd = url.find_first_of("&#", valueStart);
        if (valueEnd == std::string_view::npos) valueEnd = url.size();
        out += redactedValue(fingerprint(url.substr(valueStart, valueEnd - valueStart)));
        pos = valueEnd;
    }
    if (pos < url.size()) out += url.substr(pos);
    return out;
}

std::vector<std::string> turnServerUris(const std::vector<IceServer>& servers) {
    std::vector<std::string> out;
    for (const auto& server : servers) {
        for (const auto& url : server.urls) {
            std::string_view rest;
            std::string scheme;
            if (url.starts_with("turn:")) {
                scheme = "turn://";
                rest = std::string_view(url).substr(5);
            } else if (url.starts_with("turns:")) {
                scheme = "turns://";
                rest = std::string_view(url).substr(6);
            } else {
                continue;
            }
            if (rest.starts_with("//")) rest.remove_prefix(2);  // already in URI form
            if (rest.empty() || rest.front() == '?' || rest.find('@') != std::string_view::npos) continue;
            out.push_back(scheme + percentEncode(server.username) + ":" +
                          percentEncode(server.credential.exposeSecret()) + "@" + std::string(rest));
        }
    }
    return out;
}

}  // namespace mxrtc::livekit
