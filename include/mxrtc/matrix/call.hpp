// The call shell: runs core::RoomCalls (who is in the call) and core::MembershipManager (our own
// membership) with real time and real HTTP. Everything it decides comes from core; this file only
// performs effects, arms one timer and feeds /sync into the session model.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mxrtc/core/call_session.hpp"
#include "mxrtc/e2ee/key_manager.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/olm_transport.hpp"

namespace mxrtc::matrix {

struct CallOptions {
    RoomId room;
    std::string application{"m.call"};
    std::string callId;  // "" = the room call
    std::vector<core::Transport> foci;
    core::FocusSelection focusSelection = core::FocusSelection::OldestMembership;
    std::optional<std::string> callIntent;
    core::MembershipManagerConfig membership;
    Duration syncTimeout{10'000};
    bool join = true;  // false: only watch the call
    // Resume /sync from a stored token (the room state is read at start either way) and report
    // each new token so the caller can persist it.
    std::string initialSyncToken;
    std::function<void(const std::string&)> onSyncToken;
    // E2EE media keys: when set, our key goes to every member device Olm-encrypted and theirs are
    // received, verified and reported (KeyReceived / OwnKey updates). Not owned.
    OlmTransport* encryption = nullptr;
    e2ee::KeyManagerConfig keys;
    // How our key goes out: Olm to-device (Element Call today) or the legacy room event
    // (io.element.call.encryption_keys Megolm-encrypted in the call room; spec §5.2). Keys arriving
    // either way are always accepted.
    enum class KeyTransport { ToDevice, RoomEvent };
    KeyTransport keyTransport = KeyTransport::ToDevice;
    // Every other to-device message of each sync (MSC3401 mesh signalling, ...), decrypted and
    // sender-verified when `encryption` is set, in the order the homeserver delivered them.
    std::function<void(const ReceivedToDevice&)> onToDevice;
};

struct CallUpdate {
    enum class Kind { MemberJoined, MemberLeft, Status, ProbablyLeft, Warning, GaveUp, KeyReceived, OwnKey };
    CallUpdate() = default;
    CallUpdate(Kind k, std::string u, std::string d, std::string text, TimePoint when)
        : kind(k), user(std::move(u)), device(std::move(d)), detail(std::move(text)), at(when) {}
    Kind kind = Kind::Warning;
    std::string user;
    std::string device;
    std::string detail;  // leave reason, status name, warning text, key index
    TimePoint at{};
    // KeyReceived / OwnKey: the key itself (never print it) and the LiveKit participant identity
    // frames under it carry.
    std::optional<e2ee::MediaKey> key;
    std::string identity;
    // Typed facts (the detail text above says the same for logs).
    bool self = false;                                        // MemberJoined / MemberLeft: this device
    core::LeaveReason leaveReason = core::LeaveReason::Left;  // MemberLeft
    core::MembershipStatus status{};                          // Status
    bool probablyLeft = false;                                // ProbablyLeft
};

class CallShell {
  public:
    using Listener = std::function<void(const CallUpdate&)>;

    CallShell(Client& client, LoginSession self, CallOptions options, Listener listener);
    ~CallShell();

    // Joins (unless options.join is false), follows the call until stop(), then leaves cleanly.
    // Returns 0 on a clean run, 1 if the membership manager gave up or the session was lost.
    boost::asio::awaitable<int> run();
    // Ask run() to leave and return (safe to call from a signal handler's posted handler).
    void stop();

    const core::RoomCalls& calls() const { return m_session.calls(); }
    core::MembershipStatus status() const { return m_session.status(); }
    // Our delayed leave (MSC4140), once the server scheduled it (handed to a LiveKit auth service).
    const std::optional<DelayId>& delayId() const { return m_session.delayId(); }

  private:
    using Effects = std::vector<core::MembershipEffect>;

    // Everything the core session decided: membership requests, member changes, key rosters.
    void apply(core::CallSessionOutput out);
    void execute(Effects effects);
    void notify(CallUpdate u) {
        if (m_listener) m_listener(u);
    }
    void rearm();
    void applyEvents(const nlohmann::json& events);
    void report(const std::vector<core::SessionChange>& changes);
    boost::asio::awaitable<void> timerLoop();
    boost::asio::awaitable<void> syncLoop();
    boost::asio::awaitable<void> perform(core::MembershipEffect effect);
    std::vector<e2ee::KeyMember> keyMembers() const;
    void executeKeys(std::vector<e2ee::KeyEffect> effects);
    boost::asio::awaitable<void> distribute(e2ee::DistributeKey effect);
    boost::asio::awaitable<void> handleCrypto(const nlohmann::json& sync);
    void deliverPlainToDevice(const nlohmann::json& sync);
    // Legacy media keys in Megolm-encrypted room events of the call room (spec §5.2), plus the
    // events of earlier syncs whose room key had not arrived yet.
    void receiveRoomKeyEvents(const nlohmann::json& timeline);

    Client& m_client;
    LoginSession m_self;
    CallOptions m_options;
    Listener m_listener;
    core::CallSession m_session;
    boost::asio::steady_timer m_timer;
    boost::asio::steady_timer m_stopSignal;
    bool m_stopping = false;
    bool m_failed = false;
    std::shared_ptr<bool> m_alive;
    std::unique_ptr<e2ee::KeyManager> m_keys;
    core::RoomKeyBacklog m_keyBacklog;  // legacy key events waiting for their room key
};

// Now as the core sees it (Unix ms).
TimePoint wallClockNow();

}  // namespace mxrtc::matrix
