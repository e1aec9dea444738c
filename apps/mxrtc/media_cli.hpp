// `join-call --media test`: real media on a mesh call (GStreamer webrtcbin), reported per peer.
// Built only with the rtc module; without it start() fails with a one-line error.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "commands.hpp"
#include "mxrtc/matrix/call.hpp"

namespace mxrtc::cli {

struct MediaCliOptions {
    std::string mode;       // "" (no media) or "test" (tone + test pattern, data channel)
    std::string recordDir;  // write what each peer sends us here ("" = do not record)
    double statsInterval = 1.0;
    double toneHz = 0;  // 0: derived from the device id, so every participant sounds different
    // LAN / loopback tuning: 10 ms jitter buffer (default 50) and 5 ms ICE check pacing (libnice's
    // default 20): connects and plays ~100 ms sooner, at the cost of robustness to real jitter.
    bool lowLatency = false;
    // Join muted (MSC3291, signalled in the stream metadata; silence / black frames are sent).
    bool muteAudio = false;
    bool muteVideo = false;
    // Addresses whose host candidates we offer (default 127.0.0.1: the machine only) and an
    // optional STUN server ("stun://host:port"), for calls between machines.
    std::vector<std::string> iceAddresses;
    std::string stunServer;
};

class CallMediaCli {
  public:
    // Opens the media engine and the mesh session; sets options.onToDevice. `options.encryption`
    // (if set) carries the signalling Olm-encrypted and the media keys into the frame cryptors.
    static std::unique_ptr<CallMediaCli> start(const GlobalOptions& g, boost::asio::io_context& io,
                                               matrix::Client& client, const matrix::LoginSession& self,
                                               matrix::CallOptions& options, const MediaCliOptions& media,
                                               bool e2ee);
    virtual ~CallMediaCli() = default;
    virtual void onUpdate(const matrix::CallUpdate& update, const core::RoomCalls& calls) = 0;
    // Hang up every peer and print the final per-peer report.
    virtual void stop() = 0;
};

}  // namespace mxrtc::cli
