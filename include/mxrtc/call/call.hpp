// mxrtc::call::Call — one object that joins a room's MatrixRTC call: our membership (with its
// MSC4140 delayed leave), who else is in the call, E2EE media keys over Olm, and the media backend
// the call's focus asks for (a WebRTC full mesh, or a LiveKit SFU). This is the API an application
// uses; the `mxrtc join-call` command is built on it.
//
//   matrix::Client client(io.get_executor(), session.homeserver);
//   client.setAccessToken(session.accessToken);
//   call::CallConfig config{.room = room, .media = {.source = call::MediaSource::Test}};
//   auto made = co_await call::Call::create(client, session, config, [](const call::CallEvent& e) {
//       std::cout << call::describe(e) << "\n";
//   });
//   if (!made) { /* made.error().message says which step failed */ }
//   auto& c = *made.value();
//   // … later, e.g. from a signal handler: c.leave();
//   co_return co_await c.run();  // 0 after a clean leave
//
// Threads: everything runs on the executor of the given matrix::Client (the caller's
// boost::asio::io_context; use one thread or a strand). Events are delivered on that executor,
// never concurrently. Media (GStreamer) runs on its own thread inside, invisible to the caller.
// Secrets (access tokens, keys, JWTs) never appear in events: keys are given as fingerprints.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/call/events.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/core/session.hpp"
#include "mxrtc/matrix/client.hpp"

namespace mxrtc::call {

enum class MediaSource {
    None,  // no media: membership, keys and signalling only
    Test,  // a sine tone (Opus) and a moving test pattern (VP8)
};

struct MediaConfig {
    MediaSource source = MediaSource::None;
    double toneHz = 0;  // 0: derived from our device id (300..900 Hz), so participants sound different
    int width = 160;
    int height = 120;
    int framerate = 15;
    bool muteAudio = false;  // join muted (mesh: MSC3291 metadata; LiveKit: muted tracks)
    bool muteVideo = false;
    std::string recordDir;  // write what each participant sends (Ogg Opus + WebM VP8); "" = do not
    // LAN / loopback tuning: 10 ms jitter buffer and 5 ms ICE check pacing.
    bool lowLatency = false;
    // Addresses to offer ICE host candidates on (default 127.0.0.1 only) and an optional STUN
    // server ("stun://host:port"), for calls between machines.
    std::vector<std::string> iceAddresses;
    std::string stunServer;
};

// Which backend carries the media, as our membership announces it.
struct FocusConfig {
    enum class Kind {
        Auto,     // the homeserver's advertised LiveKit transport (MSC4143 rtc/transports, then
                  // .well-known rtc_foci); none advertised: no focus (membership/keys only)
        Mesh,     // full mesh (MSC3401): peers connect directly, signalling over to-device
        LiveKit,  // a LiveKit SFU reached through the authorisation service at `liveKitServiceUrl`
    };
    Kind kind = Kind::Auto;
    std::string liveKitServiceUrl;
    // LiveKit: oldest_membership (everyone meets on the oldest member's SFU) or multi_sfu (Element
    // Call 0.26: publish on our own SFU). Either way we subscribe on every SFU a member publishes on.
    core::FocusSelection selection = core::FocusSelection::OldestMembership;
};

struct CallConfig {
    RoomId room;
    FocusConfig focus;
    MediaConfig media;
    bool watchOnly = false;             // follow the call without joining it
    std::optional<std::string> intent;  // m.call.intent ("audio" | "video")
    Duration delayedLeave{8'000};       // MSC4140: the server removes us this long after we vanish
    // E2EE media keys exchanged Olm-encrypted with every member device (Element Call's scheme).
    // The Olm account lives in `profileDir` (olm.db), its pickles encrypted with $MXRTC_PICKLE_KEY
    // or a generated <profileDir>/pickle.key (mode 0600).
    bool e2ee = false;
    std::string profileDir;
    enum class KeyTransport { ToDevice, RoomEvent };  // RoomEvent: legacy Megolm room events
    KeyTransport keyTransport = KeyTransport::ToDevice;
    // Resume /sync from a stored token and report new ones (for the caller to persist).
    std::string initialSyncToken;
    std::function<void(const std::string&)> onSyncToken;
};

class Call {
  public:
    using EventHandler = std::function<void(const CallEvent&)>;

    // Resolves the focus, opens the Olm account (e2ee) and the media engine. Fails with a one-line
    // message naming the step (e.g. "no GStreamer element 'vp8enc' (apt-get install …)").
    static boost::asio::awaitable<Result<std::unique_ptr<Call>>> create(matrix::Client& client,
                                                                        matrix::LoginSession self,
                                                                        CallConfig config,
                                                                        EventHandler onEvent);
    ~Call();
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

    // Joins (unless watchOnly) and follows the call until leave(); returns 0 after a clean leave,
    // 1 if the call failed (the last CallFailed event says why).
    boost::asio::awaitable<int> run();
    // Leaves: media first (peers hang up, the SFU connection closes), then our membership. Safe to
    // call more than once, and from a handler posted to the executor (e.g. on SIGINT).
    void leave();

    // Mute or unmute what we send (LiveKit: the track is muted on the SFU, which others see; the
    // encoder keeps running so unmuting is instant). Fails on mesh calls (not implemented there yet)
    // and without media.
    enum class Track { Audio, Video };
    Result<void> setMuted(Track track, bool muted);

    // Media per remote participant right now (empty without media).
    std::vector<ParticipantMedia> media() const;
    // The call as the room state shows it (members, their foci), for reports.
    const core::RoomCalls& calls() const;
    // The transport our membership announces (nullopt: none).
    std::optional<core::Transport> focus() const;

    struct Impl;

  private:
    explicit Call(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Transport discovery (MSC4143 `rtc/transports`, then `.well-known/matrix/client` rtc_foci): the
// first LiveKit transport the homeserver advertises.
boost::asio::awaitable<std::optional<core::Transport>> discoverLiveKitTransport(matrix::Client& client);

}  // namespace mxrtc::call
