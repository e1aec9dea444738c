// Arbitrary bytes as a received media frame: trailer parsing (IV length, key index), clear-header
// detection (NAL scanning), RBSP unescaping and the ratchet window must never crash or overrun.
// Oracle: encrypting the same bytes as a plain frame and decrypting the result gives them back
// (as the receiver sees them: H.264 start codes in the clear header widened).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/e2ee/frame_cryptor.hpp"

using namespace mxrtc;
using namespace mxrtc::e2ee;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static const std::uint8_t kKey[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const std::uint8_t selector = data[0];
    const std::span<const std::uint8_t> frame(data + 1, size - 1);
    FrameInfo info;
    info.kind = (selector & 1) ? MediaKind::Video : MediaKind::Audio;
    info.codec = static_cast<VideoCodec>((selector >> 1) % 6);
    info.keyFrame = (selector & 0x10) != 0;

    KeyProviderOptions opts;
    opts.ratchetWindowSize = 2;
    static FrameDecryptor dec(opts);
    static bool keyed = false;
    if (!keyed) {
        dec.keys().setKey(0, kKey);
        dec.keys().setKey(0x0c, kKey);
        keyed = true;
    }
    std::vector<std::uint8_t> out(frame.size());
    (void)dec.decrypt(info, frame, out);
    for (int i = 0; i < 256; ++i)
        dec.keys().decryptionSucceeded(static_cast<std::uint32_t>(i));

    static FrameEncryptor enc([] { return std::uint16_t{7}; });
    static bool encKeyed = false;
    if (!encKeyed) {
        enc.setKey(3, kKey);
        encKeyed = true;
    }
    std::vector<std::uint8_t> sealed(maxEncryptedSize(frame.size()));
    auto r = enc.encrypt(info, frame, sealed);
    if (r.status == FrameStatus::Ok) {
        sealed.resize(r.size);
        FrameDecryptor self;
        self.keys().setKey(3, kKey);
        std::vector<std::uint8_t> back(sealed.size());
        auto d = self.decrypt(info, sealed, back);
        // livekit-client's format re-derives the clear header from the encrypted frame; for
        // NAL-sniffed codecs degenerate frames can scan differently once encrypted (the same
        // happens between two livekit-clients). Everything else must round trip.
        const ClearHeader sent = clearHeaderFor(info, frame);
        const ClearHeader seen = clearHeaderFor(info, sealed);
        std::size_t sentBytes = sent.bytes;  // H.264/H.265: 3-byte start codes were widened
        for (std::size_t i = 0; sent.naluProcessing && i + 2 < sent.bytes; ++i) {
            if (frame[i] == 0 && frame[i + 1] == 0 && frame[i + 2] == 1 && (i == 0 || frame[i - 1] != 0))
                ++sentBytes;
        }
        const bool stableHeader = sent.naluProcessing == seen.naluProcessing && sentBytes == seen.bytes;
        if (!stableHeader) return 0;
        MXRTC_ASSERT(d.status == FrameStatus::Ok, "our own frame does not decrypt");
        back.resize(d.size);
        if (!sent.naluProcessing)
            MXRTC_ASSERT(back.size() == frame.size() && std::equal(back.begin(), back.end(), frame.begin()),
                         "round trip differs");
    }

    std::vector<std::uint8_t> esc(frame.size() * 2 + 1);
    esc.resize(rbspEscape(frame, esc));
    std::vector<std::uint8_t> unesc(esc.size());
    unesc.resize(rbspUnescape(esc, unesc));
    MXRTC_ASSERT(unesc.size() == frame.size() && std::equal(unesc.begin(), unesc.end(), frame.begin()),
                 "RBSP escape/unescape round trip differs");
    return 0;
}
