// LiveKit-compatible media frame encryption (spec §6), byte for byte what livekit-client's
// e2ee worker produces and accepts, which is what Element Call uses.
//
//   [clear header: N bytes][AES-128-GCM(rest) || 16-byte tag][IV: 12 bytes][IV length][key index]
//
// N depends on the codec (Opus 1, VP8 key 10 / delta 3, VP9 0, H.264/H.265 up to and including
// the first slice NAL header; earlier NALs stay clear). For H.264/H.265 everything after the header
// is emulation-prevention escaped, and 3-byte start codes in the header are widened to 4 bytes.
//
// Hot path: no heap allocation per frame. Callers pass the output buffer; cipher contexts and
// scratch space are owned by the cryptor and reused (a key schedule runs only when the key changes).
// Not thread-safe: one cryptor per sending or receiving track.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "mxrtc/e2ee/key_ring.hpp"

namespace mxrtc::e2ee {

enum class MediaKind { Audio, Video };
enum class VideoCodec { Unknown, VP8, VP9, H264, H265, AV1 };

struct FrameInfo {
    MediaKind kind = MediaKind::Audio;
    VideoCodec codec = VideoCodec::Unknown;  // video only; Unknown = sniff NAL units, else VP8 rules
    bool keyFrame = false;                   // video only
    std::uint32_t ssrc = 0xFFFFFFFF;         // 0xFFFFFFFF when unknown, as LiveKit does
    std::uint32_t rtpTimestamp = 0;
};

inline constexpr std::size_t kIvLength = 12;
inline constexpr std::size_t kTagLength = 16;
inline constexpr std::size_t kTrailerLength = 2;  // IV length, key index
inline constexpr std::size_t kFrameOverhead = kTagLength + kIvLength + kTrailerLength;

enum class FrameStatus {
    Ok,           // output holds the encrypted / decrypted frame
    PassThrough,  // output holds the input unchanged (empty DTX frame, unencrypted participant, SIF)
    MissingKey,   // no key at the frame's (or our current) index
    InvalidKey,   // decryption failed, including every ratchet step; or the index is marked invalid
    Malformed,    // too short / inconsistent trailer / unsupported codec (AV1)
    BufferTooSmall,
};
std::string_view toString(FrameStatus s);

struct FrameResult {
    FrameStatus status = FrameStatus::Ok;
    std::size_t size = 0;  // bytes written to the output
    bool ok() const noexcept { return status == FrameStatus::Ok || status == FrameStatus::PassThrough; }
};

// How many clear bytes LiveKit leaves at the start of this (unencrypted) frame.
struct ClearHeader {
    std::size_t bytes = 0;
    bool naluProcessing = false;  // H.264/H.265: escape the rest, widen start codes in the header
    bool unsupported = false;     // AV1
};
ClearHeader clearHeaderFor(const FrameInfo& info, std::span<const std::uint8_t> frame);

// Output size that always suffices for encrypting a frame of `plainSize` bytes.
constexpr std::size_t maxEncryptedSize(std::size_t plainSize) {
    // Escaping adds at most one byte per three, widening 3-byte start codes one per three more.
    return 2 * (plainSize + kFrameOverhead) + 8;
}

// Emulation-prevention helpers (H.264/H.265 RBSP), exposed for tests.
std::size_t rbspEscape(std::span<const std::uint8_t> in, std::span<std::uint8_t> out);
bool needsRbspUnescaping(std::span<const std::uint8_t> data);
std::size_t rbspUnescape(std::span<const std::uint8_t> in, std::span<std::uint8_t> out);

class FrameEncryptor {
  public:
    // `randomSendCount` gives the random initial per-SSRC send counter in [0, 0xFFFF) (injected so
    // tests are deterministic; the shell passes a CSPRNG-backed function).
    explicit FrameEncryptor(std::function<std::uint16_t()> randomSendCount);
    ~FrameEncryptor();
    FrameEncryptor(const FrameEncryptor&) = delete;
    FrameEncryptor& operator=(const FrameEncryptor&) = delete;
    FrameEncryptor(FrameEncryptor&&) noexcept;
    FrameEncryptor& operator=(FrameEncryptor&&) noexcept;

    // Our key ring (index = the key index written into every frame; the current index encrypts).
    ParticipantKeyRing& keys() noexcept { return m_keys; }
    void setKey(std::uint32_t keyIndex, std::span<const std::uint8_t> raw) { m_keys.setKey(keyIndex, raw); }
    // Pin the send counter of an SSRC (tests, or continuing a stream across encryptor instances).
    void setSendCount(std::uint32_t ssrc, std::uint32_t count);

    FrameResult encrypt(const FrameInfo& info, std::span<const std::uint8_t> in, std::span<std::uint8_t> out);

  private:
    std::uint32_t nextSendCount(std::uint32_t ssrc);

    struct Cipher;
    std::unique_ptr<Cipher> m_cipher;
    ParticipantKeyRing m_keys;
    std::function<std::uint16_t()> m_random;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> m_sendCounts;  // few SSRCs: a flat list
    std::vector<std::uint8_t> m_scratch;                                // H.264 pre-escape buffer
};

// Decrypts one remote participant's frames.
class FrameDecryptor {
  public:
    explicit FrameDecryptor(KeyProviderOptions options = {});
    ~FrameDecryptor();
    FrameDecryptor(const FrameDecryptor&) = delete;
    FrameDecryptor& operator=(const FrameDecryptor&) = delete;
    FrameDecryptor(FrameDecryptor&&) noexcept;
    FrameDecryptor& operator=(FrameDecryptor&&) noexcept;

    ParticipantKeyRing& keys() noexcept { return m_keys; }
    const ParticipantKeyRing& keys() const noexcept { return m_keys; }
    // Unencrypted-frame policy: a participant known to publish without E2EE is passed through;
    // otherwise frames that do not decrypt are dropped (never handed to the decoder as garbage).
    void setEncryptionEnabled(bool enabled) noexcept { m_enabled = enabled; }
    // LiveKit server-injected frames end in this magic trailer and are passed through stripped.
    void setServerInjectedTrailer(std::span<const std::uint8_t> trailer) {
        m_sif.assign(trailer.begin(), trailer.end());
    }

    // `out` needs in.size() bytes.
    FrameResult decrypt(const FrameInfo& info, std::span<const std::uint8_t> in, std::span<std::uint8_t> out);

    std::uint64_t ratchetsAdopted() const noexcept { return m_ratchets; }

  private:
    FrameResult tryDecrypt(const KeyMaterial& key, std::size_t header, bool nalu,
                           std::span<const std::uint8_t> in, std::span<std::uint8_t> out);

    struct Cipher;
    std::unique_ptr<Cipher> m_cipher;
    ParticipantKeyRing m_keys;
    bool m_enabled = true;
    std::vector<std::uint8_t> m_sif;
    std::uint64_t m_ratchets = 0;
};

}  // namespace mxrtc::e2ee
