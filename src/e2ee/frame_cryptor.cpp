#include "mxrtc/e2ee/frame_cryptor.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "mxrtc/common/assert.hpp"

namespace mxrtc::e2ee {

std::string_view toString(FrameStatus s) {
    switch (s) {
        case FrameStatus::Ok:
            return "ok";
        case FrameStatus::PassThrough:
            return "pass_through";
        case FrameStatus::MissingKey:
            return "missing_key";
        case FrameStatus::InvalidKey:
            return "invalid_key";
        case FrameStatus::Malformed:
            return "malformed";
        case FrameStatus::BufferTooSmall:
            return "buffer_too_small";
    }
    return "malformed";
}

// ---- codec rules (spec §6.3) -------------------------------------------------------------------
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr std::size_t kAudioClear = 1;
constexpr std::size_t kVp8KeyClear = 10;
constexpr std::size_t kVp8DeltaClear = 3;

bool isH264Slice(std::uint8_t b) {
    const int t = b & 0x1F;
    return t == 1 || t == 5;
}
bool isH265Slice(std::uint8_t b) {
    const int t = (b >> 1) & 0x3F;
    return (t >= 0 && t <= 9) || (t >= 16 && t <= 21);
}

// Positions of NAL unit payloads (the byte after each start code), as livekit-client finds them.
// nullopt when bytes precede the first start code ("leading data").
constexpr std::size_t kMaxNalus = 64;
struct NaluList {
    std::array<std::size_t, kMaxNalus> at{};
    std::size_t count = 0;
};

std::optional<NaluList> findNalus(Bytes s) {
    NaluList list;
    const std::size_t len = s.size();
    if (len < 4) return list;  // nothing to search (the search length would be <= 0)
    const std::size_t searchLength = len - 3;
    std::size_t start = 0;
    std::size_t pos = 0;
    auto fourByte = [&](std::size_t p) {
        return s[p] == 0 && s[p + 1] == 0 && s[p + 2] == 0 && s[p + 3] == 1;
    };
    while (pos < searchLength) {
        while (pos < searchLength) {
            // Jump to the next zero byte: start codes begin with one.
            const auto* z =
                static_cast<const std::uint8_t*>(std::memchr(s.data() + pos, 0, searchLength - pos));
            if (z == nullptr) {
                pos = searchLength;
                break;
            }
            pos = static_cast<std::size_t>(z - s.data());
            if (pos + 1 < searchLength && fourByte(pos)) break;
            if (s[pos + 1] == 0 && s[pos + 2] == 1) break;
            ++pos;
        }
        if (pos >= searchLength) pos = len;
        std::size_t end = pos;
        while (end > start && s[end - 1] == 0)
            --end;
        if (start == 0) {
            if (end != start) return std::nullopt;
        } else if (list.count < kMaxNalus) {
            list.at[list.count++] = start;
        }
        std::size_t startCode = 3;
        if (pos + 3 < len && fourByte(pos)) startCode = 4;
        start = pos = pos + startCode;
    }
    return list;
}

// livekit-client's processNALUsForEncryption: nullopt = not NAL-structured (fall back to VP8 rules).
std::optional<ClearHeader> naluHeader(Bytes frame, VideoCodec known) {
    auto nalus = findNalus(frame);
    if (!nalus) return std::nullopt;
    VideoCodec detected = VideoCodec::Unknown;
    for (std::size_t i = 0; i < nalus->count && detected == VideoCodec::Unknown; ++i) {
        if (isH264Slice(frame[nalus->at[i]])) detected = VideoCodec::H264;
    }
    for (std::size_t i = 0; i < nalus->count && detected == VideoCodec::Unknown; ++i) {
        if (isH265Slice(frame[nalus->at[i]])) detected = VideoCodec::H265;
    }
    if (detected == VideoCodec::Unknown) detected = known;
    if (detected == VideoCodec::Unknown) return std::nullopt;
    for (std::size_t i = 0; i < nalus->count; ++i) {
        const std::uint8_t b = frame[nalus->at[i]];
        if (detected == VideoCodec::H265 ? isH265Slice(b) : isH264Slice(b)) {
            return ClearHeader{nalus->at[i] + 2, true, false};
        }
    }
    return std::nullopt;  // no slice NAL: livekit-client falls back to the VP8 rule
}

// Widens 3-byte start codes to 4 bytes (the receiver's depacketizer rebuilds 4-byte ones).
std::size_t widenedSize(Bytes h) {
    std::size_t extra = 0;
    for (std::size_t i = 0; i + 2 < h.size(); ++i) {
        if (h[i] == 0 && h[i + 1] == 0 && h[i + 2] == 1 && (i == 0 || h[i - 1] != 0)) ++extra;
    }
    return h.size() + extra;
}
std::size_t widenStartCodes(Bytes h, std::uint8_t* out) {
    std::size_t o = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        if (i + 2 < h.size() && h[i] == 0 && h[i + 1] == 0 && h[i + 2] == 1 && (i == 0 || h[i - 1] != 0)) {
            out[o++] = 0;
        }
        out[o++] = h[i];
    }
    return o;
}

}  // namespace

