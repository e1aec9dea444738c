// Arbitrary bytes -> SFrame header decoder and SFrame decrypt (all five suites).
// Invariants checked: no crash/UB; a decoded header re-encodes to exactly the bytes it consumed (the
// decoder only accepts minimal encodings); decrypt of arbitrary input never succeeds with a size larger
// than the input; encrypt -> decrypt of the input as a plaintext round-trips.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "mxrtc/common/assert.hpp"
#include "mxrtc/e2ee/sframe.hpp"

using namespace mxrtc;
using namespace mxrtc::e2ee;

namespace {

constexpr std::array<SFrameCipherSuite, 5> kSuites = {
    SFrameCipherSuite::kAes128CtrHmacSha256_80, SFrameCipherSuite::kAes128CtrHmacSha256_64,
    SFrameCipherSuite::kAes128CtrHmacSha256_32, SFrameCipherSuite::kAes128GcmSha256_128,
    SFrameCipherSuite::kAes256GcmSha512_128,
};
// The RFC 9605 Appendix C.3 base key, so the seed frames (KID 0x123) authenticate once.
constexpr std::array<std::uint8_t, 16> kBaseKey = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr std::array<std::uint64_t, 5> kKids = {0, 7, 8, 0x123, 0xFFFFFFFFFFFFFFFF};

struct Pair {
    SFrameContext tx;
    SFrameContext rx;
    std::uint64_t nextCtr = 0;
};

std::vector<Pair>& pairs() {
    static std::vector<Pair> all = [] {
        std::vector<Pair> v;
        for (auto suite : kSuites) {
            Pair p{SFrameContext(suite), SFrameContext(suite)};
            for (auto kid : kKids) {
                MXRTC_ASSERT(p.rx.addDecryptKey(kid, kBaseKey).ok(), "addDecryptKey");
            }
            MXRTC_ASSERT(p.tx.addEncryptKey(0x42, kBaseKey).ok(), "addEncryptKey");
            v.push_back(std::move(p));
        }
        return v;
    }();
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);

    if (auto decoded = decodeSFrameHeader(input)) {
        MXRTC_ASSERT(decoded->size >= 1 && decoded->size <= size && decoded->size <= kSFrameMaxHeaderSize,
                     "decoded header size out of range");
        MXRTC_ASSERT(decoded->size == sframeHeaderSize(decoded->header), "consumed size != encoded size");
        const Bytes again = encodeSFrameHeader(decoded->header);
        MXRTC_ASSERT(again.size() == decoded->size && std::memcmp(again.data(), data, again.size()) == 0,
                     "re-encoded header differs from the consumed prefix");
    }

    std::vector<std::uint8_t> out(size);
    // Metadata variants: none, the RFC 9605 C.3 metadata (so the seed frames authenticate once), and the
    // input's own first bytes (aliasing read-only inputs is allowed).
    const std::span<const std::uint8_t> rfcMetadata = asBytes(std::string_view("IETF SFrame WG"));
    const std::span<const std::uint8_t> metadataPrefix = input.first(size < 4 ? size : 4);
    for (auto& p : pairs()) {
        for (auto metadata : {std::span<const std::uint8_t>{}, rfcMetadata, metadataPrefix}) {
            auto r = p.rx.decrypt(metadata, input, out);
            if (r) MXRTC_ASSERT(r->size <= size, "decrypted more bytes than the input");
        }
        // Short output buffers must be refused, not overrun.
        if (size > 0) (void)p.rx.decrypt({}, input, std::span<std::uint8_t>(out).first(size / 2));

        // Round trip the input as a plaintext.
        const std::uint64_t ctr = p.nextCtr++;
        std::vector<std::uint8_t> frame(p.tx.ciphertextSize(0x42, ctr, size));
        auto n = p.tx.encrypt(ctr, 0x42, metadataPrefix, input, frame);
        MXRTC_ASSERT(n.ok() && *n == frame.size(), "encrypt failed");
        SFrameContext rx(p.tx.suite());
        MXRTC_ASSERT(rx.addDecryptKey(0x42, kBaseKey).ok(), "addDecryptKey");
        std::vector<std::uint8_t> back(frame.size());
        auto d = rx.decrypt(metadataPrefix, frame, back);
        MXRTC_ASSERT(d.ok() && d->size == size && d->ctr == ctr && d->kid == 0x42, "round trip failed");
        MXRTC_ASSERT(size == 0 || std::memcmp(back.data(), data, size) == 0, "round trip plaintext differs");
    }
    return 0;
}
