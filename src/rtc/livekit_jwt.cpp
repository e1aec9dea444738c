#include "mxrtc/rtc/livekit_jwt.hpp"

#include "mxrtc/common/encoding.hpp"

namespace mxrtc::rtc {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {

Json openIdJson(const matrix::OpenIdToken& t) {
    return Json{{"access_token", t.accessToken},
                {"token_type", t.tokenType},
                {"matrix_server_name", t.matrixServerName},
                {"expires_in", t.expiresIn}};
}

std::string trimSlash(std::string url) {
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    return url;
}

struct Reply {
    int status = 0;  // 0: no HTTP answer
    std::string body;
    std::string error;  // transport error
    std::string errcode;
};

Reply toReply(const net::HttpResult& r) {
    Reply out;
    if (const auto* e = std::get_if<net::NetError>(&r)) {
        out.error = e->message;
        return out;
    }
    const auto& resp = std::get<net::HttpResponse>(r);
    out.status = resp.status;
    out.body = resp.body;
    const Json j = Json::parse(resp.body, nullptr, false);
    if (j.is_object()) out.errcode = j.value("errcode", std::string());
    return out;
}

std::string describe(const std::string& url, const Reply& r) {
    if (r.status == 0) return "JWT service " + url + " unreachable: " + r.error;
    std::string what = "JWT service " + url + " refused us (HTTP " + std::to_string(r.status);
    if (!r.errcode.empty()) what += " " + r.errcode;
    const Json j = Json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string())
        what += ": " + j["error"].get<std::string>();
    return what + ")";
}

// By value: awaitables start lazily, after the caller's temporaries are gone.
asio::awaitable<Reply> post(net::HttpClient& http, std::string url, Json body, Duration timeout) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = std::move(url);
    req.body = body.dump();
    req.headers.emplace_back("Content-Type", "application/json");
    req.timeout = timeout;
    co_return toReply(co_await http.request(std::move(req)));
}

bool unknownEndpoint(const Reply& r) {
    return r.status == 404 || r.status == 405 || r.errcode == "M_UNRECOGNIZED";
}

}  // namespace

Json sfuGetBody(const SfuTokenRequest& request, const matrix::OpenIdToken& token, bool withDelay) {
    Json body{{"room", request.room.str()},
              {"openid_token", openIdJson(token)},
              {"device_id", request.device.str()}};
    if (withDelay && request.delayId && request.delayTimeout.count() > 0) {
        body["delay_id"] = request.delayId->str();
        body["delay_timeout"] = request.delayTimeout.count();
    }
    return body;
}

Json getTokenBody(const SfuTokenRequest& request, const matrix::OpenIdToken& token) {
    return Json{{"room_id", request.room.str()},
                {"slot_id", request.slot.str()},
                {"openid_token", openIdJson(token)},
                {"member",
                 {{"id", request.member.str()},
                  {"claimed_user_id", request.user.str()},
                  {"claimed_device_id", request.device.str()}}}};
}

Result<SfuCredentials> parseSfuCredentials(std::string_view body) {
    const Json j = Json::parse(body, nullptr, false);
    if (!j.is_object()) return makeError(errcode::kNotJson, "the JWT service's answer is not JSON");
    SfuCredentials c;
    if (!j.contains("url") || !j["url"].is_string() || j["url"].get<std::string>().empty())
        return makeError(errcode::kBadJson, "the JWT service's answer has no url");
    if (!j.contains("jwt") || !j["jwt"].is_string())
        return makeError(errcode::kBadJson, "the JWT service's answer has no jwt");
    c.url = j["url"].get<std::string>();
    if (!c.url.starts_with("ws://") && !c.url.starts_with("wss://") && !c.url.starts_with("http://") &&
        !c.url.starts_with("https://"))
        return makeError(errcode::kBadJson, "the JWT service's url is not a ws(s):// URL");
    const std::string jwt = j["jwt"].get<std::string>();
    const auto dot1 = jwt.find('.');
    const auto dot2 = dot1 == std::string::npos ? std::string::npos : jwt.find('.', dot1 + 1);
    if (dot2 == std::string::npos) return makeError(errcode::kBadJson, "the JWT service's jwt is not a JWT");
    const auto payload = base64Decode(std::string_view(jwt).substr(dot1 + 1, dot2 - dot1 - 1));
    const Json claims =
        payload ? Json::parse(std::string(payload->begin(), payload->end()), nullptr, false) : Json();
    if (!claims.is_object()) return makeError(errcode::kBadJson, "the JWT's payload is not JSON");
    c.identity = claims.value("sub", std::string());
    if (const auto v = claims.find("video"); v != claims.end() && v->is_object())
        c.room = v->value("room", std::string());
    if (c.identity.empty() || c.room.empty())
        return makeError(errcode::kBadJson, "the JWT names no identity (sub) or room (video.room)");
    c.jwt = Redacted<std::string>(jwt);
    return c;
}

asio::awaitable<Result<SfuCredentials>> fetchSfuCredentials(matrix::Client& client, SfuTokenRequest request) {
    auto openId = co_await client.requestOpenIdToken(request.user);
    if (const auto* e = std::get_if<matrix::MatrixError>(&openId))
        co_return makeError(e->errcode.empty() ? errcode::kUnknown : e->errcode,
                            "cannot get an OpenID token from the homeserver: " + e->message);
    const auto& token = std::get<matrix::OpenIdToken>(openId);
    const std::string base = trimSlash(request.serviceUrl);
    auto& http = client.http();

    const auto finish = [&](const Reply& r, std::string endpoint, bool delegated) -> Result<SfuCredentials> {
        auto c = parseSfuCredentials(r.body);
        if (!c) return makeError(c.error().errcode, "JWT service " + base + ": " + c.error().message);
        c->endpoint = std::move(endpoint);
        c->delegated = delegated;
        return c;
    };
    const auto sfuGet = [&](bool withDelay) {
        return post(http, base + "/sfu/get", sfuGetBody(request, token, withDelay), request.timeout);
    };

    if (request.publishing) {
        const bool delay = request.delayId.has_value() && request.delayTimeout.count() > 0;
        Reply r = co_await sfuGet(delay);
        if (delay && r.status == 400 && r.errcode == "M_BAD_JSON") {
            r = co_await sfuGet(false);  // a service without delayed-leave delegation
            if (r.status == 200) co_return finish(r, "/sfu/get", false);
        }
        if (r.status == 200) co_return finish(r, "/sfu/get", delay);
        co_return makeError(r.status == 401 ? errcode::kUnauthorized : errcode::kUnknown, describe(base, r));
    }
    Reply r = co_await post(http, base + "/get_token", getTokenBody(request, token), request.timeout);
    if (r.status == 200) co_return finish(r, "/get_token", false);
    if (!unknownEndpoint(r))
        co_return makeError(r.status == 401 ? errcode::kUnauthorized : errcode::kUnknown, describe(base, r));
    r = co_await sfuGet(false);
    if (r.status == 200) co_return finish(r, "/sfu/get", false);
    co_return makeError(r.status == 401 ? errcode::kUnauthorized : errcode::kUnknown, describe(base, r));
}

}  // namespace mxrtc::rtc