ClearHeader clearHeaderFor(const FrameInfo& info, std::span<const std::uint8_t> frame) {
    if (info.kind == MediaKind::Audio) return ClearHeader{kAudioClear, false, false};
    switch (info.codec) {
        case VideoCodec::AV1:
            return ClearHeader{0, false, true};
        case VideoCodec::VP8:
            return ClearHeader{info.keyFrame ? kVp8KeyClear : kVp8DeltaClear, false, false};
        case VideoCodec::VP9:
            return ClearHeader{0, false, false};
        case VideoCodec::H264:
        case VideoCodec::H265:
        case VideoCodec::Unknown:
            if (auto h = naluHeader(frame, info.codec)) return *h;
            return ClearHeader{info.keyFrame ? kVp8KeyClear : kVp8DeltaClear, false, false};
    }
    return ClearHeader{};
}

// ---- RBSP escaping -------------------------------------------------------------------------------

// Runs of non-zero bytes are copied with memchr/memcpy; the byte-wise state machine only runs
// from a zero byte to the next non-zero one.
std::size_t rbspEscape(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
    const std::uint8_t* p = in.data();
    const std::size_t n = in.size();
    std::uint8_t* o = out.data();
    std::size_t i = 0;
    while (i < n) {
        const auto* z = static_cast<const std::uint8_t*>(std::memchr(p + i, 0, n - i));
        const std::size_t j = z != nullptr ? static_cast<std::size_t>(z - p) : n;
        std::memcpy(o, p + i, j - i);
        o += j - i;
        i = j;
        int zeros = 0;
        while (i < n) {
            const std::uint8_t b = p[i++];
            if (b <= 3 && zeros >= 2) {
                *o++ = 3;
                zeros = 0;
            }
            *o++ = b;
            if (b != 0) break;
            ++zeros;
        }
    }
    return static_cast<std::size_t>(o - out.data());
}

bool needsRbspUnescaping(std::span<const std::uint8_t> d) {
    // livekit-client only looks at starting positions up to size - 4.
    if (d.size() < 4) return false;
    const std::size_t last = d.size() - 4;  // highest start position checked
    std::size_t i = 0;
    while (i <= last) {
        const auto* z = static_cast<const std::uint8_t*>(std::memchr(d.data() + i, 0, last + 1 - i));
        if (z == nullptr) return false;
        i = static_cast<std::size_t>(z - d.data());
        if (d[i + 1] == 0 && d[i + 2] == 3) return true;
        ++i;
    }
    return false;
}

std::size_t rbspUnescape(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
    const std::uint8_t* p = in.data();
    const std::size_t n = in.size();
    std::size_t o = 0;
    std::size_t i = 0;
    while (i < n) {
        const auto* z = static_cast<const std::uint8_t*>(std::memchr(p + i, 0, n - i));
        const std::size_t j = z != nullptr ? static_cast<std::size_t>(z - p) : n;
        std::memmove(out.data() + o, p + i, j - i);
        o += j - i;
        i = j;
        if (i >= n) break;
        if (n - i >= 3 && p[i + 1] == 0 && p[i + 2] == 3) {
            out[o++] = 0;
            out[o++] = 0;
            i += 3;
        } else {
            out[o++] = p[i++];
        }
    }
    return o;
}

