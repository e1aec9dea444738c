#include "mxrtc/rtc/vp8_payload.hpp"

#include <algorithm>

namespace mxrtc::rtc {

std::vector<Vp8Packet> packetizeVp8(std::span<const std::uint8_t> frame, std::uint16_t pictureId,
                                    std::size_t maxPayload) {
    std::vector<Vp8Packet> out;
    if (maxPayload <= kVp8DescriptorSize) return out;
    const std::size_t chunk = maxPayload - kVp8DescriptorSize;
    const std::uint16_t pid = pictureId & 0x7FFF;
    std::size_t offset = 0;
    do {
        const std::size_t n = std::min(chunk, frame.size() - offset);
        Vp8Packet p;
        p.payload.reserve(kVp8DescriptorSize + n);
        p.payload.push_back(static_cast<std::uint8_t>(0x80 | (offset == 0 ? 0x10 : 0x00)));  // X, S, PartID 0
        p.payload.push_back(0x80);                                                           // I
        p.payload.push_back(static_cast<std::uint8_t>(0x80 | (pid >> 8)));  // M=1, PictureID hi
        p.payload.push_back(static_cast<std::uint8_t>(pid & 0xFF));
        p.payload.insert(p.payload.end(), frame.begin() + static_cast<std::ptrdiff_t>(offset),
                         frame.begin() + static_cast<std::ptrdiff_t>(offset + n));
        offset += n;
        p.marker = offset >= frame.size();
        out.push_back(std::move(p));
    } while (offset < frame.size());
    return out;
}

Vp8Descriptor parseVp8Descriptor(std::span<const std::uint8_t> payload) {
    Vp8Descriptor d;
    if (payload.empty()) return d;
    std::size_t i = 0;
    const std::uint8_t b0 = payload[i++];
    d.start = (b0 & 0x10) != 0;
    d.partitionId = b0 & 0x0F;
    if ((b0 & 0x80) != 0) {
        if (i >= payload.size()) return {};
        const std::uint8_t x = payload[i++];
        if ((x & 0x80) != 0) {  // I
            if (i >= payload.size()) return {};
            d.hasPictureId = true;
            if ((payload[i] & 0x80) != 0) {
                if (i + 1 >= payload.size()) return {};
                d.pictureId = static_cast<std::uint16_t>(((payload[i] & 0x7F) << 8) | payload[i + 1]);
                i += 2;
            } else {
                d.pictureId = payload[i] & 0x7F;
                i += 1;
            }
        }
        if ((x & 0x40) != 0) ++i;  // L: TL0PICIDX
        if ((x & 0x30) != 0) ++i;  // T or K: TID|Y|KEYIDX
        if (i > payload.size()) return {};
    }
    d.size = i;
    return d;
}

}  // namespace mxrtc::rtc
