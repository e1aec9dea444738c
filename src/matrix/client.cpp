#include "mxrtc/matrix/client.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <chrono>

namespace mxrtc::matrix {

namespace asio = boost::asio;
using Json = nlohmann::json;
using core::FailureKind;

namespace {

std::string oneLine(std::string s) {
    for (auto& c : s) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    if (s.size() > 300) s.resize(300);
    return s;
}

std::optional<std::int64_t> intField(const Json& j, const char* key) {
    if (!j.is_object()) return std::nullopt;
    auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<std::int64_t>();
}

// "... exceeds the allowed maximum (86400000ms)" -> 86400000
std::optional<std::int64_t> trailingMs(const std::string& text) {
    const auto end = text.rfind("ms)");
    if (end == std::string::npos) return std::nullopt;
    auto start = text.rfind('(', end);
    if (start == std::string::npos) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data() + start + 1, text.data() + end, v);
    if (ec != std::errc{} || p != text.data() + end) return std::nullopt;
    return v;
}

}  // namespace

MatrixError classify(const net::HttpResponse& r) {
    MatrixError e;
    e.status = r.status;
    Json body = Json::parse(r.body, nullptr, false);
    std::string error;
    if (body.is_object()) {
        if (auto it = body.find("errcode"); it != body.end() && it->is_string())
            e.errcode = it->get<std::string>();
        if (auto it = body.find("error"); it != body.end() && it->is_string()) error = it->get<std::string>();
        if (auto it = body.find("org.matrix.msc4140.errcode"); it != body.end() && it->is_string()) {
            e.errcode = it->get<std::string>();
        }
    }
    e.message = oneLine("HTTP " + std::to_string(r.status) + (e.errcode.empty() ? "" : " " + e.errcode) +
                        (error.empty() ? "" : ": " + error));
    if (r.status == 429 || e.errcode == "M_LIMIT_EXCEEDED") {
        e.kind = FailureKind::RateLimited;
        if (auto ms = intField(body, "retry_after_ms")) {
            e.retryAfter = Duration{*ms};
        } else if (auto h = r.header("Retry-After")) {
            std::int64_t s = 0;
            auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), s);
            if (ec == std::errc{}) e.retryAfter = Duration{s * 1000};
        }
        return e;
    }
    if (e.errcode == "M_UNRECOGNIZED") {
        e.kind = FailureKind::Unrecognized;
        return e;
    }
    if (e.errcode == "M_MAX_DELAY_EXCEEDED" || e.errcode == "ORG.MATRIX.MSC4140_DELAY_TOO_LARGE" ||
        e.errcode == "ORG.MATRIX.MSC4140_MAX_DELAY_EXCEEDED") {
        e.kind = FailureKind::MaxDelayExceeded;
        auto max = intField(body, "org.matrix.msc4140.max_delay");
        if (!max) max = intField(body, "max_delay");
        if (!max) max = trailingMs(error);
        if (max) e.maxDelay = Duration{*max};
        return e;
    }
    if (r.status == 401) {
        e.kind = FailureKind::Forbidden;
        e.unknownToken = true;
        return e;
    }
    if (r.status == 403) {
        e.kind = FailureKind::Forbidden;
        return e;
    }
    if (r.status == 404) {
        e.kind = FailureKind::NotFound;
        return e;
    }
    if (r.status == 405) {
        e.kind = FailureKind::Unrecognized;
        return e;
    }
    if (r.status == 408) {
        e.kind = FailureKind::Timeout;
        return e;
    }
    if (r.status >= 500) {
        e.kind = FailureKind::Server;
        return e;
    }
    e.kind = FailureKind::Other;
    return e;
}

MatrixError classify(const net::NetError& n) {
    MatrixError e;
    e.kind = n.kind == net::NetErrorKind::Timeout ? FailureKind::Timeout : FailureKind::Network;
    e.message = n.message;
    return e;
}

std::string_view toString(DelayedAction a) {
    switch (a) {
        case DelayedAction::Restart:
            return "restart";
        case DelayedAction::Send:
            return "send";
        case DelayedAction::Cancel:
            return "cancel";
    }
    return "restart";
}