// ---- AES-128-GCM context reuse -------------------------------------------------------------------

namespace {

struct Gcm {
    EVP_CIPHER_CTX* enc = nullptr;
    EVP_CIPHER_CTX* dec = nullptr;
    std::uint32_t encKeyGen = 0;  // generation of the key loaded in each context (0 = none)
    std::uint32_t decKeyGen = 0;
    std::size_t decIvLen = kIvLength;

    Gcm() {
        enc = EVP_CIPHER_CTX_new();
        dec = EVP_CIPHER_CTX_new();
        MXRTC_ASSERT(enc && dec, "out of memory creating cipher contexts");
        MXRTC_ASSERT(EVP_EncryptInit_ex(enc, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) == 1,
                     "AES-GCM init");
        MXRTC_ASSERT(EVP_DecryptInit_ex(dec, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) == 1,
                     "AES-GCM init");
    }
    ~Gcm() {
        EVP_CIPHER_CTX_free(enc);
        EVP_CIPHER_CTX_free(dec);
    }
    Gcm(const Gcm&) = delete;
    Gcm& operator=(const Gcm&) = delete;

    // ciphertext and tag go to `out` (may alias `plain`).
    bool seal(const KeyMaterial& key, Bytes iv, Bytes aad, Bytes plain, std::uint8_t* out,
              std::uint8_t* tag) {
        const bool rekey = encKeyGen != key.generation || key.generation == 0;
        if (EVP_EncryptInit_ex(enc, nullptr, nullptr, rekey ? key.aesKey.data() : nullptr, iv.data()) != 1)
            return false;
        encKeyGen = key.generation;
        int n = 0;
        if (!aad.empty() &&
            EVP_EncryptUpdate(enc, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) {
            return false;
        }
        if (!plain.empty() &&
            EVP_EncryptUpdate(enc, out, &n, plain.data(), static_cast<int>(plain.size())) != 1) {
            return false;
        }
        if (EVP_EncryptFinal_ex(enc, out + plain.size(), &n) != 1) return false;
        return EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagLength), tag) == 1;
    }

    bool open(const KeyMaterial& key, Bytes iv, Bytes aad, Bytes cipher, Bytes tag, std::uint8_t* out) {
        bool rekey = decKeyGen != key.generation || key.generation == 0;
        if (iv.size() != decIvLen) {
            // A non-standard IV length (LiveKit always sends 12; WebCrypto accepts others).
            if (EVP_DecryptInit_ex(dec, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1 ||
                EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) != 1) {
                decKeyGen = 0;
                decIvLen = 0;
                return false;
            }
            decIvLen = iv.size();
            rekey = true;
        }
        decKeyGen = 0;
        if (EVP_DecryptInit_ex(dec, nullptr, nullptr, rekey ? key.aesKey.data() : nullptr, iv.data()) != 1) {
            return false;
        }
        decKeyGen = key.generation;
        int n = 0;
        if (!aad.empty() &&
            EVP_DecryptUpdate(dec, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) {
            return false;
        }
        if (!cipher.empty() &&
            EVP_DecryptUpdate(dec, out, &n, cipher.data(), static_cast<int>(cipher.size())) != 1) {
            return false;
        }
        if (EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                                const_cast<std::uint8_t*>(tag.data())) != 1) {
            return false;
        }
        return EVP_DecryptFinal_ex(dec, out + cipher.size(), &n) == 1;
    }
};

void putU32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

FrameResult passThrough(Bytes in, std::span<std::uint8_t> out) {
    if (out.size() < in.size()) return {FrameStatus::BufferTooSmall, 0};
    if (!in.empty()) std::memmove(out.data(), in.data(), in.size());
    return {FrameStatus::PassThrough, in.size()};
}

}  // namespace

struct FrameEncryptor::Cipher : Gcm {};
struct FrameDecryptor::Cipher : Gcm {};

// ---- encryptor -----------------------------------------------------------------------------------

