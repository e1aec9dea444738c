// The Matrix key endpoints (end-to-end encryption) as free functions on a Client:
//   POST /_matrix/client/v3/keys/upload   device keys, one-time keys, fallback keys
//   POST /_matrix/client/v3/keys/query    device keys of users
//   POST /_matrix/client/v3/keys/claim    one one-time key per device
// Bodies and responses are the spec's JSON; olm::OlmMachine builds and consumes them. The access
// token comes from the LoginSession (Client keeps its own copy private).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "mxrtc/matrix/client.hpp"

namespace mxrtc::matrix {

boost::asio::awaitable<MxResult<nlohmann::json>> keysUpload(Client& client, const LoginSession& session,
                                                            nlohmann::json body);
boost::asio::awaitable<MxResult<nlohmann::json>> keysQuery(Client& client, const LoginSession& session,
                                                           nlohmann::json body);
boost::asio::awaitable<MxResult<nlohmann::json>> keysClaim(Client& client, const LoginSession& session,
                                                           nlohmann::json body);

}  // namespace mxrtc::matrix
