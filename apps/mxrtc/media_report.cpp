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

void printMediaReport(const GlobalOptions& g, bool final, const std::string& user, const std::string& device,
                      const std::string& identity, std::string_view state, const call::MediaStats& s,
                      std::optional<Duration> firstFrame, std::optional<Duration> connected) {
    const double rms = std::round(s.audioRms * 1000) / 1000;
    if (g.json) {
        nlohmann::json j{{"event", "media"},
                         {"final", final},
                         {"user_id", user},
                         {"state", std::string(state)},
                         {"audio_buffers", s.audioBuffers},
                         {"audio_rms", rms},
                         {"audio_hz", std::round(s.audioHz)},
                         {"video_frames", s.videoFrames},
                         {"frames_encrypted", s.framesEncrypted},
                         {"frames_decrypted", s.framesDecrypted},
                         {"decrypt_failures", s.decryptFailures},
                         {"member_seen_to_first_frame_ms", msOf(firstFrame)},
                         {"member_seen_to_connected_ms", msOf(connected)}};
        if (!device.empty()) j["device_id"] = device;
        if (!identity.empty()) j["identity"] = identity;
        std::cout << j.dump() << std::endl;
        return;
    }
    std::cout << (final ? "final  " : "media  ") << user << (device.empty() ? "" : " " + device) << " "
              << state << ": audio " << s.audioBuffers << " buffers (rms " << rms << "), video "
              << s.videoFrames << " frames, decrypted " << s.framesDecrypted << ", undecryptable "
              << s.decryptFailures;
    if (firstFrame) std::cout << ", first frame " << firstFrame->count() << " ms after join";
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
