// WebSocket client (RFC 6455) on Boost.Asio/Beast with C++20 coroutines: the LiveKit signal
// connection. Edge code like HttpClient: it owns the socket; the protocol lives in core.
//
//  * ws:// and wss:// (OpenSSL, SNI, peer verification against the system store unless disabled)
//  * connect() covers resolve + TCP + TLS + upgrade under one deadline; a refused upgrade reports
//    the HTTP status and body (LiveKit answers 401 with the reason in the body)
//  * one background reader per connection: server pings are answered while no receive() is
//    pending, and cancelling a receive() (e.g. racing it against a timer) never disturbs the stream
//  * sends are queued and written in order; safe to call while another send is in flight
//  * incoming messages are capped (maxMessageBytes); errors are values (WsError), never exceptions
//  * URLs in messages are logged without their query (LiveKit puts the JWT in access_token=)
//
// One object is one connection: connect() once; to reconnect, make a new WebSocket. Single-threaded
// use on one executor (like HttpClient). Destroying the object while operations are pending is
// safe: they complete (Closed or Cancelled) on the executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "mxrtc/common/time.hpp"
#include "mxrtc/net/http_client.hpp"

namespace mxrtc::net {

struct WebSocketOptions {
    bool verifyTls = true;
    Duration connectTimeout{10'000};  // resolve + TCP + TLS + upgrade
    Duration closeTimeout{2'000};     // waiting for the server's close frame after close()
    std::size_t maxMessageBytes = 8 * 1024 * 1024;
    std::string userAgent{"mxrtc/0.1"};
};

struct WsMessage {
    bool binary = true;
    std::string data;
};

struct WsError {
    NetErrorKind kind = NetErrorKind::Protocol;
    std::string message;          // one line, no secrets
    int httpStatus = 0;           // a refused upgrade: the server's status (401, 404, ...)
    std::string httpBody;         // ... and its body (LiveKit puts the reason there), with the query
                                  // values and credentials we sent replaced by "[redacted]"
    std::uint16_t closeCode = 0;  // kind Closed: the peer's close code (1000 normal, 1009 too big...)
    std::string closeReason;      // kind Closed: the peer's close reason
};

class WebSocket {
  public:
    explicit WebSocket(boost::asio::any_io_executor executor, WebSocketOptions options = {});
    ~WebSocket();  // close(): pending operations complete on the executor
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    // Resolve + TCP (TCP_NODELAY) + TLS (SNI) + upgrade under options.connectTimeout. `headers`
    // are added to the upgrade request. nullopt on success.
    boost::asio::awaitable<std::optional<WsError>> connect(std::string url, Headers headers = {});

    // The next message. WsError{Closed} with the close code/reason once the connection is closed
    // (by either side); messages that arrived before the server's close are delivered first.
    // A message over maxMessageBytes fails the connection with TooLarge.
    boost::asio::awaitable<std::variant<WsMessage, WsError>> receive();

    // Queues one message; completes once it has been written (or the connection failed). Messages
    // are written in call order. A cancelled send may still be written (it was queued).
    boost::asio::awaitable<std::optional<WsError>> send(std::string data, bool binary = true);

    // Best-effort close handshake (bounded by closeTimeout) in the background. A pending or later
    // receive() completes with Closed at once; never blocks. Also cancels a pending connect().
    void close();

    bool isOpen() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

}  // namespace mxrtc::net
