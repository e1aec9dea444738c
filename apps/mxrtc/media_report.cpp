#include <boost/asio/ip/address.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "media_cli.hpp"

namespace mxrtc::cli {

namespace {

long msOf(const std::optional<Duration>& d) {
    return d ? static_cast<long>(d->count()) : -1;
}

}  // namespace

void printMediaReport(const GlobalOptions& g, bool final, const call::ParticipantMedia& p) {
    const auto& s = p.stats;
    const double rms = std::round(s.audioRms * 1000) / 1000;
    if (g.json) {
        nlohmann::json j{{"event", "media"},
                         {"final", final},
                         {"user_id", p.user.str()},
                         {"state", p.state},
                         {"audio_buffers", s.audioBuffers},
                         {"audio_rms", rms},
                         {"audio_hz", std::round(s.audioHz)},
                         {"video_frames", s.videoFrames},
                         {"video_key_frames", s.videoKeyFrames},
                         {"frames_encrypted", s.framesEncrypted},
                         {"frames_decrypted", s.framesDecrypted},
                         {"decrypt_failures", s.decryptFailures},
                         {"member_seen_to_first_frame_ms", msOf(p.joinToFirstFrame)},
                         {"member_seen_to_first_video_ms", msOf(p.joinToFirstVideo)},
                         {"member_seen_to_connected_ms", msOf(p.joinToConnected)}};
        if (!p.device.empty()) j["device_id"] = p.device.str();
        if (!p.identity.empty()) j["identity"] = p.identity;
        std::cout << j.dump() << std::endl;
        return;
    }
    std::cout << (final ? "final  " : "media  ") << p.user << (p.device.empty() ? "" : " " + p.device.str())
              << " " << p.state << ": audio " << s.audioBuffers << " buffers (rms " << rms << ", "
              << std::round(s.audioHz) << " Hz), video " << s.videoFrames << " frames, decrypted "
              << s.framesDecrypted << ", undecryptable " << s.decryptFailures;
    if (p.joinToFirstFrame) std::cout << ", first frame " << p.joinToFirstFrame->count() << " ms after join";
    std::cout << std::endl;
}

void checkIceAddresses(const std::vector<std::string>& addresses) {
    for (const auto& a : addresses) {
        boost::system::error_code ec;
        boost::asio::ip::make_address(a, ec);
        if (ec) throw CliError{"--ice-address '" + a + "' is not an IP address of this machine"};
    }
}

}  // namespace mxrtc::cli
