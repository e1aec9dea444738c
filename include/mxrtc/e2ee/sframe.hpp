// RFC 9605 SFrame: end-to-end media frame encryption.
//
// Pure code: no clock, no I/O, no randomness. The CTR of every frame is an input chosen by the caller.
// Untrusted input never throws or asserts; every failure is a Result error whose errcode says what kind
// of failure it is:
//   errcode::kInvalidParam  malformed/truncated header or ciphertext, non-minimal header, bad key size,
//                           output buffer too small, overlapping buffers, CTR not increasing on encrypt
//   errcode::kNotFound      no key for the frame's KID
//   errcode::kForbidden     authentication failed (tampered header, metadata, ciphertext or tag), or the
//                           key exists but is for the other direction
//   errcode::kExpired       replay: CTR already accepted, or older than the replay window
//   errcode::kUnsupported   cipher suite not implemented
//
// Header decoding is strict: RFC 9605 §4.3 requires KID and CTR to be encoded in the fewest bytes (values
// 0-7 in the config byte, otherwise big-endian with no leading zero byte). Non-minimal encodings are
// rejected, so every accepted header has exactly one encoding and re-encoding reproduces it byte for byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/common/result.hpp"

namespace mxrtc::e2ee {

// ---------------------------------------------------------------------------------------------------------
// Cipher suites (RFC 9605 §8.1)

enum class SFrameCipherSuite : std::uint16_t {
    kAes128CtrHmacSha256_80 = 0x0001,
    kAes128CtrHmacSha256_64 = 0x0002,
    kAes128CtrHmacSha256_32 = 0x0003,
    kAes128GcmSha256_128 = 0x0004,
    kAes256GcmSha512_128 = 0x0005,
};

struct SFrameSuiteParams {
    SFrameCipherSuite suite;
    std::string_view name;  // e.g. "AES_128_GCM_SHA256_128"
    std::size_t nh;         // hash output size (HKDF, ratchet)
    std::size_t nka;        // AES key size inside sframe_key for CTR+HMAC suites; 0 for GCM suites
    std::size_t nk;         // sframe_key size
    std::size_t nn;         // nonce / sframe_salt size
    std::size_t nt;         // tag size
    bool ctrHmac;           // true: AES-CTR + truncated HMAC (RFC 9605 §4.5.1); false: AES-GCM
};

// Parameters of a suite; nullopt for a value that is not one of the suites above.
std::optional<SFrameSuiteParams> sframeSuiteParams(SFrameCipherSuite suite);
// Wire value -> suite; kUnsupported for unknown values.
Result<SFrameCipherSuite> parseSFrameCipherSuite(std::uint16_t value);

// ---------------------------------------------------------------------------------------------------------
// Header (RFC 9605 §4.3): config byte X(1) K(3) Y(1) C(3), then optional KID bytes, then optional CTR bytes.

struct SFrameHeader {
    std::uint64_t kid = 0;
    std::uint64_t ctr = 0;