FrameEncryptor::FrameEncryptor(std::function<std::uint16_t()> randomSendCount)
    : m_cipher(std::make_unique<Cipher>()), m_random(std::move(randomSendCount)) {
    m_sendCounts.reserve(8);
}
FrameEncryptor::~FrameEncryptor() = default;
FrameEncryptor::FrameEncryptor(FrameEncryptor&&) noexcept = default;
FrameEncryptor& FrameEncryptor::operator=(FrameEncryptor&&) noexcept = default;

void FrameEncryptor::setSendCount(std::uint32_t ssrc, std::uint32_t count) {
    for (auto& [s, c] : m_sendCounts) {
        if (s == ssrc) {
            c = count;
            return;
        }
    }
    m_sendCounts.emplace_back(ssrc, count);
}

std::uint32_t FrameEncryptor::nextSendCount(std::uint32_t ssrc) {
    for (auto& [s, c] : m_sendCounts) {
        if (s == ssrc) return c++;
    }
    const std::uint32_t initial = m_random ? m_random() % 0xFFFF : 0;  // LiveKit: floor(random * 0xffff)
    m_sendCounts.emplace_back(ssrc, initial + 1);
    return initial;
}

FrameResult FrameEncryptor::encrypt(const FrameInfo& info, std::span<const std::uint8_t> in,
                                    std::span<std::uint8_t> out) {
    if (in.empty()) return passThrough(in, out);  // DTX: empty frames stay empty
    const std::uint8_t keyIndex = m_keys.currentIndex();
    const KeyMaterial* key = m_keys.key(keyIndex);
    if (key == nullptr) return {FrameStatus::MissingKey, 0};
    const ClearHeader header = clearHeaderFor(info, in);
    if (header.unsupported) return {FrameStatus::Malformed, 0};
    // A frame shorter than its codec's clear header is not a valid frame (livekit-client throws).
    if (header.bytes > in.size()) return {FrameStatus::Malformed, 0};
    const std::size_t clear = header.bytes;
    const Bytes headerIn = in.first(clear);
    const Bytes payload = in.subspan(clear);

    std::array<std::uint8_t, kIvLength> iv{};
    const std::uint32_t sendCount = nextSendCount(info.ssrc);
    putU32(iv.data(), info.ssrc);
    putU32(iv.data() + 4, info.rtpTimestamp);
    putU32(iv.data() + 8, info.rtpTimestamp - (sendCount % 0xFFFF));

    const std::size_t headerOut = header.naluProcessing ? widenedSize(headerIn) : clear;
    const std::size_t body = payload.size() + kFrameOverhead;
    if (out.size() < headerOut + body) return {FrameStatus::BufferTooSmall, 0};

    std::uint8_t* const o = out.data();
    if (header.naluProcessing) {
        widenStartCodes(headerIn, o);
    } else if (clear > 0) {
        std::memmove(o, headerIn.data(), clear);
    }
    const Bytes aad{o, headerOut};

    // Without escaping, ciphertext | IV | trailer is written straight into the output; with it,
    // into the reused scratch buffer first.
    std::uint8_t* b = o + headerOut;
    if (header.naluProcessing) {
        if (m_scratch.size() < body) m_scratch.resize(std::max(body, m_scratch.size() * 2));
        b = m_scratch.data();
    }
    if (!m_cipher->seal(*key, iv, aad, payload, b, b + payload.size())) return {FrameStatus::Malformed, 0};
    std::memcpy(b + payload.size() + kTagLength, iv.data(), kIvLength);
    b[body - 2] = static_cast<std::uint8_t>(kIvLength);
    b[body - 1] = keyIndex;

    if (!header.naluProcessing) return {FrameStatus::Ok, headerOut + body};
    const std::size_t room = out.size() - headerOut;
    // Worst case of escaping is body * 3 / 2; check before writing.
    if (room < body + body / 2 + 1) {
        std::size_t need = 0;
        int zeros = 0;
        for (std::size_t i = 0; i < body; ++i) {
            if (b[i] <= 3 && zeros >= 2) {
                ++need;
                zeros = 0;
            }
            ++need;
            zeros = b[i] == 0 ? zeros + 1 : 0;
        }
        if (need > room) return {FrameStatus::BufferTooSmall, 0};
    }
    const std::size_t escaped = rbspEscape({b, body}, out.subspan(headerOut));
    return {FrameStatus::Ok, headerOut + escaped};
}

