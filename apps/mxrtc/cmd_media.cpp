#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "media_cli.hpp"

#ifdef MXRTC_HAVE_RTC
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

#else

namespace {

long msOf(const std::optional<Duration>& d) {
    return d ? static_cast<long>(d->count()) : -1;
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
        static constexpr const char* kinds[] = {"peer_started", "peer_state", "peer_ended", "dropped",
                                                "warning"};
        if (e.kind == rtc::MeshEvent::Kind::Dropped && !m_g.json) return;  // diagnostics for scripts
        if (m_g.json) {
            Json j{{"event", kinds[static_cast<int>(e.kind)]}, {"detail", e.detail}};
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
        for (const auto& p : m_session->peers()) {
            const auto& s = p.stats;
            if (m_g.json) {
                Json j{{"event", "media"},
                       {"final", final},
                       {"user_id", p.user.str()},
                       {"device_id", p.device.str()},
                       {"state", std::string(core::toString(p.state))},
                       {"audio_buffers", s.audioBuffersDecoded},
                       {"audio_rms", std::round(s.audioRms * 1000) / 1000},
                       {"video_frames", s.videoFramesDecoded},
                       {"frames_encrypted", s.framesEncrypted},
                       {"frames_decrypted", s.framesDecrypted},
                       {"decrypt_failures", s.decryptFailures},
                       {"ice_connected_ms", msOf(s.iceConnectedAfter)},
                       {"member_seen_to_first_frame_ms", msOf(p.memberSeenToFirstFrame)}};
                std::cout << j.dump() << std::endl;
                continue;
            }
            std::cout << (final ? "final  " : "media  ") << p.user << " " << p.device << " "
                      << core::toString(p.state) << ": audio " << s.audioBuffersDecoded << " buffers (rms "
                      << std::round(s.audioRms * 1000) / 1000 << "), video " << s.videoFramesDecoded
                      << " frames, decrypted " << s.framesDecrypted << ", undecryptable " << s.decryptFailures
                      << ", first frame " << msOf(p.memberSeenToFirstFrame) << " ms after join" << std::endl;
        }
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

#endif

}  // namespace mxrtc::cli
