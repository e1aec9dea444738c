#include "mxrtc/call/events.hpp"

namespace mxrtc::call {

namespace {

template <typename... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

std::string_view eventName(const CallEvent& event) {
    return std::visit(Overloaded{
                          [](const MemberJoined&) { return std::string_view("member_joined"); },
                          [](const MemberLeft&) { return std::string_view("member_left"); },
                          [](const MembershipStatusChanged&) { return std::string_view("status"); },
                          [](const ProbablyLeftChanged&) { return std::string_view("probably_left"); },
                          [](const KeyReceived&) { return std::string_view("key_received"); },
                          [](const OwnKeyChanged&) { return std::string_view("own_key"); },
                          [](const Warning&) { return std::string_view("warning"); },
                          [](const CallFailed&) { return std::string_view("gave_up"); },
                          [](const PeerStarted&) { return std::string_view("peer_started"); },
                          [](const PeerStateChanged&) { return std::string_view("peer_state"); },
                          [](const PeerEnded&) { return std::string_view("peer_ended"); },
                          [](const RemoteMediaChanged&) { return std::string_view("remote_media"); },
                          [](const SignallingDropped&) { return std::string_view("dropped"); },
                          [](const SfuStateChanged&) { return std::string_view("sfu_state"); },
                          [](const MediaEnded&) { return std::string_view("media_ended"); },
                      },
                      event);
}

}  // namespace mxrtc::call
