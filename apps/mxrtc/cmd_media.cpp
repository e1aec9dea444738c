#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "media_cli.hpp"

#ifdef MXRTC_HAVE_RTC
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include "mxrtc/matrix/store.hpp"
#include "mxrtc/rtc/direct_call.hpp"
#include "mxrtc/rtc/mesh_session.hpp"
#endif

namespace mxrtc::cli {

using Json = nlohmann::json;

#ifndef MXRTC_HAVE_RTC

std::unique_ptr<CallMediaCli> CallMediaCli::start(const GlobalOptions&, boost::asio::io_context&,
                                                  matrix::Client&, const matrix::LoginSession&,
                                                  matrix::CallOptions&, const MediaCliOptions&, bool) {
    throw CliError{"this mxrtc was built without GStreamer (module rtc): --media is not available"};
}

void registerMediaCommands(CLI::App&, const GlobalOptions&, Action&) {}  // no media: no call/answer

#else

namespace {

void checkIceAddresses(const std::vector<std::string>& addresses) {
    for (const auto& a : addresses) {
        boost::system::error_code ec;
        boost::asio::ip::make_address(a, ec);
        if (ec) throw CliError{"--ice-address '" + a + "' is not an IP address of this machine"};
    }
}

long msOf(const std::optional<Duration>& d) {
    return d ? static_cast<long>(d->count()) : -1;
}

// One per-peer media report line (mesh and 1:1 calls print the same shape).
void printPeerReport(const GlobalOptions& g, bool final, const std::string& user, const std::string& device,
                     std::string_view state, const rtc::PeerStats& s, std::optional<Duration> firstFrame,
                     std::optional<Duration> connected) {
    if (g.json) {
        Json j{{"event", "media"},
               {"final", final},
               {"user_id", user},
               {"state", std::string(state)},
               {"audio_buffers", s.audioBuffersDecoded},
               {"audio_rms", std::round(s.audioRms * 1000) / 1000},
               {"video_frames", s.videoFramesDecoded},
               {"frames_encrypted", s.framesEncrypted},
               {"frames_decrypted", s.framesDecrypted},
               {"decrypt_failures", s.decryptFailures},
               {"member_seen_to_first_frame_ms", msOf(firstFrame)},
               {"member_seen_to_connected_ms", msOf(connected)}};
        if (!device.empty()) j["device_id"] = device;
        std::cout << j.dump() << std::endl;
        return;
    }
    std::cout << (final ? "final  " : "media  ") << user << (device.empty() ? "" : " " + device) << " "
              << state << ": audio " << s.audioBuffersDecoded << " buffers (rms "
              << std::round(s.audioRms * 1000) / 1000 << "), video " << s.videoFramesDecoded
              << " frames, decrypted " << s.framesDecrypted << ", undecryptable " << s.decryptFailures;
    if (firstFrame) std::cout << ", first frame " << firstFrame->count() << " ms after join";
    std::cout << std::endl;
}

class MeshMediaCli final : public CallMediaCli {
  public:
    MeshMediaCli(const GlobalOptions& g, boost::asio::io_context& io,
                 std::unique_ptr<rtc::MediaEngine> engine, matrix::Client& client,
                 const matrix::LoginSession& self, matrix::CallOptions& options, const MediaCliOptions& media,
                 bool e2ee)
        : m_g(g), m_engine(std::move(engine)), m_timer(io), m_interval(media.statsInterval) {
        rtc::MeshSessionConfig config;
        config.media.e2ee = e2ee;
        config.media.recordDir = media.recordDir;
        config.media.streamId = "mxrtc-" + self.deviceId.str();
        if (!media.iceAddresses.empty()) config.media.iceAddresses = media.iceAddresses;
        config.media.stunServer = media.stunServer;
        config.media.audioMuted = media.muteAudio;
        config.media.videoMuted = media.muteVideo;
        if (media.lowLatency) {
            config.media.jitterLatencyMs = 10;
            config.media.icePacingMs = 5;
        }
        // A tone per device (300..900 Hz) unless asked: recordings tell the participants apart.
        std::size_t h = std::hash<std::string>{}(self.deviceId.str());
        config.media.toneFrequency = media.toneHz > 0 ? media.toneHz : 300.0 + static_cast<double>(h % 601);
        m_session = std::make_unique<rtc::MeshSession>(
            client, self, core::slotIdFor(options.application, options.callId), *m_engine, config,
            options.encryption, [this](const rtc::MeshEvent& e) { print(e); });
        options.onToDevice = [this](const matrix::ReceivedToDevice& m) {
            if (m_session) m_session->onToDevice(m);
        };
        if (m_interval > 0) arm();
    }
    ~MeshMediaCli() override {
        m_timer.cancel();
        m_session.reset();
        m_engine.reset();
    }