    friend bool operator==(const SFrameHeader&, const SFrameHeader&) = default;
};

inline constexpr std::size_t kSFrameMaxHeaderSize = 17;  // 1 + 8 + 8

// Exact encoded size of a header, 1..17.
std::size_t sframeHeaderSize(const SFrameHeader& header) noexcept;
// Writes the minimal encoding into out; returns the number of bytes written, kInvalidParam if out is
// shorter than sframeHeaderSize(header).
Result<std::size_t> encodeSFrameHeader(const SFrameHeader& header, std::span<std::uint8_t> out);
Bytes encodeSFrameHeader(const SFrameHeader& header);

struct SFrameDecodedHeader {
    SFrameHeader header;
    std::size_t size = 0;  // bytes consumed from the start of the input
};
// Decodes the header at the start of bytes (trailing bytes are ignored). kInvalidParam when the input is
// truncated or the encoding is not minimal.
Result<SFrameDecodedHeader> decodeSFrameHeader(std::span<const std::uint8_t> bytes);

// ---------------------------------------------------------------------------------------------------------
// Key schedule (RFC 9605 §4.4.2, §5.1). Not on the per-frame path; allocation is fine here.

struct SFrameKeyMaterial {
    Bytes key;   // sframe_key, Nk bytes
    Bytes salt;  // sframe_salt, Nn bytes
};

// secret = HKDF-Extract("", base_key); sframe_key / sframe_salt = HKDF-Expand(secret, label, Nk / Nn)
// with label "SFrame 1.0 Secret key|salt " || u64be(KID) || u16be(suite). kInvalidParam for an empty base
// key, kUnsupported for an unknown suite.
Result<SFrameKeyMaterial> deriveSFrameKeyMaterial(SFrameCipherSuite suite, std::uint64_t kid,
                                                  std::span<const std::uint8_t> baseKey);

// nonce = sframe_salt XOR CTR, CTR big-endian right-aligned in Nn bytes. kInvalidParam if salt.size() < 8.
Result<Bytes> sframeNonce(std::span<const std::uint8_t> salt, std::uint64_t ctr);

// Sender-key ratchet (RFC 9605 §5.1):
// base_key[i+1] = HKDF-Expand(HKDF-Extract("", base_key[i]), "SFrame 1.0 Ratchet", Nh).
Result<Bytes> sframeRatchetBaseKey(SFrameCipherSuite suite, std::span<const std::uint8_t> baseKey);

// ---------------------------------------------------------------------------------------------------------
// Raw AEAD of a suite (RFC 9605 §4.4.3/§4.5.1). Allocating convenience functions for tests and tooling;
// use SFrameContext for media. key is sframe_key (Nk bytes), nonce is Nn bytes.
// Encrypt returns ciphertext || tag; decrypt returns the plaintext or kForbidden on a bad tag.

Result<Bytes> sframeAeadEncrypt(SFrameCipherSuite suite, std::span<const std::uint8_t> key,
                                std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                                std::span<const std::uint8_t> plaintext);
Result<Bytes> sframeAeadDecrypt(SFrameCipherSuite suite, std::span<const std::uint8_t> key,
                                std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                                std::span<const std::uint8_t> ciphertextAndTag);

// ---------------------------------------------------------------------------------------------------------
// SFrame context (RFC 9605 §4.4): KID -> key, each key either encrypt-only or decrypt-only.
//
// encrypt:  out = header || AEAD(sframe_key, nonce, aad = header || metadata, plaintext)  (ct || tag)
// decrypt:  parses the header, looks up the KID, checks the replay window, authenticates and decrypts.
//
// Per frame, no heap allocation is made by this class: each key keeps its own OpenSSL cipher/MAC contexts,
// keyed once at addXxxKey() and only re-IV'd per frame. Buffers are caller-supplied; out must not overlap
// any input. Not thread-safe: one context per thread (or external locking).
//
// Nonce-reuse guard: for each encryption key, CTR must be strictly greater than the last CTR successfully
// used with that key (the first frame may use any CTR, including 0).
//
// Replay protection: for each decryption key, a sliding window of kSFrameReplayWindow CTR values below the
// highest authenticated CTR. A CTR already authenticated, or <= highest - kSFrameReplayWindow, is rejected
// with kExpired. The window only moves after a frame authenticates, so forged frames cannot advance it.

inline constexpr std::uint64_t kSFrameReplayWindow = 128;

struct SFrameDecryptResult {
    std::uint64_t kid = 0;
    std::uint64_t ctr = 0;
    std::size_t size = 0;  // plaintext bytes written to out
};

class SFrameContext {
  public:
    // Asserts that suite is one of the enumerators (a programming error otherwise); use
    // parseSFrameCipherSuite() for untrusted wire values.
    explicit SFrameContext(SFrameCipherSuite suite);
    ~SFrameContext();
    SFrameContext(SFrameContext&&) noexcept;
    SFrameContext& operator=(SFrameContext&&) noexcept;
    SFrameContext(const SFrameContext&) = delete;
    SFrameContext& operator=(const SFrameContext&) = delete;

    SFrameCipherSuite suite() const noexcept;
    const SFrameSuiteParams& params() const noexcept;

    // Derives sframe_key/sframe_salt for kid from baseKey and installs them. Re-adding a KID in the same
    // direction replaces its key and resets its CTR/replay state; a KID already used for the other
    // direction is kInvalidParam (remove it first). Empty baseKey is kInvalidParam.
    Result<void> addEncryptKey(std::uint64_t kid, std::span<const std::uint8_t> baseKey);
    Result<void> addDecryptKey(std::uint64_t kid, std::span<const std::uint8_t> baseKey);
    // Returns false if there was no key for kid. Key material is cleansed.
    bool removeKey(std::uint64_t kid);
    bool hasKey(std::uint64_t kid) const;

    // Exact output size of encrypt(ctr, kid, ..., plaintext of plaintextSize bytes, ...).
    std::size_t ciphertextSize(std::uint64_t kid, std::uint64_t ctr,
                               std::size_t plaintextSize) const noexcept;
    // Upper bound of the overhead (header + tag) for any KID/CTR.
    std::size_t maxOverhead() const noexcept;

    // Writes header || ciphertext || tag into out; returns the number of bytes written.
    Result<std::size_t> encrypt(std::uint64_t ctr, std::uint64_t kid, std::span<const std::uint8_t> metadata,
                                std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out);
    // Writes the plaintext into out (out.size() >= ciphertext.size() always suffices). On any error nothing
    // meaningful is left in out (partial plaintext is wiped).
    Result<SFrameDecryptResult> decrypt(std::span<const std::uint8_t> metadata,
                                        std::span<const std::uint8_t> ciphertext,
                                        std::span<std::uint8_t> out);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace mxrtc::e2ee
