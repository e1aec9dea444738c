// Matrix client-server API client (edge): the requests MatrixRTC needs, on net::HttpClient.
// Every call returns Result-like values; HTTP and Matrix errors are classified here once
// (MatrixError), so the core only ever sees kinds (core::FailureKind), never message text.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/event.hpp"
#include "mxrtc/core/membership_manager.hpp"
#include "mxrtc/net/http_client.hpp"

namespace mxrtc::matrix {

struct MatrixError {
    core::FailureKind kind = core::FailureKind::Other;
    int status = 0;             // HTTP status; 0 for transport errors
    std::string errcode;        // M_FORBIDDEN, ... or "" for transport errors
    std::string message;        // one line, safe to show and log
    Duration retryAfter{0};     // rate limits
    Duration maxDelay{0};       // MSC4140 delay too large
    bool unknownToken = false;  // 401 M_UNKNOWN_TOKEN / M_MISSING_TOKEN

    core::RequestFailure toFailure() const { return {kind, retryAfter, maxDelay, errcode}; }
};

template <typename T>
using MxResult = std::variant<T, MatrixError>;

template <typename T>
bool ok(const MxResult<T>& r) {
    return r.index() == 0;
}

// Classifies one HTTP outcome (exposed for unit tests).
MatrixError classify(const net::HttpResponse& response);
MatrixError classify(const net::NetError& error);

struct LoginSession {
    UserId userId;
    DeviceId deviceId;
    std::string accessToken;  // never logged or printed
    std::string homeserver;   // base URL used
};

struct SendResult {
    std::optional<EventId> eventId;
    std::optional<DelayId> delayId;
};

enum class DelayedAction { Restart, Send, Cancel };
std::string_view toString(DelayedAction a);

struct OpenIdToken {
    std::string accessToken;
    std::string tokenType;
    std::string matrixServerName;
    std::int64_t expiresIn = 0;
};

class Client {
  public:
    Client(boost::asio::any_io_executor executor, std::string homeserver,
           net::HttpClientOptions options = {});

    const std::string& homeserver() const noexcept { return m_base; }
    void setAccessToken(std::string token) { m_token = std::move(token); }
    bool hasAccessToken() const noexcept { return !m_token.empty(); }
    net::HttpClient& http() noexcept { return m_http; }

    // Discovery: https://<server>/.well-known/matrix/client -> m.homeserver.base_url (and rtc_foci).
    static boost::asio::awaitable<MxResult<nlohmann::json>> wellKnown(net::HttpClient& http,
                                                                      const std::string& origin);

    boost::asio::awaitable<MxResult<nlohmann::json>> versions();
    boost::asio::awaitable<MxResult<LoginSession>> login(const std::string& user, const std::string& password,
                                                         const std::string& deviceId = "");
    boost::asio::awaitable<MxResult<LoginSession>> registerUser(const std::string& user,
                                                                const std::string& password);
    boost::asio::awaitable<MxResult<UserId>> whoami();
    boost::asio::awaitable<MxResult<nlohmann::json>> sync(const std::string& since, Duration timeout,
                                                          const std::string& filter);
    boost::asio::awaitable<MxResult<std::vector<core::RoomEvent>>> roomState(const RoomId& room);
    boost::asio::awaitable<MxResult<nlohmann::json>> joinedRooms();
    boost::asio::awaitable<MxResult<RoomId>> createRoom(const nlohmann::json& body);
    boost::asio::awaitable<MxResult<RoomId>> joinRoom(const std::string& roomIdOrAlias);
    boost::asio::awaitable<MxResult<nlohmann::json>> roomMessages(const RoomId& room, const std::string& from,
                                                                  const std::string& dir, int limit,
                                                                  const std::string& filter);
    // PUT /rooms/{room}/state/{type}/{stateKey}[?org.matrix.msc4140.delay=ms]
    boost::asio::awaitable<MxResult<SendResult>> sendState(const RoomId& room, const std::string& type,
                                                           const std::string& stateKey,
                                                           const nlohmann::json& content,
                                                           std::optional<Duration> delay = std::nullopt);
    boost::asio::awaitable<MxResult<SendResult>> sendEvent(const RoomId& room, const std::string& type,
                                                           const nlohmann::json& content);
    boost::asio::awaitable<MxResult<bool>> delayedEvent(const DelayId& id, DelayedAction action,
                                                        Duration timeout);
    // messages: {user: {device: content}}
    boost::asio::awaitable<MxResult<bool>> sendToDevice(const std::string& type,
                                                        const nlohmann::json& messages);
    boost::asio::awaitable<MxResult<OpenIdToken>> requestOpenIdToken(const UserId& user);
    boost::asio::awaitable<MxResult<nlohmann::json>> rtcTransports();

    // Transaction ids: unique per client instance (time-seeded prefix + counter).
    std::string nextTxnId();

  private:
    boost::asio::awaitable<MxResult<nlohmann::json>> call(std::string method, const std::string& path,
                                                          std::optional<nlohmann::json> body,
                                                          Duration timeout, bool authenticated = true);

    std::string m_base;  // without trailing slash
    std::string m_token;
    net::HttpClient m_http;
    std::string m_txnPrefix;
    std::uint64_t m_txnCounter = 0;
};

}  // namespace mxrtc::matrix
