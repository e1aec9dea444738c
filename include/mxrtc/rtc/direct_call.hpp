// DirectCall: a classic 1:1 call (MSC2746, in the spec since v1.7) in one room, signalled with
// m.call.* room events, media over one webrtcbin peer. core::PeerCall decides everything
// (invite lifetime, candidate batching, select_answer, hangup reasons); this class follows the
// room's timeline, sends the room events in order and performs the media effects.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mxrtc/core/peer_call.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/sync_loop.hpp"
#include "mxrtc/rtc/call_media.hpp"
#include "mxrtc/rtc/peer.hpp"

namespace mxrtc::rtc {

struct DirectCallOptions {
    RoomId room;
    MediaOptions media;
    core::PeerCallConfig peer = defaultPeerConfig();
    std::optional<UserId> invitee;  // placing: whom we call (absent: anyone in the room)
    Duration syncTimeout{10'000};

    static core::PeerCallConfig defaultPeerConfig();
};

struct DirectCallEvent {
    enum class Kind { Incoming, State, Ended, Dropped, Warning, RemoteMedia };
    Kind kind;
    std::string user;    // the other party, when known
    std::string detail;  // state name, "reason (by us|them)", drop reason, warning text
};

class DirectCall {
  public:
    using Listener = std::function<void(const DirectCallEvent&)>;

    DirectCall(matrix::Client& client, matrix::LoginSession self, MediaEngine& engine,
               DirectCallOptions options, Listener listener);
    ~DirectCall();
    DirectCall(const DirectCall&) = delete;
    DirectCall& operator=(const DirectCall&) = delete;

    // Places a call and runs it to its end. 0: the call was answered and ended by a hangup
    // (either side); 1: it never connected (rejected, unanswered, failed) or the room failed.
    boost::asio::awaitable<int> place();
    // Waits up to `wait` for an invite (one still within its lifetime, sent before or after we
    // started), answers it and runs the call to its end. Same return values.
    boost::asio::awaitable<int> answer(Duration wait);
    // Hang up (user_hangup) now, or stop waiting for an invite.
    void hangup();

    std::optional<PeerStats> stats() const;
    std::optional<core::CallState> state() const;
    std::optional<UserId> remote() const;
    // Why the call ended (set once it has).
    std::optional<core::CallEnded> ended() const { return m_ended; }

  private:
    struct Outgoing {
        std::string type;
        nlohmann::json content;
    };
    enum class Mode { Place, Answer };

    boost::asio::awaitable<int> run(Mode mode, Duration wait);
    void handleTimeline(const nlohmann::json& events, bool initial);
    void execute(core::CallEffects effects);
    boost::asio::awaitable<void> drainOutbox();
    boost::asio::awaitable<void> syncInto(matrix::SyncLoop& sync, Duration timeout,
                                          std::optional<matrix::MxResult<nlohmann::json>>& out);
    boost::asio::awaitable<void> timerLoop();
    void emit(DirectCallEvent::Kind kind, std::string detail);

    matrix::Client& m_client;
    matrix::LoginSession m_self;
    DirectCallOptions m_options;
    Listener m_listener;
    std::unique_ptr<CallMedia> m_media;
    std::unique_ptr<core::PeerCall> m_call;
    Mode m_mode = Mode::Place;
    bool m_connected = false;
    bool m_hangupRequested = false;
    std::optional<core::CallEnded> m_ended;
    std::deque<Outgoing> m_outbox;
    bool m_sending = false;
    boost::asio::steady_timer m_timer;
    boost::asio::steady_timer m_done;  // cancelled when the run should finish
    std::shared_ptr<bool> m_alive;
};

}  // namespace mxrtc::rtc
