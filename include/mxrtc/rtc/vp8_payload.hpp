// RFC 7741 VP8 RTP payload descriptors, written without looking inside the frame, so that
// LiveKit-encrypted VP8 frames (whose partitions are ciphertext) can be packetized. GStreamer's
// rtpvp8pay parses the first partition and fails on such frames (spec real-peers §8).
//
// Every packet carries the descriptor: X=1, N=0, S=1 on the first packet of the frame, PartID=0,
// and a 15-bit PictureID (M=1) that increments per frame, which is what libwebrtc sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mxrtc::rtc {

inline constexpr std::size_t kVp8DescriptorSize = 4;  // X|R|N|S|R|PID, I|L|T|K, M|PictureID(15)

struct Vp8Packet {
    std::vector<std::uint8_t> payload;  // descriptor + frame bytes
    bool marker = false;                // last packet of the frame
};

// Splits one frame into RTP payloads of at most `maxPayload` bytes (descriptor included).
std::vector<Vp8Packet> packetizeVp8(std::span<const std::uint8_t> frame, std::uint16_t pictureId,
                                    std::size_t maxPayload = 1200);

// Parses a descriptor (for tests and diagnostics); returns its size, or 0 if malformed.
struct Vp8Descriptor {
    bool start = false;
    std::uint8_t partitionId = 0;
    bool hasPictureId = false;
    std::uint16_t pictureId = 0;
    std::size_t size = 0;
};
Vp8Descriptor parseVp8Descriptor(std::span<const std::uint8_t> payload);

}  // namespace mxrtc::rtc
