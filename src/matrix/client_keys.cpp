#include "mxrtc/matrix/client_keys.hpp"

namespace mxrtc::matrix {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {

asio::awaitable<MxResult<Json>> postJson(Client& client, const LoginSession& session, std::string path,
                                         Json body, Duration timeout) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = client.homeserver() + path;
    req.timeout = timeout;
    req.headers.emplace_back("Accept", "application/json");
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Authorization", "Bearer " + session.accessToken);
    req.body = body.dump();
    auto r = co_await client.http().request(std::move(req));
    if (auto* err = std::get_if<net::NetError>(&r)) co_return classify(*err);
    auto& res = std::get<net::HttpResponse>(r);
    if (res.status < 200 || res.status >= 300) co_return classify(res);
    Json j = Json::parse(res.body, nullptr, false);
    if (!j.is_object()) {
        MatrixError e;
        e.status = res.status;
        e.message = "HTTP " + std::to_string(res.status) + ": " + path + " response is not a JSON object";
        co_return e;
    }
    co_return j;
}

}  // namespace

asio::awaitable<MxResult<Json>> keysUpload(Client& client, const LoginSession& session, Json body) {
    co_return co_await postJson(client, session, "/_matrix/client/v3/keys/upload", std::move(body),
                                Duration{20'000});
}

asio::awaitable<MxResult<Json>> keysQuery(Client& client, const LoginSession& session, Json body) {
    co_return co_await postJson(client, session, "/_matrix/client/v3/keys/query", std::move(body),
                                Duration{30'000});
}

asio::awaitable<MxResult<Json>> keysClaim(Client& client, const LoginSession& session, Json body) {
    co_return co_await postJson(client, session, "/_matrix/client/v3/keys/claim", std::move(body),
                                Duration{30'000});
}

}  // namespace mxrtc::matrix