Client::Client(asio::any_io_executor executor, std::string homeserver, net::HttpClientOptions options)
    : m_base(std::move(homeserver)), m_http(std::move(executor), std::move(options)) {
    while (!m_base.empty() && m_base.back() == '/')
        m_base.pop_back();
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    m_txnPrefix =
        "mxrtc" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

std::string Client::nextTxnId() {
    return m_txnPrefix + "." + std::to_string(++m_txnCounter);
}

asio::awaitable<MxResult<Json>> Client::call(std::string method, const std::string& path,
                                             std::optional<Json> body, Duration timeout, bool authenticated) {
    net::HttpRequest req;
    req.method = std::move(method);
    req.url = m_base + path;
    req.timeout = timeout;
    req.headers.emplace_back("Accept", "application/json");
    if (authenticated && !m_token.empty()) req.headers.emplace_back("Authorization", "Bearer " + m_token);
    if (body) {
        req.headers.emplace_back("Content-Type", "application/json");
        req.body = body->dump();
    }
    auto r = co_await m_http.request(std::move(req));
    if (auto* err = std::get_if<net::NetError>(&r)) co_return classify(*err);
    auto& res = std::get<net::HttpResponse>(r);
    if (res.status < 200 || res.status >= 300) co_return classify(res);
    Json j = res.body.empty() ? Json::object() : Json::parse(res.body, nullptr, false);
    if (j.is_discarded()) {
        MatrixError e;
        e.kind = FailureKind::Other;
        e.status = res.status;
        e.message = "HTTP " + std::to_string(res.status) + ": response is not JSON";
        co_return e;
    }
    co_return j;
}

asio::awaitable<MxResult<Json>> Client::wellKnown(net::HttpClient& http, const std::string& origin) {
    net::HttpRequest request;  // a named local: no braced temporary inside co_await (GCC 12)
    request.method = "GET";
    request.url = origin + "/.well-known/matrix/client";
    request.timeout = Duration{5000};
    auto r = co_await http.request(request);
    if (auto* err = std::get_if<net::NetError>(&r)) co_return classify(*err);
    auto& res = std::get<net::HttpResponse>(r);
    if (res.status != 200) co_return classify(res);
    Json j = Json::parse(res.body, nullptr, false);
    if (!j.is_object()) {
        MatrixError e;
        e.message = ".well-known/matrix/client is not a JSON object";
        co_return e;
    }
    co_return j;
}

asio::awaitable<MxResult<Json>> Client::versions() {
    co_return co_await call("GET", "/_matrix/client/versions", std::nullopt, Duration{10'000}, false);
}

namespace {
MxResult<LoginSession> toSession(const MxResult<Json>& r, const std::string& base) {
    if (auto* e = std::get_if<MatrixError>(&r)) return *e;
    const Json& j = std::get<Json>(r);
    if (!j.contains("access_token") || !j["access_token"].is_string() || !j.contains("user_id") ||
        !j.contains("device_id")) {
        MatrixError e;
        e.message = "login response lacks access_token/user_id/device_id";
        return e;
    }
    return LoginSession{UserId(j["user_id"].get<std::string>()), DeviceId(j["device_id"].get<std::string>()),
                        j["access_token"].get<std::string>(), base};
}
}  // namespace

asio::awaitable<MxResult<LoginSession>> Client::login(const std::string& user, const std::string& password,
                                                      const std::string& deviceId) {
    Json body{{"type", "m.login.password"},
              {"identifier", {{"type", "m.id.user"}, {"user", user}}},
              {"password", password},
              {"initial_device_display_name", "mxrtc"}};
    if (!deviceId.empty()) body["device_id"] = deviceId;
    auto r = co_await call("POST", "/_matrix/client/v3/login", body, Duration{20'000}, false);
    co_return toSession(r, m_base);
}

asio::awaitable<MxResult<LoginSession>> Client::registerUser(const std::string& user,
                                                             const std::string& password) {
    Json body{{"username", user}, {"password", password}, {"auth", {{"type", "m.login.dummy"}}}};
    auto r = co_await call("POST", "/_matrix/client/v3/register", body, Duration{20'000}, false);
    co_return toSession(r, m_base);
}

asio::awaitable<MxResult<UserId>> Client::whoami() {
    auto r = co_await call("GET", "/_matrix/client/v3/account/whoami", std::nullopt, Duration{10'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    const Json& j = std::get<Json>(r);
    co_return UserId(j.value("user_id", std::string()));
}

asio::awaitable<MxResult<Json>> Client::sync(const std::string& since, Duration timeout,
                                             const std::string& filter) {
    std::string path = "/_matrix/client/v3/sync?timeout=" + std::to_string(timeout.count());
    if (!since.empty()) path += "&since=" + net::urlEncode(since);
    if (!filter.empty()) path += "&filter=" + net::urlEncode(filter);
    co_return co_await call("GET", path, std::nullopt, timeout + Duration{15'000});
}

asio::awaitable<MxResult<std::vector<core::RoomEvent>>> Client::roomState(const RoomId& room) {
    auto r = co_await call("GET", "/_matrix/client/v3/rooms/" + net::urlEncode(room.str()) + "/state",
                           std::nullopt, Duration{20'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    std::vector<core::RoomEvent> events;
    for (const auto& ev : std::get<Json>(r)) {
        auto parsed = core::parseRoomEvent(ev);
        if (parsed) events.push_back(std::move(parsed.value()));
    }
    co_return events;
}

asio::awaitable<MxResult<Json>> Client::joinedRooms() {
    co_return co_await call("GET", "/_matrix/client/v3/joined_rooms", std::nullopt, Duration{10'000});
}

asio::awaitable<MxResult<RoomId>> Client::createRoom(const Json& body) {
    auto r = co_await call("POST", "/_matrix/client/v3/createRoom", body, Duration{30'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return RoomId(std::get<Json>(r).value("room_id", std::string()));
}

asio::awaitable<MxResult<RoomId>> Client::joinRoom(const std::string& roomIdOrAlias) {
    auto r = co_await call("POST", "/_matrix/client/v3/join/" + net::urlEncode(roomIdOrAlias), Json::object(),
                           Duration{30'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return RoomId(std::get<Json>(r).value("room_id", std::string()));
}

asio::awaitable<MxResult<Json>> Client::roomMessages(const RoomId& room, const std::string& from,
                                                     const std::string& dir, int limit,
                                                     const std::string& filter) {
    std::string path = "/_matrix/client/v3/rooms/" + net::urlEncode(room.str()) + "/messages?dir=" + dir +
                       "&limit=" + std::to_string(limit);
    if (!from.empty()) path += "&from=" + net::urlEncode(from);
    if (!filter.empty()) path += "&filter=" + net::urlEncode(filter);
    co_return co_await call("GET", path, std::nullopt, Duration{30'000});
}

asio::awaitable<MxResult<SendResult>> Client::sendState(const RoomId& room, const std::string& type,
                                                        const std::string& stateKey, const Json& content,
                                                        std::optional<Duration> delay) {
    std::string path = "/_matrix/client/v3/rooms/" + net::urlEncode(room.str()) + "/state/" +
                       net::urlEncode(type) + "/" + net::urlEncode(stateKey);
    if (delay) path += "?org.matrix.msc4140.delay=" + std::to_string(delay->count());
    auto r = co_await call("PUT", path, content, Duration{20'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    const Json& j = std::get<Json>(r);
    SendResult s;
    if (auto it = j.find("event_id"); it != j.end() && it->is_string())
        s.eventId = EventId(it->get<std::string>());
    if (auto it = j.find("delay_id"); it != j.end() && it->is_string())
        s.delayId = DelayId(it->get<std::string>());
    if (delay && !s.delayId) {
        // A server without MSC4140 ignores the parameter and sends the event at once.
        MatrixError e;
        e.kind = FailureKind::Unrecognized;
        e.status = 200;
        e.message = "the homeserver ignored org.matrix.msc4140.delay (no delayed-event support)";
        co_return e;
    }
    co_return s;
}

asio::awaitable<MxResult<SendResult>> Client::sendEvent(const RoomId& room, const std::string& type,
                                                        const Json& content) {
    const std::string path = "/_matrix/client/v3/rooms/" + net::urlEncode(room.str()) + "/send/" +
                             net::urlEncode(type) + "/" + net::urlEncode(nextTxnId());
    auto r = co_await call("PUT", path, content, Duration{20'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    SendResult s;
    const Json& j = std::get<Json>(r);
    if (auto it = j.find("event_id"); it != j.end() && it->is_string())
        s.eventId = EventId(it->get<std::string>());
    co_return s;
}

asio::awaitable<MxResult<bool>> Client::delayedEvent(const DelayId& id, DelayedAction action,
                                                     Duration timeout) {
    const std::string path =
        "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/" + net::urlEncode(id.str());
    Json body = Json::object();  // (a local: GCC 12 miscompiles braced temporaries in co_await)
    body["action"] = std::string(toString(action));
    auto r = co_await call("POST", path, std::move(body), timeout);
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return true;
}

asio::awaitable<MxResult<bool>> Client::sendToDevice(const std::string& type, const Json& messages) {
    const std::string path =
        "/_matrix/client/v3/sendToDevice/" + net::urlEncode(type) + "/" + net::urlEncode(nextTxnId());
    Json body = Json::object();
    body["messages"] = messages;
    auto r = co_await call("PUT", path, std::move(body), Duration{20'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return true;
}

asio::awaitable<MxResult<OpenIdToken>> Client::requestOpenIdToken(const UserId& user) {
    auto r = co_await call("POST",
                           "/_matrix/client/v3/user/" + net::urlEncode(user.str()) + "/openid/request_token",
                           Json::object(), Duration{10'000});
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    const Json& j = std::get<Json>(r);
    co_return OpenIdToken{j.value("access_token", std::string()), j.value("token_type", std::string()),
                          j.value("matrix_server_name", std::string()),
                          j.value("expires_in", std::int64_t{0})};
}

asio::awaitable<MxResult<Json>> Client::rtcTransports() {
    co_return co_await call("GET", "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports", std::nullopt,
                            Duration{10'000});
}

}  // namespace mxrtc::matrix
