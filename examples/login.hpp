// Shared by the examples: log in with a password (keeping the access token on the client), and the
// FOCUS argument they take.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "mxrtc/call/call.hpp"
#include "mxrtc/matrix/client.hpp"

inline boost::asio::awaitable<std::optional<mxrtc::matrix::LoginSession>> logIn(mxrtc::matrix::Client& client,
                                                                                const std::string& user,
                                                                                const std::string& password) {
    auto login = co_await client.login(user, password);
    if (const auto* error = std::get_if<mxrtc::matrix::MatrixError>(&login)) {
        std::cerr << "login failed: " << error->message << "\n";
        co_return std::nullopt;
    }
    auto session = std::get<mxrtc::matrix::LoginSession>(login);
    client.setAccessToken(session.accessToken);
    co_return session;
}

// The examples' FOCUS argument: "mesh", a LiveKit JWT service URL (http(s)://…), or "" for the focus
// the homeserver advertises.
inline mxrtc::call::FocusConfig focusFromArg(const std::string& focus) {
    mxrtc::call::FocusConfig f;
    if (focus == "mesh") f.kind = mxrtc::call::FocusConfig::Kind::Mesh;
    if (focus.starts_with("http")) {
        f.kind = mxrtc::call::FocusConfig::Kind::LiveKit;
        f.liveKitServiceUrl = focus;
    }
    return f;
}