// ---- decryptor -----------------------------------------------------------------------------------

FrameDecryptor::FrameDecryptor(KeyProviderOptions options)
    : m_cipher(std::make_unique<Cipher>()), m_keys(std::move(options)) {}
FrameDecryptor::~FrameDecryptor() = default;
FrameDecryptor::FrameDecryptor(FrameDecryptor&&) noexcept = default;
FrameDecryptor& FrameDecryptor::operator=(FrameDecryptor&&) noexcept = default;

FrameResult FrameDecryptor::tryDecrypt(const KeyMaterial& key, std::size_t header, bool nalu,
                                       std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
    // Lay the frame out in `out` (unescaped if needed), then decrypt in place.
    std::uint8_t* const o = out.data();
    std::memmove(o, in.data(), header);
    const Bytes rest = in.subspan(header);
    std::size_t size = header;
    if (nalu && needsRbspUnescaping(rest)) {
        size += rbspUnescape(rest, out.subspan(header));
    } else {
        std::memmove(o + header, rest.data(), rest.size());
        size += rest.size();
    }
    if (size < header + kTrailerLength) return {FrameStatus::Malformed, 0};
    const std::size_t ivLen = o[size - 2];
    if (ivLen == 0 || size < header + kTagLength + ivLen + kTrailerLength) return {FrameStatus::Malformed, 0};
    const std::size_t cipherLen = size - header - kTagLength - ivLen - kTrailerLength;
    const Bytes iv{o + size - kTrailerLength - ivLen, ivLen};
    const Bytes tag{o + header + cipherLen, kTagLength};
    if (!m_cipher->open(key, iv, Bytes{o, header}, Bytes{o + header, cipherLen}, tag, o + header)) {
        return {FrameStatus::InvalidKey, 0};
    }
    return {FrameStatus::Ok, header + cipherLen};
}

FrameResult FrameDecryptor::decrypt(const FrameInfo& info, std::span<const std::uint8_t> in,
                                    std::span<std::uint8_t> out) {
    if (in.empty() || !m_enabled) return passThrough(in, out);
    if (out.size() < in.size()) return {FrameStatus::BufferTooSmall, 0};
    if (!m_sif.empty() && in.size() >= m_sif.size() &&
        std::equal(m_sif.begin(), m_sif.end(), in.end() - static_cast<std::ptrdiff_t>(m_sif.size()))) {
        return passThrough(in.first(in.size() - m_sif.size()), out);
    }
    const std::uint8_t keyIndex = in.back();
    if (m_keys.isInvalid(keyIndex)) return {FrameStatus::InvalidKey, 0};
    const KeyMaterial* key = m_keys.key(keyIndex);
    if (key == nullptr) {
        m_keys.decryptionFailed(keyIndex);
        return {FrameStatus::MissingKey, 0};
    }
    const ClearHeader header = clearHeaderFor(info, in);
    if (header.unsupported) return {FrameStatus::Malformed, 0};
    if (in.size() < header.bytes + kFrameOverhead) return {FrameStatus::Malformed, 0};

    FrameResult r = tryDecrypt(*key, header.bytes, header.naluProcessing, in, out);
    if (r.status != FrameStatus::InvalidKey) {
        if (r.status == FrameStatus::Ok) m_keys.decryptionSucceeded(keyIndex);
        return r;
    }
    // The sender may have ratcheted its key: try the next keys in the chain and adopt the one
    // that works (livekit-client's ratchet window).
    KeyMaterial candidate = *key;
    for (int step = 0; step < m_keys.options().ratchetWindowSize; ++step) {
        candidate = ratchetKeyMaterial(candidate, m_keys.options().ratchetSalt);
        r = tryDecrypt(candidate, header.bytes, header.naluProcessing, in, out);
        if (r.status == FrameStatus::Ok) {
            m_keys.replaceKey(keyIndex, candidate);
            m_keys.setCurrentIndex(keyIndex);
            ++m_ratchets;
            return r;
        }
    }
    m_keys.decryptionFailed(keyIndex);
    return {FrameStatus::InvalidKey, 0};
}

}  // namespace mxrtc::e2ee
