// Shared by the examples: log in with a password and keep the access token on the client.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <iostream>
#include <optional>
#include <string>

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
