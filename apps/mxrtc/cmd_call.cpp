// `mxrtc join-call`: the CLI front of mxrtc::call::Call. Flags become a CallConfig, CallEvents and
// media reports become lines (or JSON objects); everything else happens in the library.
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "media_cli.hpp"
#include "mxrtc/call/call.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/store.hpp"

namespace mxrtc::cli {

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;

struct JoinCallOptions {
    std::string room;
    double duration = 0;  // seconds; 0 = until Ctrl-C
    std::string focusUrl;
    std::string focusSelection = "oldest_membership";
    std::int64_t delayMs = 8000;
    std::string intent;
    bool watch = false;
    bool e2ee = false;
    std::string keyTransport = "to-device";  // or "room" (legacy Megolm room events)
    std::string media;                       // "", "test", "file:PATH" or "pipeline:SPEC"
    bool once = false;                       // --once: play the file once, then leave
    bool loop = false;                       // --loop (the default for files)
    std::string audioSink;                   // GStreamer sink descriptions per incoming track
    std::string videoSink;
    std::string recordDir;
    double statsInterval = 1.0;
    double toneHz = 0;
    double keyFrameInterval = 2.0;  // seconds
    bool lowLatency = false;
    bool muteAudio = false;
    bool muteVideo = false;
    std::vector<std::string> iceAddresses;
    std::string stunServer;
    bool relayOnly = false;
    bool commands = false;  // read mute/unmute/leave commands from stdin
};

template <typename... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

// JSON: {"event", "ts", "user_id", "device_id", "detail", "key_sha256", "identity"} as before the
// Call API, so scripts keep working.
void printJson(const call::CallEvent& event, const matrix::LoginSession& self) {
    Json j{{"event", std::string(call::eventName(event))}, {"ts", toUnixMs(matrix::wallClockNow())}};
    const auto who = [&](const std::string& user, const std::string& device) {
        if (!user.empty()) j["user_id"] = user;
        if (!device.empty()) j["device_id"] = device;
    };
    std::visit(Overloaded{
                   [&](const call::MemberJoined& e) {
                       j["ts"] = toUnixMs(e.at);
                       who(e.user.str(), e.device.str());
                       if (e.self) j["detail"] = "self";
                   },
                   [&](const call::MemberLeft& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = std::string(core::toString(e.reason));
                   },
                   [&](const call::MembershipStatusChanged& e) {
                       who(self.userId.str(), self.deviceId.str());
                       j["detail"] = std::string(core::toString(e.status));
                   },
                   [&](const call::ProbablyLeftChanged& e) {
                       who(self.userId.str(), self.deviceId.str());
                       j["detail"] = e.probablyLeft ? "true" : "false";
                   },
                   [&](const call::KeyReceived& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = std::to_string(e.index.value);
                       j["key_sha256"] = e.keySha256;
                       j["identity"] = e.identity;
                   },
                   [&](const call::OwnKeyChanged& e) {
                       who(self.userId.str(), self.deviceId.str());
                       j["detail"] = std::to_string(e.index.value);
                       j["key_sha256"] = e.keySha256;
                       j["identity"] = e.identity;
                   },
                   [&](const call::Warning& e) {
                       who(e.user ? e.user->str() : "", e.device ? e.device->str() : "");
                       j["detail"] = e.text;
                   },
                   [&](const call::CallFailed& e) { j["detail"] = e.reason; },
                   [&](const call::PeerStarted& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = e.detail;
                   },
                   [&](const call::PeerStateChanged& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = e.state;
                   },
                   [&](const call::PeerEnded& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = e.reason;
                   },
                   [&](const call::RemoteMediaChanged& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = e.description;
                   },
                   [&](const call::SignallingDropped& e) {
                       who(e.user.str(), e.device.str());
                       j["detail"] = e.reason;
                   },
                   [&](const call::MediaEnded& e) { j["detail"] = e.source; },
                   [&](const call::SfuStateChanged& e) {
                       j["detail"] = e.state + (e.detail.empty() ? "" : ": " + e.detail);
                       j["service_url"] = e.serviceUrl;
                       j["state"] = e.state;
                       j["publishing"] = e.publishing;
                   },
               },
               event);
    std::cout << j.dump() << std::endl;
}

void printText(const GlobalOptions& g, const call::CallEvent& event) {
    const auto warn = [&](const std::string& text) {
        if (!g.quiet) std::cerr << "warning: " << text << std::endl;
    };
    const auto now = isoTime(matrix::wallClockNow());
    std::visit(
        Overloaded{
            [&](const call::MemberJoined& e) {
                std::cout << isoTime(e.at) << " joined " << e.user << " " << e.device
                          << (e.self ? " (this device)" : "") << std::endl;
            },
            [&](const call::MemberLeft& e) {
                std::cout << now << " left   " << e.user << " " << e.device << " ("
                          << core::toString(e.reason) << ")" << std::endl;
            },
            [&](const call::MembershipStatusChanged& e) {
                if (!g.quiet) std::cerr << "call: " << core::toString(e.status) << std::endl;
            },
            [&](const call::ProbablyLeftChanged& e) {
                std::cerr << "call: "
                          << (e.probablyLeft ? "connection lost: the server has probably removed us"
                                             : "connection restored")
                          << std::endl;
            },
            [&](const call::KeyReceived& e) {
                std::cout << now << " key    " << e.user << " " << e.device << " index " << int(e.index.value)
                          << " (Olm-verified)" << std::endl;
            },
            [&](const call::OwnKeyChanged& e) {
                std::cout << now << " using our media key index " << int(e.index.value) << std::endl;
            },
            [&](const call::Warning& e) {
                warn((e.user ? e.user->str() + " " : std::string()) +
                     (e.device ? e.device->str() + ": " : std::string()) + e.text);
            },
            [&](const call::CallFailed& e) { std::cerr << "mxrtc: " << e.reason << std::endl; },
            [&](const call::PeerStarted& e) {
                std::cout << "media  " << e.user << " " << e.device << " peer_started " << e.detail
                          << std::endl;
            },
            [&](const call::PeerStateChanged& e) {
                std::cout << "media  " << e.user << " " << e.device << " peer_state " << e.state << std::endl;
            },
            [&](const call::PeerEnded& e) {
                std::cout << "media  " << e.user << " " << e.device << " peer_ended " << e.reason
                          << std::endl;
            },
            [&](const call::RemoteMediaChanged& e) {
                std::cout << "media  " << e.user << " " << e.device << " remote_media " << e.description
                          << std::endl;
            },
            [&](const call::SignallingDropped&) {},  // diagnostics for scripts (--json)
            [&](const call::MediaEnded& e) { std::cout << now << " media ended: " << e.source << std::endl; },
            [&](const call::SfuStateChanged& e) {
                if (!g.quiet)
                    std::cerr << "sfu: " << e.serviceUrl << (e.publishing ? "" : " (subscribe only)") << " "
                              << e.state << (e.detail.empty() ? "" : ": " + e.detail) << std::endl;
            },
        },
        event);
}

// --media: test | file:PATH | pipeline:DESC | pipeline:audio=DESC;video=DESC (either part). The
// parts split at ";audio=" / ";video=" only, so a ';' inside a description (caps lists) stays.
// Checks what can be checked without GStreamer (the file exists); the rest is checked by
// Call::create, still before joining.
void applyMediaOption(const JoinCallOptions& o, call::MediaConfig& m) {
    const std::string& v = o.media;
    if ((o.once || o.loop) && !v.starts_with("file:")) throw CliError{"--once/--loop need --media file:PATH"};
    if (o.once && o.loop) throw CliError{"--once and --loop exclude each other"};
    if (v.empty()) return;
    if (v == "test") {
        m.source = call::MediaSource::Test;
    } else if (v == "receive") {
        m.source = call::MediaSource::Receive;
    } else if (v.starts_with("file:")) {
        m.source = call::MediaSource::File;
        m.file = v.substr(5);
        m.loop = !o.once;
        std::error_code ec;
        if (m.file.empty()) throw CliError{"--media file:PATH: no path given"};
        if (!std::filesystem::exists(m.file, ec)) throw CliError{"--media " + v + ": no such file"};
        if (!std::filesystem::is_regular_file(m.file, ec)) throw CliError{"--media " + v + ": not a file"};
    } else if (v.starts_with("pipeline:")) {
        m.source = call::MediaSource::Pipeline;
        std::string spec = v.substr(9);
        const auto trim = [](std::string t) {
            const auto b = t.find_first_not_of(" \t");
            const auto e = t.find_last_not_of(" \t");
            return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
        };
        spec = trim(spec);
        if (!spec.starts_with("audio=") && !spec.starts_with("video=")) {
            m.audioPipeline = spec;  // a bare description is audio
        } else {
            std::vector<std::string> parts;
            std::size_t from = 0;
            for (auto at = spec.find(';'); at != std::string::npos; at = spec.find(';', at + 1)) {
                const std::string rest = trim(spec.substr(at + 1));
                if (!rest.starts_with("audio=") && !rest.starts_with("video=")) continue;
                parts.push_back(trim(spec.substr(from, at - from)));
                from = at + 1;
            }
            parts.push_back(trim(spec.substr(from)));
            for (const auto& part : parts) {
                const std::string kind = part.substr(0, 5);
                std::string& target = kind == "audio" ? m.audioPipeline : m.videoPipeline;
                if (!target.empty()) throw CliError{"--media pipeline: " + kind + "= given twice"};
                target = trim(part.substr(6));
                if (target.empty()) throw CliError{"--media pipeline: empty " + kind + " description"};
            }
        }
        if (m.audioPipeline.empty() && m.videoPipeline.empty())
            throw CliError{"--media pipeline: no description (pipeline:'audio=pulsesrc;video=v4l2src')"};
    } else {
        throw CliError{"--media " + v + ": not one of test, file:PATH, pipeline:DESC"};
    }
}

call::CallConfig toConfig(const GlobalOptions& g, const JoinCallOptions& o, const RoomId& room) {
    call::CallConfig c;
    c.room = room;
    c.watchOnly = o.watch;
    c.delayedLeave = Duration{o.delayMs};
    if (!o.intent.empty()) c.intent = o.intent;
    if (o.focusUrl == "mesh") {
        c.focus.kind = call::FocusConfig::Kind::Mesh;
    } else if (!o.focusUrl.empty()) {
        c.focus.kind = call::FocusConfig::Kind::LiveKit;
        c.focus.liveKitServiceUrl = o.focusUrl;
    }
    c.focus.selection = o.focusSelection == "multi_sfu" ? core::FocusSelection::MultiSfu
                                                        : core::FocusSelection::OldestMembership;
    c.e2ee = o.e2ee;
    c.profileDir = profileDir(g);
    if (o.keyTransport == "room") c.keyTransport = call::CallConfig::KeyTransport::RoomEvent;
    applyMediaOption(o, c.media);
    c.media.audioSinkPipeline = o.audioSink;
    c.media.videoSinkPipeline = o.videoSink;
    c.media.recordDir = o.recordDir;
    c.media.toneHz = o.toneHz;
    c.media.keyFrameInterval = std::chrono::milliseconds(static_cast<long>(o.keyFrameInterval * 1000));
    c.media.lowLatency = o.lowLatency;
    c.media.muteAudio = o.muteAudio;
    c.media.muteVideo = o.muteVideo;
    c.media.iceAddresses = o.iceAddresses;
    c.media.stunServer = o.stunServer;
    c.media.relayOnly = o.relayOnly;
    return c;
}

int runJoinCall(const GlobalOptions& g, const JoinCallOptions& o) {
    {
        call::MediaConfig check;  // bad --media fails before anything else happens
        applyMediaOption(o, check);
    }
    if (!o.recordDir.empty() && o.media.empty()) throw CliError{"--record needs --media"};
    if ((!o.audioSink.empty() || !o.videoSink.empty()) && o.media.empty())
        throw CliError{"--audio-sink/--video-sink need --media"};
    if (!o.media.empty() && o.watch) throw CliError{"--media cannot be combined with --watch"};
    checkIceAddresses(o.iceAddresses);
    if (o.relayOnly && o.focusUrl == "mesh")
        throw CliError{
            "--relay-only needs a TURN server, which only a LiveKit SFU offers: not with --focus mesh"};
    if (!o.recordDir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(o.recordDir, ec);
        if (ec) throw CliError{"cannot create " + o.recordDir + ": " + ec.message()};
    }
    auto store = openStore(g);
    const auto session = requireSession(*store);
    const RoomId room = parseRoom(o.room);
    call::CallConfig config = toConfig(g, o, room);
    const std::string syncKey = "sync_token:" + room.str();
    config.initialSyncToken = store->get(syncKey).value_or("");
    config.onSyncToken = [&store, syncKey](const std::string& token) { (void)store->put(syncKey, token); };

    return runAsync([&](asio::io_context& io) -> asio::awaitable<int> {
        matrix::Client client(io.get_executor(), session.homeserver);
        client.setAccessToken(session.accessToken);
        progress(g, std::string(o.watch ? "watching" : "joining") + " the call in " + room.str() + " as " +
                        session.userId.str() + " (Ctrl-C to leave)");
        std::function<void()> mediaEnded;  // --once: leave when the file has played
        auto made = co_await call::Call::create(
            client, session, config, [&g, &session, &mediaEnded](const call::CallEvent& e) {
                if (g.json) {
                    printJson(e, session);
                } else {
                    printText(g, e);
                }
                if (std::holds_alternative<call::MediaEnded>(e) && mediaEnded) mediaEnded();
            });
        if (!made) throw CliError{made.error().message};
        std::unique_ptr<call::Call> c = std::move(made.value());
        const bool media = !o.media.empty();

        const auto report = [&](bool final) {
            for (const auto& p : c->media())
                printMediaReport(g, final, p);
        };
        asio::steady_timer stats(io);
        std::function<void()> arm = [&] {
            if (!media || o.statsInterval <= 0) return;
            stats.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(o.statsInterval * 1000)));
            stats.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                report(false);
                arm();
            });
        };
        arm();
        bool left = false;
        const auto leave = [&] {
            if (left) return;
            left = true;
            stats.cancel();
            if (media) report(true);
            c->leave();
        };
        if (o.once)
            mediaEnded = [&] {
                progress(g, "the file has been played: leaving ...");
                leave();
            };
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (!ec) {
                progress(g, "leaving ...");
                leave();
            }
        });
        asio::steady_timer deadline(io);
        if (o.duration > 0) {
            deadline.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(o.duration * 1000)));
            deadline.async_wait([&](const boost::system::error_code& ec) {
                if (!ec) leave();
            });
        }
        // --commands: one per line on stdin (bots and tests drive a running call this way).
        asio::posix::stream_descriptor input(io);
        asio::streambuf inputBuffer;
        std::function<void()> readCommand = [&] {
            asio::async_read_until(
                input, inputBuffer, '\n', [&](const boost::system::error_code& ec, std::size_t) {
                    if (ec) return;  // EOF or cancelled: no more commands
                    std::istream in(&inputBuffer);
                    std::string line;
                    std::getline(in, line);
                    std::istringstream words(line);
                    std::string verb, what;
                    words >> verb >> what;
                    if (verb == "leave") {
                        progress(g, "leaving ...");
                        leave();
                        return;
                    }
                    if ((verb == "mute" || verb == "unmute") && (what == "audio" || what == "video")) {
                        auto r =
                            c->setMuted(what == "audio" ? call::Call::Track::Audio : call::Call::Track::Video,
                                        verb == "mute");
                        if (!r)
                            std::cerr << "mxrtc: " << verb << " " << what << ": " << r.error().message
                                      << std::endl;
                    } else if (!verb.empty()) {
                        std::cerr << "mxrtc: unknown command '" << line
                                  << "' (mute|unmute audio|video, leave)" << std::endl;
                    }
                    readCommand();
                });
        };
        if (o.commands) {
            input.assign(::dup(STDIN_FILENO));
            readCommand();
        }
        int rc = co_await c->run();
        if (input.is_open()) input.close();
        signals.cancel();
        deadline.cancel();
        stats.cancel();
        c.reset();
        if (rc == 0) progress(g, "left the call");
        co_return rc;
    });
}

}  // namespace

void registerCallCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto* cmd = app.add_subcommand("join-call", "Join the room's call and print members joining and leaving");
    auto o = std::make_shared<JoinCallOptions>();
    cmd->add_option("room", o->room, "room id")->required();
    cmd->add_option("--duration", o->duration, "leave after this many seconds (default: until Ctrl-C)");
    cmd->add_option("--focus", o->focusUrl,
                    "LiveKit service URL to advertise (default: the homeserver's), or 'mesh' for a "
                    "full-mesh call (peers connect directly)");
    cmd->add_option("--focus-selection", o->focusSelection,
                    "LiveKit: oldest_membership (meet on the oldest member's SFU, default) or multi_sfu "
                    "(publish on our own, as Element Call 0.26 does)")
        ->check(CLI::IsMember({"oldest_membership", "multi_sfu"}));
    cmd->add_option("--delayed-leave-ms", o->delayMs,
                    "delay of the server-side leave if we vanish (MSC4140)");
    cmd->add_option("--intent", o->intent, "m.call.intent (audio|video)");
    cmd->add_flag("--watch", o->watch, "only watch the call, do not join");
    cmd->add_flag("--e2ee", o->e2ee,
                  "exchange media keys Olm-encrypted with every member device (Element Call's scheme)");
    cmd->add_option("--key-transport", o->keyTransport,
                    "with --e2ee, how our key goes out: to-device (Olm, default) or room (legacy "
                    "Megolm-encrypted room event); both are always received")
        ->check(CLI::IsMember({"to-device", "room"}));
    cmd->add_option("--media", o->media,
                    "send and receive real media. test: a tone and a test pattern; receive: send nothing, "
                    "receive everyone (recorders); file:PATH: a media file "
                    "(anything GStreamer decodes; audio and/or video, looped); pipeline:DESC: GStreamer "
                    "source descriptions, pipeline:'audio=DESC;video=DESC' (either part; a bare DESC is "
                    "audio), e.g. pipeline:'audio=pulsesrc;video=v4l2src device=/dev/video0'");
    cmd->add_flag("--once", o->once, "with --media file:PATH: play the file once, then leave the call");
    cmd->add_flag("--loop", o->loop, "with --media file:PATH: play the file again and again (default)");
    cmd->add_option("--audio-sink", o->audioSink,
                    "with --media: play what each participant sends into this GStreamer sink description "
                    "(one per participant), e.g. autoaudiosink");
    cmd->add_option("--video-sink", o->videoSink,
                    "with --media: show each participant's video in this GStreamer sink description, e.g. "
                    "autovideosink");
    cmd->add_option("--record", o->recordDir,
                    "with --media: write what each participant sends into DIR (Ogg Opus + WebM VP8)");
    cmd->add_option("--stats-interval", o->statsInterval,
                    "with --media: seconds between per-participant reports (0 = only at the end)");
    cmd->add_option("--tone", o->toneHz, "with --media: frequency of our test tone in Hz");
    cmd->add_option("--keyframe-interval", o->keyFrameInterval,
                    "with --media: seconds between periodic video key frames (a new receiver asks for one "
                    "and gets it at once)")
        ->check(CLI::Range(0.1, 3600.0));
    cmd->add_flag("--low-latency", o->lowLatency,
                  "with --media: 10 ms jitter buffer and fast ICE checks (LAN/loopback)");
    cmd->add_flag("--mute-audio", o->muteAudio, "with --media: join with audio muted");
    cmd->add_flag("--mute-video", o->muteVideo, "with --media: join with video muted");
    cmd->add_option("--ice-address", o->iceAddresses,
                    "with --media: local address to offer ICE candidates on (repeatable; default 127.0.0.1)");
    cmd->add_flag("--relay-only", o->relayOnly,
                  "with --media: relayed ICE candidates only (the SFU's TURN server): peers never see our "
                  "addresses");
    cmd->add_option("--stun", o->stunServer, "with --media: STUN server, stun://host:port")
        ->check(CLI::Validator(
            [](std::string& v) {
                return v.starts_with("stun://") ? std::string() : std::string("must start with stun://");
            },
            "stun://HOST:PORT"));
    cmd->add_flag("--commands", o->commands,
                  "read commands from stdin while in the call, one per line: mute audio|video, "
                  "unmute audio|video, leave");
    cmd->callback([&global, &action, o] { action = [&global, o] { return runJoinCall(global, *o); }; });
}

}  // namespace mxrtc::cli