    void onUpdate(const matrix::CallUpdate& update, const core::RoomCalls& calls) override {
        if (m_session) m_session->onCallUpdate(update, calls);
    }

    void stop() override {
        if (m_stopped || !m_session) return;
        m_stopped = true;
        m_timer.cancel();
        report(true);
        m_session->leave();
    }

  private:
    void arm() {
        m_timer.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(m_interval * 1000)));
        m_timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec || m_stopped) return;
            report(false);
            arm();
        });
    }

    void print(const rtc::MeshEvent& e) {
        static constexpr const char* kinds[] = {"peer_started", "peer_state", "peer_ended",
                                                "dropped",      "warning",    "remote_media"};
        if (e.kind == rtc::MeshEvent::Kind::Dropped && !m_g.json) return;  // diagnostics for scripts
        if (m_g.json) {
            Json j{{"event", kinds[static_cast<int>(e.kind)]},
                   {"detail", e.detail},
                   {"ts", toUnixMs(matrix::wallClockNow())}};
            if (!e.user.empty()) j["user_id"] = e.user;
            if (!e.device.empty()) j["device_id"] = e.device;
            std::cout << j.dump() << std::endl;
            return;
        }
        if (e.kind == rtc::MeshEvent::Kind::Warning) {
            if (!m_g.quiet)
                std::cerr << "warning: " << e.user << " " << e.device << ": " << e.detail << std::endl;
            return;
        }
        std::cout << "media  " << e.user << " " << e.device << " " << kinds[static_cast<int>(e.kind)] << " "
                  << e.detail << std::endl;
    }

    void report(bool final) {
        for (const auto& p : m_session->peers())
            printPeerReport(m_g, final, p.user.str(), p.device.str(), core::toString(p.state), p.stats,
                            p.memberSeenToFirstFrame, p.memberSeenToConnected);
    }

    const GlobalOptions& m_g;
    std::unique_ptr<rtc::MediaEngine> m_engine;
    std::unique_ptr<rtc::MeshSession> m_session;
    boost::asio::steady_timer m_timer;
    double m_interval;
    bool m_stopped = false;
};

}  // namespace

std::unique_ptr<CallMediaCli> CallMediaCli::start(const GlobalOptions& g, boost::asio::io_context& io,
                                                  matrix::Client& client, const matrix::LoginSession& self,
                                                  matrix::CallOptions& options, const MediaCliOptions& media,
                                                  bool e2ee) {
    if (media.mode != "test") throw CliError{"--media must be 'test' (a tone and a test pattern)"};
    checkIceAddresses(media.iceAddresses);
    if (options.foci.empty() || options.foci.front().type != "mesh") {
        throw CliError{
            "--media needs a mesh call (--focus mesh): media over a LiveKit SFU is not implemented"};
    }
    if (!media.recordDir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(media.recordDir, ec);
        if (ec) throw CliError{"cannot create " + media.recordDir + ": " + ec.message()};
    }
    auto engine = rtc::MediaEngine::create(io.get_executor());
    if (!engine) throw CliError{"cannot start the media engine: " + engine.error().message};
    return std::make_unique<MeshMediaCli>(g, io, std::move(engine).value(), client, self, options, media,
                                          e2ee);
}

