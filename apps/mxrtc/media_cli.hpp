// Media reports shared by `join-call --media` (mxrtc::call::Call) and the 1:1 `call`/`answer`
// commands: one line (or JSON object) per remote participant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "mxrtc/call/events.hpp"

namespace mxrtc::cli {

// `final`: the last report before leaving. `identity`: the LiveKit identity ("" for mesh / 1:1).
void printMediaReport(const GlobalOptions& g, bool final, const call::ParticipantMedia& p);

// CliError unless every --ice-address is an IP address.
void checkIceAddresses(const std::vector<std::string>& addresses);

}  // namespace mxrtc::cli