namespace {

struct DirectCallCli {
    std::string room;
    std::string to;
    double duration = 0;  // place: hang up after this many seconds of call; 0 = until Ctrl-C / their hangup
    double wait = 60;     // answer: how long to wait for an invite
    std::int64_t lifetimeMs = 60'000;
    std::string recordDir;
    double statsInterval = 1.0;
    std::vector<std::string> iceAddresses;
    std::string stunServer;
};

int runDirectCall(const GlobalOptions& g, const DirectCallCli& o, bool placing) {
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(o.room);
    checkIceAddresses(o.iceAddresses);
    if (!o.to.empty() && (o.to.front() != '@' || o.to.find(':') == std::string::npos))
        throw CliError{"--to must be a user id like @bob:example.org"};
    return runAsync([&](boost::asio::io_context& io) -> boost::asio::awaitable<int> {
        matrix::Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        auto engine = rtc::MediaEngine::create(io.get_executor());
        if (!engine) throw CliError{"cannot start the media engine: " + engine.error().message};
        rtc::DirectCallOptions options;
        options.room = room;
        options.media.dataChannel = false;
        options.media.recordDir = o.recordDir;
        options.media.streamId = "mxrtc-" + session.deviceId.str();
        if (!o.iceAddresses.empty()) options.media.iceAddresses = o.iceAddresses;
        options.media.stunServer = o.stunServer;
        std::size_t h = std::hash<std::string>{}(session.deviceId.str());
        options.media.toneFrequency = 300.0 + static_cast<double>(h % 601);
        options.peer.inviteLifetime = Duration{o.lifetimeMs};
        if (!o.to.empty()) options.invitee = UserId(o.to);
        auto call = std::make_unique<rtc::DirectCall>(
            client, session, **engine, options, [&g](const rtc::DirectCallEvent& e) {
                static constexpr const char* kinds[] = {"incoming", "call_state", "call_ended",
                                                        "dropped",  "warning",    "remote_media"};
                if (g.json) {
                    Json j{{"event", kinds[static_cast<int>(e.kind)]},
                           {"detail", e.detail},
                           {"ts", toUnixMs(matrix::wallClockNow())}};
                    if (!e.user.empty()) j["user_id"] = e.user;
                    std::cout << j.dump() << std::endl;
                } else if (e.kind == rtc::DirectCallEvent::Kind::Warning) {
                    if (!g.quiet) std::cerr << "warning: " << e.detail << std::endl;
                } else if (e.kind != rtc::DirectCallEvent::Kind::Dropped) {
                    std::cout << kinds[static_cast<int>(e.kind)] << " " << e.user << " " << e.detail
                              << std::endl;
                }
            });
        const auto report = [&](bool final) {
            auto s = call->stats();
            auto st = call->state();
            if (s && st)
                printPeerReport(g, final, call->remote() ? call->remote()->str() : "", "",
                                core::toString(*st), *s, std::nullopt, std::nullopt);
        };
        boost::asio::steady_timer stats(io);
        std::function<void()> arm = [&] {
            if (o.statsInterval <= 0) return;
            stats.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(o.statsInterval * 1000)));
            stats.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                if (call->state() == core::CallState::Connected) report(false);
                arm();
            });
        };
        arm();
        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (!ec) call->hangup();
        });
        // --duration counts from the moment the call connects.
        boost::asio::steady_timer deadline(io);
        std::function<void()> watchConnect = [&] {
            deadline.expires_after(std::chrono::milliseconds(50));
            deadline.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                if (call->state() != core::CallState::Connected) return watchConnect();
                if (o.duration <= 0) return;
                deadline.expires_after(
                    std::chrono::milliseconds(static_cast<std::int64_t>(o.duration * 1000)));
                deadline.async_wait([&](const boost::system::error_code& ec2) {
                    if (!ec2) {
                        report(true);
                        call->hangup();
                    }
                });
            });
        };
        watchConnect();
        progress(g, placing ? "calling in " + room.str() + " (Ctrl-C hangs up)"
                            : "waiting for a call in " + room.str() + " (Ctrl-C stops)");
        int rc = placing ? co_await call->place()
                         : co_await call->answer(Duration{static_cast<std::int64_t>(o.wait * 1000)});
        signals.cancel();
        deadline.cancel();
        stats.cancel();
        if (rc != 0) {
            std::string why = "the call did not connect";
            if (auto end = call->ended()) {
                why += ": " + std::string(core::toString(end->reason)) + (end->rejected ? " (rejected)" : "");
            } else if (!placing && !call->state()) {
                why = "no call came in";
            }
            call.reset();
            throw CliError{why};
        }
        progress(g, "call ended");
        call.reset();
        co_return 0;
    });
}

}  // namespace

void registerMediaCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
    for (bool placing : {true, false}) {
        auto* cmd = placing
                        ? app.add_subcommand("call", "Place a 1:1 call (MSC2746 room events) with test media")
                        : app.add_subcommand("answer", "Wait for a 1:1 call in a room and answer it");
        auto o = std::make_shared<DirectCallCli>();
        cmd->add_option("room", o->room, "room id")->required();
        if (placing) {
            cmd->add_option("--to", o->to, "user to call (default: anyone in the room)");
            cmd->add_option("--lifetime-ms", o->lifetimeMs, "how long the invite rings");
        } else {
            cmd->add_option("--wait", o->wait, "seconds to wait for an invite");
        }
        cmd->add_option("--duration", o->duration, "hang up this many seconds after connecting");
        cmd->add_option("--record", o->recordDir, "write what the other side sends into DIR");
        cmd->add_option("--stats-interval", o->statsInterval, "seconds between media reports (0 = none)");
        cmd->add_option("--ice-address", o->iceAddresses,
                        "local address to offer ICE candidates on (repeatable; default 127.0.0.1)");
        cmd->add_option("--stun", o->stunServer, "STUN server, stun://host:port")
            ->check(CLI::Validator(
                [](std::string& v) {
                    return v.starts_with("stun://") ? std::string() : std::string("must start with stun://");
                },
                "stun://HOST:PORT"));
        cmd->callback([&global, &action, o, placing] {
            action = [&global, o, placing] { return runDirectCall(global, *o, placing); };
        });
    }
}

#endif

}  // namespace mxrtc::cli
