// RFC 9605 SFrame: header codec, key schedule, AES-CTR+HMAC / AES-GCM AEADs, context with replay window.
#include "mxrtc/e2ee/sframe.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <algorithm>
#include <bitset>
#include <climits>
#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>

#include "mxrtc/common/assert.hpp"

namespace mxrtc::e2ee {

namespace {

using ByteSpan = std::span<const std::uint8_t>;

constexpr std::size_t kMaxHashSize = 64;
constexpr std::size_t kNonceSize = 12;   // Nn of every suite
constexpr std::size_t kMaxTagSize = 16;  // max Nt
constexpr std::size_t kMaxChunk = static_cast<std::size_t>(INT_MAX);

constexpr std::array<SFrameSuiteParams, 5> kSuites = {{
    {SFrameCipherSuite::kAes128CtrHmacSha256_80, "AES_128_CTR_HMAC_SHA256_80", 32, 16, 48, 12, 10, true},
    {SFrameCipherSuite::kAes128CtrHmacSha256_64, "AES_128_CTR_HMAC_SHA256_64", 32, 16, 48, 12, 8, true},
    {SFrameCipherSuite::kAes128CtrHmacSha256_32, "AES_128_CTR_HMAC_SHA256_32", 32, 16, 48, 12, 4, true},
    {SFrameCipherSuite::kAes128GcmSha256_128, "AES_128_GCM_SHA256_128", 32, 0, 16, 12, 16, false},
    {SFrameCipherSuite::kAes256GcmSha512_128, "AES_256_GCM_SHA512_128", 64, 0, 32, 12, 16, false},
}};

const SFrameSuiteParams* findSuite(SFrameCipherSuite suite) noexcept {
    for (const auto& p : kSuites)
        if (p.suite == suite) return &p;
    return nullptr;
}

std::string suiteText(SFrameCipherSuite suite) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto v = static_cast<std::uint16_t>(suite);
    std::string s = "0x";
    for (int shift = 12; shift >= 0; shift -= 4)
        s.push_back(kHex[(v >> shift) & 0xF]);
    return s;
}

Error unsupportedSuite(SFrameCipherSuite suite) {
    return makeError(errcode::kUnsupported, "SFrame: unsupported cipher suite " + suiteText(suite));
}

void putU64be(std::uint8_t* out, std::uint64_t v) noexcept {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<std::uint8_t>(v & 0xFF);
        v >>= 8;
    }
}

// Bytes needed for v in the header's long form (1..8); only meaningful for v >= 8.
std::size_t minimalLength(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (n < 8 && (v >> (8 * n)) != 0)
        ++n;
    return n;
}

std::size_t fieldSize(std::uint64_t v) noexcept {
    return v < 8 ? 0 : minimalLength(v);
}

bool overlaps(ByteSpan a, std::span<const std::uint8_t> b) noexcept {
    if (a.empty() || b.empty()) return false;
    const std::less<const std::uint8_t*> lt;
    return lt(a.data(), b.data() + b.size()) && lt(b.data(), a.data() + a.size());
}

// ----- OpenSSL RAII ------------------------------------------------------------------------------------

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
struct MacCtxFree {
    void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};
struct MacFree {
    void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;
using MacPtr = std::unique_ptr<EVP_MAC, MacFree>;

const EVP_MD* hashOf(const SFrameSuiteParams& p) noexcept {
    return p.nh == 64 ? EVP_sha512() : EVP_sha256();
}

// ----- HKDF (RFC 5869) over one-shot HMAC; key schedule only, never per frame --------------------------

bool hmacOneShot(const EVP_MD* md, ByteSpan key, ByteSpan data, std::uint8_t* out, unsigned* outLen) {
    static const std::uint8_t kEmpty = 0;
    if (key.size() > kMaxChunk) return false;
    return HMAC(md, key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
                data.empty() ? &kEmpty : data.data(), data.size(), out, outLen) != nullptr;
}

// HKDF-Extract with salt "" (HMAC pads an empty key exactly as it pads HashLen zero bytes).
std::optional<Bytes> hkdfExtract(const EVP_MD* md, ByteSpan ikm) {
    std::uint8_t prk[kMaxHashSize];
    unsigned len = 0;
    if (!hmacOneShot(md, {}, ikm, prk, &len)) return std::nullopt;
    Bytes out(prk, prk + len);
    OPENSSL_cleanse(prk, sizeof prk);
    return out;
}

std::optional<Bytes> hkdfExpand(const EVP_MD* md, ByteSpan prk, ByteSpan info, std::size_t length) {
    const auto hashLen = static_cast<std::size_t>(EVP_MD_get_size(md));
    if (length > 255 * hashLen) return std::nullopt;
    Bytes out;
    out.reserve(length);
    Bytes block;  // T(i-1) || info || i
    std::uint8_t t[kMaxHashSize];
    unsigned tLen = 0;
    for (std::uint8_t i = 1; out.size() < length; ++i) {
        block.assign(t, t + tLen);
        block.insert(block.end(), info.begin(), info.end());
        block.push_back(i);
        if (!hmacOneShot(md, prk, block, t, &tLen)) {
            OPENSSL_cleanse(t, sizeof t);
            OPENSSL_cleanse(block.data(), block.size());
            return std::nullopt;
        }
        const std::size_t take = std::min<std::size_t>(tLen, length - out.size());
        out.insert(out.end(), t, t + take);
    }
    OPENSSL_cleanse(t, sizeof t);
    OPENSSL_cleanse(block.data(), block.size());
    return out;
}

void cleanse(Bytes& b) noexcept {
    if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
}

// ----- AEAD state: one sframe_key, one direction, keyed once ---------------------------------------------

MacPtr fetchHmac() {
    return MacPtr(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
}

struct AeadState {
    const SFrameSuiteParams* p = nullptr;
    bool encrypt = true;
    CipherCtxPtr cipher;
    MacCtxPtr mac;  // CTR+HMAC suites only
};

Result<AeadState> makeAeadState(const SFrameSuiteParams& p, bool encrypt, ByteSpan key, EVP_MAC* hmac) {
    if (key.size() != p.nk)
        return makeError(errcode::kInvalidParam, "SFrame: sframe_key must be " + std::to_string(p.nk) +
                                                     " bytes for " + std::string(p.name) + ", got " +
                                                     std::to_string(key.size()));
    AeadState s;
    s.p = &p;
    s.encrypt = encrypt;
    s.cipher.reset(EVP_CIPHER_CTX_new());
    if (!s.cipher) return makeError(errcode::kUnknown, "SFrame: EVP_CIPHER_CTX_new failed");
    if (p.ctrHmac) {
        // enc_key = key[:Nka] (AES-128-CTR), auth_key = key[Nka:] (HMAC-SHA256). CTR is symmetric, so the
        // cipher context is always set up for encryption.
        if (EVP_EncryptInit_ex(s.cipher.get(), EVP_aes_128_ctr(), nullptr, key.data(), nullptr) != 1)
            return makeError(errcode::kUnknown, "SFrame: AES-CTR key setup failed");
        if (hmac == nullptr) return makeError(errcode::kUnsupported, "SFrame: HMAC unavailable in OpenSSL");
        s.mac.reset(EVP_MAC_CTX_new(hmac));
        if (!s.mac) return makeError(errcode::kUnknown, "SFrame: EVP_MAC_CTX_new failed");
        static char kSha256[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", kSha256, 0),
                                     OSSL_PARAM_construct_end()};
        const ByteSpan authKey = key.subspan(p.nka);
        if (EVP_MAC_init(s.mac.get(), authKey.data(), authKey.size(), params) != 1)
            return makeError(errcode::kUnknown, "SFrame: HMAC key setup failed");
    } else {
        const EVP_CIPHER* c = p.nk == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
        const int ok = encrypt ? EVP_EncryptInit_ex(s.cipher.get(), c, nullptr, key.data(), nullptr)
                               : EVP_DecryptInit_ex(s.cipher.get(), c, nullptr, key.data(), nullptr);
        if (ok != 1) return makeError(errcode::kUnknown, "SFrame: AES-GCM key setup failed");
    }
    return s;
}

// Streams a buffer of any size through EVP_*Update in int-sized pieces. out == nullptr feeds GCM AAD.
bool cipherUpdate(EVP_CIPHER_CTX* ctx, bool encrypt, std::uint8_t* out, ByteSpan in) {
    std::size_t done = 0;
    while (done < in.size()) {
        const std::size_t n = std::min(in.size() - done, kMaxChunk);
        int outLen = 0;
        std::uint8_t* o = out == nullptr ? nullptr : out + done;
        const int ok = encrypt ? EVP_EncryptUpdate(ctx, o, &outLen, in.data() + done, static_cast<int>(n))
                               : EVP_DecryptUpdate(ctx, o, &outLen, in.data() + done, static_cast<int>(n));
        if (ok != 1) return false;
        if (out != nullptr && static_cast<std::size_t>(outLen) != n) return false;
        done += n;
    }
    return true;
}

// tag = HMAC(auth_key, u64(len(aad)) || u64(len(ct)) || u64(Nt) || nonce || aad || ct)[:Nt]
bool ctrHmacTag(AeadState& s, ByteSpan nonce, ByteSpan aad1, ByteSpan aad2, ByteSpan ct,
                std::uint8_t (&tag)[kMaxHashSize]) {
    std::uint8_t lens[24];
    putU64be(lens, aad1.size() + aad2.size());
    putU64be(lens + 8, ct.size());
    putU64be(lens + 16, s.p->nt);
    EVP_MAC_CTX* m = s.mac.get();
    if (EVP_MAC_init(m, nullptr, 0, nullptr) != 1) return false;  // same key, fresh state
    if (EVP_MAC_update(m, lens, sizeof lens) != 1) return false;
    if (EVP_MAC_update(m, nonce.data(), nonce.size()) != 1) return false;
    if (!aad1.empty() && EVP_MAC_update(m, aad1.data(), aad1.size()) != 1) return false;
    if (!aad2.empty() && EVP_MAC_update(m, aad2.data(), aad2.size()) != 1) return false;
    if (!ct.empty() && EVP_MAC_update(m, ct.data(), ct.size()) != 1) return false;
    std::size_t len = 0;
    return EVP_MAC_final(m, tag, &len, sizeof tag) == 1 && len >= s.p->nt;
}

bool ctrSetIv(AeadState& s, ByteSpan nonce) {
    std::uint8_t iv[16] = {};
    std::memcpy(iv, nonce.data(), kNonceSize);  // IV = nonce || 0x00000000
    return EVP_EncryptInit_ex(s.cipher.get(), nullptr, nullptr, nullptr, iv) == 1;
}

// Writes ct || tag (pt.size() + Nt bytes) to out. aad = aad1 || aad2.
bool aeadSeal(AeadState& s, ByteSpan nonce, ByteSpan aad1, ByteSpan aad2, ByteSpan pt, std::uint8_t* out) {
    EVP_CIPHER_CTX* c = s.cipher.get();
    if (s.p->ctrHmac) {
        if (!ctrSetIv(s, nonce) || !cipherUpdate(c, true, out, pt)) return false;
        std::uint8_t tag[kMaxHashSize];
        if (!ctrHmacTag(s, nonce, aad1, aad2, ByteSpan(out, pt.size()), tag)) return false;
        std::memcpy(out + pt.size(), tag, s.p->nt);
        return true;
    }
    int len = 0;
    if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
    if (!cipherUpdate(c, true, nullptr, aad1) || !cipherUpdate(c, true, nullptr, aad2)) return false;
    if (!cipherUpdate(c, true, out, pt)) return false;
    if (EVP_EncryptFinal_ex(c, out + pt.size(), &len) != 1 || len != 0) return false;
    return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(s.p->nt), out + pt.size()) == 1;
}

enum class OpenStatus { kOk, kAuthFailed, kInternal };

// ctAndTag.size() >= Nt is checked by the caller; writes ctAndTag.size() - Nt bytes to out. On failure the
// output is wiped.
OpenStatus aeadOpen(AeadState& s, ByteSpan nonce, ByteSpan aad1, ByteSpan aad2, ByteSpan ctAndTag,
                    std::uint8_t* out) {
    const std::size_t nt = s.p->nt;
    const ByteSpan ct = ctAndTag.first(ctAndTag.size() - nt);
    const ByteSpan tag = ctAndTag.last(nt);
    EVP_CIPHER_CTX* c = s.cipher.get();
    if (s.p->ctrHmac) {
        // Verify before decrypting: nothing is written for a forged frame.
        std::uint8_t expected[kMaxHashSize];
        if (!ctrHmacTag(s, nonce, aad1, aad2, ct, expected)) return OpenStatus::kInternal;
        if (CRYPTO_memcmp(expected, tag.data(), nt) != 0) return OpenStatus::kAuthFailed;
        if (!ctrSetIv(s, nonce) || !cipherUpdate(c, true, out, ct)) {
            if (!ct.empty()) OPENSSL_cleanse(out, ct.size());
            return OpenStatus::kInternal;
        }
        return OpenStatus::kOk;
    }
    std::uint8_t tagCopy[kMaxTagSize];
    std::memcpy(tagCopy, tag.data(), nt);
    int len = 0;
    OpenStatus status = OpenStatus::kInternal;
    if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
        cipherUpdate(c, false, nullptr, aad1) && cipherUpdate(c, false, nullptr, aad2) &&
        cipherUpdate(c, false, out, ct) &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(nt), tagCopy) == 1) {
        status =
            EVP_DecryptFinal_ex(c, out + ct.size(), &len) == 1 ? OpenStatus::kOk : OpenStatus::kAuthFailed;
    }
    if (status != OpenStatus::kOk && !ct.empty()) OPENSSL_cleanse(out, ct.size());
    return status;
}

void makeNonce(const std::array<std::uint8_t, kNonceSize>& salt, std::uint64_t ctr,
               std::array<std::uint8_t, kNonceSize>& nonce) noexcept {
    nonce = salt;
    for (std::size_t i = 0; i < 8; ++i)
        nonce[kNonceSize - 1 - i] ^= static_cast<std::uint8_t>(ctr >> (8 * i));
}

Result<void> checkRawAeadInputs(const SFrameSuiteParams& p, ByteSpan nonce) {
    if (nonce.size() != p.nn)
        return makeError(errcode::kInvalidParam, "SFrame: nonce must be " + std::to_string(p.nn) +
                                                     " bytes, got " + std::to_string(nonce.size()));
    return {};
}

}  // namespace

// ----- suites --------------------------------------------------------------------------------------------

std::optional<SFrameSuiteParams> sframeSuiteParams(SFrameCipherSuite suite) {
    if (const auto* p = findSuite(suite)) return *p;
    return std::nullopt;
}

Result<SFrameCipherSuite> parseSFrameCipherSuite(std::uint16_t value) {
    const auto suite = static_cast<SFrameCipherSuite>(value);
    if (findSuite(suite) == nullptr) return unsupportedSuite(suite);
    return suite;
}

// ----- header ----------------------------------------------------------------------------------------------

std::size_t sframeHeaderSize(const SFrameHeader& header) noexcept {
    return 1 + fieldSize(header.kid) + fieldSize(header.ctr);
}

Result<std::size_t> encodeSFrameHeader(const SFrameHeader& header, std::span<std::uint8_t> out) {
    const std::size_t kidLen = fieldSize(header.kid);
    const std::size_t ctrLen = fieldSize(header.ctr);
    const std::size_t total = 1 + kidLen + ctrLen;
    if (out.size() < total)
        return makeError(errcode::kInvalidParam, "SFrame header: output buffer of " +
                                                     std::to_string(out.size()) + " bytes, need " +
                                                     std::to_string(total));
    std::uint8_t config = 0;
    config |= kidLen == 0 ? static_cast<std::uint8_t>(header.kid << 4)
                          : static_cast<std::uint8_t>(0x80 | ((kidLen - 1) << 4));
    config |=
        ctrLen == 0 ? static_cast<std::uint8_t>(header.ctr) : static_cast<std::uint8_t>(0x08 | (ctrLen - 1));
    out[0] = config;
    std::size_t pos = 1;
    for (std::size_t i = kidLen; i > 0; --i)
        out[pos++] = static_cast<std::uint8_t>(header.kid >> (8 * (i - 1)));
    for (std::size_t i = ctrLen; i > 0; --i)
        out[pos++] = static_cast<std::uint8_t>(header.ctr >> (8 * (i - 1)));
    return total;
}

Bytes encodeSFrameHeader(const SFrameHeader& header) {
    Bytes out(sframeHeaderSize(header));
    (void)encodeSFrameHeader(header, std::span<std::uint8_t>(out)).value();
    return out;
}

namespace {

// Reads one long-form field (KID or CTR) of n bytes at pos, enforcing the minimal encoding.
Result<std::uint64_t> readLongField(ByteSpan bytes, std::size_t& pos, std::size_t n, const char* what) {
    if (bytes.size() - pos < n)
        return makeError(errcode::kInvalidParam, std::string("SFrame header: truncated ") + what + " (need " +
                                                     std::to_string(n) + " bytes, have " +
                                                     std::to_string(bytes.size() - pos) + ")");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v = (v << 8) | bytes[pos + i];
    if (v < 8 || minimalLength(v) != n)
        return makeError(errcode::kInvalidParam, std::string("SFrame header: non-minimal ") + what +
                                                     " encoding (" + std::to_string(v) + " in " +
                                                     std::to_string(n) + " extra bytes)");
    pos += n;
    return v;
}

}  // namespace

Result<SFrameDecodedHeader> decodeSFrameHeader(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return makeError(errcode::kInvalidParam, "SFrame header: empty input");
    const std::uint8_t config = bytes[0];
    const bool x = (config & 0x80) != 0;
    const std::uint8_t k = (config >> 4) & 0x07;
    const bool y = (config & 0x08) != 0;
    const std::uint8_t c = config & 0x07;
    SFrameDecodedHeader out;
    std::size_t pos = 1;
    if (x) {
        MXRTC_TRY_ASSIGN(kid, readLongField(bytes, pos, std::size_t{k} + 1, "KID"));
        out.header.kid = kid;
    } else {
        out.header.kid = k;
    }
    if (y) {
        MXRTC_TRY_ASSIGN(ctr, readLongField(bytes, pos, std::size_t{c} + 1, "CTR"));
        out.header.ctr = ctr;
    } else {
        out.header.ctr = c;
    }
    out.size = pos;
    return out;
}

// ----- key schedule ------------------------------------------------------------------------------------

Result<SFrameKeyMaterial> deriveSFrameKeyMaterial(SFrameCipherSuite suite, std::uint64_t kid,
                                                  std::span<const std::uint8_t> baseKey) {
    const SFrameSuiteParams* p = findSuite(suite);
    if (p == nullptr) return unsupportedSuite(suite);
    if (baseKey.empty()) return makeError(errcode::kInvalidParam, "SFrame: empty base key");
    const EVP_MD* md = hashOf(*p);
    auto secret = hkdfExtract(md, baseKey);
    if (!secret) return makeError(errcode::kUnknown, "SFrame: HKDF-Extract failed");

    // "SFrame 1.0 Secret key " / "SFrame 1.0 Secret salt " || u64be(KID) || u16be(suite)
    std::uint8_t tail[10];
    putU64be(tail, kid);
    tail[8] = static_cast<std::uint8_t>(static_cast<std::uint16_t>(suite) >> 8);
    tail[9] = static_cast<std::uint8_t>(static_cast<std::uint16_t>(suite) & 0xFF);
    auto label = [&](std::string_view prefix) {
        Bytes l(prefix.begin(), prefix.end());
        l.insert(l.end(), tail, tail + sizeof tail);
        return l;
    };
    auto key = hkdfExpand(md, *secret, label("SFrame 1.0 Secret key "), p->nk);
    auto salt = hkdfExpand(md, *secret, label("SFrame 1.0 Secret salt "), p->nn);
    cleanse(*secret);
    if (!key || !salt) return makeError(errcode::kUnknown, "SFrame: HKDF-Expand failed");
    return SFrameKeyMaterial{std::move(*key), std::move(*salt)};
}

Result<Bytes> sframeNonce(std::span<const std::uint8_t> salt, std::uint64_t ctr) {
    if (salt.size() < 8)
        return makeError(errcode::kInvalidParam,
                         "SFrame: salt must be at least 8 bytes, got " + std::to_string(salt.size()));
    Bytes nonce(salt.begin(), salt.end());
    for (std::size_t i = 0; i < 8; ++i)
        nonce[nonce.size() - 1 - i] ^= static_cast<std::uint8_t>(ctr >> (8 * i));
    return nonce;
}

Result<Bytes> sframeRatchetBaseKey(SFrameCipherSuite suite, std::span<const std::uint8_t> baseKey) {
    const SFrameSuiteParams* p = findSuite(suite);
    if (p == nullptr) return unsupportedSuite(suite);
    if (baseKey.empty()) return makeError(errcode::kInvalidParam, "SFrame: empty base key");
    const EVP_MD* md = hashOf(*p);
    auto prk = hkdfExtract(md, baseKey);
    if (!prk) return makeError(errcode::kUnknown, "SFrame: HKDF-Extract failed");
    auto next = hkdfExpand(md, *prk, asBytes("SFrame 1.0 Ratchet"), p->nh);
    cleanse(*prk);
    if (!next) return makeError(errcode::kUnknown, "SFrame: HKDF-Expand failed");
    return std::move(*next);
}

// ----- raw AEAD ----------------------------------------------------------------------------------------

Result<Bytes> sframeAeadEncrypt(SFrameCipherSuite suite, std::span<const std::uint8_t> key,
                                std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                                std::span<const std::uint8_t> plaintext) {
    const SFrameSuiteParams* p = findSuite(suite);
    if (p == nullptr) return unsupportedSuite(suite);
    if (auto r = checkRawAeadInputs(*p, nonce); !r) return r.error();
    MacPtr hmac = p->ctrHmac ? fetchHmac() : nullptr;
    MXRTC_TRY_ASSIGN(state, makeAeadState(*p, true, key, hmac.get()));
    Bytes out(plaintext.size() + p->nt);
    if (!aeadSeal(state, nonce, aad, {}, plaintext, out.data()))
        return makeError(errcode::kUnknown, "SFrame: encryption failed in OpenSSL");
    return out;
}

Result<Bytes> sframeAeadDecrypt(SFrameCipherSuite suite, std::span<const std::uint8_t> key,
                                std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                                std::span<const std::uint8_t> ciphertextAndTag) {
    const SFrameSuiteParams* p = findSuite(suite);
    if (p == nullptr) return unsupportedSuite(suite);
    if (auto r = checkRawAeadInputs(*p, nonce); !r) return r.error();
    if (ciphertextAndTag.size() < p->nt)
        return makeError(errcode::kInvalidParam,
                         "SFrame: ciphertext shorter than the " + std::to_string(p->nt) + "-byte tag");
    MacPtr hmac = p->ctrHmac ? fetchHmac() : nullptr;
    MXRTC_TRY_ASSIGN(state, makeAeadState(*p, false, key, hmac.get()));
    Bytes out(ciphertextAndTag.size() - p->nt);
    switch (aeadOpen(state, nonce, aad, {}, ciphertextAndTag, out.data())) {
        case OpenStatus::kOk:
            return out;
        case OpenStatus::kAuthFailed:
            return makeError(errcode::kForbidden, "SFrame: authentication failed");
        case OpenStatus::kInternal:
            break;
    }
    return makeError(errcode::kUnknown, "SFrame: decryption failed in OpenSSL");
}

// ----- context -----------------------------------------------------------------------------------------

namespace {

enum class Direction { kEncrypt, kDecrypt };

struct KeyEntry {
    Direction direction = Direction::kEncrypt;
    std::array<std::uint8_t, kNonceSize> salt{};
    AeadState aead;
    // Encryption: nonce-reuse guard.
    bool anyEncrypted = false;
    std::uint64_t lastCtr = 0;
    // Decryption: replay window; bit i set <=> highestCtr - i has been authenticated.
    bool anyDecrypted = false;
    std::uint64_t highestCtr = 0;
    std::bitset<kSFrameReplayWindow> seen;

    KeyEntry() = default;
    KeyEntry(KeyEntry&&) = default;
    KeyEntry& operator=(KeyEntry&&) = default;
    ~KeyEntry() { OPENSSL_cleanse(salt.data(), salt.size()); }
};

const char* directionName(Direction d) {
    return d == Direction::kEncrypt ? "encryption" : "decryption";
}

}  // namespace

struct SFrameContext::Impl {
    const SFrameSuiteParams* params = nullptr;
    MacPtr hmac;  // fetched once for CTR+HMAC suites
    std::unordered_map<std::uint64_t, KeyEntry> keys;

    Result<void> addKey(std::uint64_t kid, ByteSpan baseKey, Direction direction) {
        if (auto it = keys.find(kid); it != keys.end() && it->second.direction != direction)
            return makeError(errcode::kInvalidParam, "SFrame: KID " + std::to_string(kid) +
                                                         " already holds a " +
                                                         directionName(it->second.direction) + " key");
        MXRTC_TRY_ASSIGN(material, deriveSFrameKeyMaterial(params->suite, kid, baseKey));
        if (params->ctrHmac && !hmac) hmac = fetchHmac();
        auto aead = makeAeadState(*params, direction == Direction::kEncrypt, material.key, hmac.get());
        cleanse(material.key);
        if (!aead) {
            cleanse(material.salt);
            return aead.error();
        }
        KeyEntry entry;
        entry.direction = direction;
        std::memcpy(entry.salt.data(), material.salt.data(), kNonceSize);
        cleanse(material.salt);
        entry.aead = std::move(aead).value();
        keys.insert_or_assign(kid, std::move(entry));
        return {};
    }

    Result<KeyEntry*> lookup(std::uint64_t kid, Direction wanted) {
        auto it = keys.find(kid);
        if (it == keys.end())
            return makeError(errcode::kNotFound, "SFrame: no key for KID " + std::to_string(kid));
        if (it->second.direction != wanted)
            return makeError(errcode::kForbidden, "SFrame: KID " + std::to_string(kid) + " holds a " +
                                                      directionName(it->second.direction) + " key, not a " +
                                                      directionName(wanted) + " key");
        return &it->second;
    }
};

SFrameContext::SFrameContext(SFrameCipherSuite suite) : m_impl(std::make_unique<Impl>()) {
    m_impl->params = findSuite(suite);
    MXRTC_ASSERT(m_impl->params != nullptr,
                 "SFrameContext: unknown cipher suite (use parseSFrameCipherSuite)");
}

SFrameContext::~SFrameContext() = default;
SFrameContext::SFrameContext(SFrameContext&&) noexcept = default;
SFrameContext& SFrameContext::operator=(SFrameContext&&) noexcept = default;

SFrameCipherSuite SFrameContext::suite() const noexcept {
    return m_impl->params->suite;
}

const SFrameSuiteParams& SFrameContext::params() const noexcept {
    return *m_impl->params;
}

Result<void> SFrameContext::addEncryptKey(std::uint64_t kid, std::span<const std::uint8_t> baseKey) {
    return m_impl->addKey(kid, baseKey, Direction::kEncrypt);
}

Result<void> SFrameContext::addDecryptKey(std::uint64_t kid, std::span<const std::uint8_t> baseKey) {
    return m_impl->addKey(kid, baseKey, Direction::kDecrypt);
}

bool SFrameContext::removeKey(std::uint64_t kid) {
    return m_impl->keys.erase(kid) > 0;
}

bool SFrameContext::hasKey(std::uint64_t kid) const {
    return m_impl->keys.contains(kid);
}

std::size_t SFrameContext::ciphertextSize(std::uint64_t kid, std::uint64_t ctr,
                                          std::size_t plaintextSize) const noexcept {
    return sframeHeaderSize(SFrameHeader{kid, ctr}) + plaintextSize + m_impl->params->nt;
}

std::size_t SFrameContext::maxOverhead() const noexcept {
    return kSFrameMaxHeaderSize + m_impl->params->nt;
}

Result<std::size_t> SFrameContext::encrypt(std::uint64_t ctr, std::uint64_t kid,
                                           std::span<const std::uint8_t> metadata,
                                           std::span<const std::uint8_t> plaintext,
                                           std::span<std::uint8_t> out) {
    MXRTC_TRY_ASSIGN(entry, m_impl->lookup(kid, Direction::kEncrypt));
    if (entry->anyEncrypted && ctr <= entry->lastCtr)
        return makeError(errcode::kInvalidParam, "SFrame: CTR " + std::to_string(ctr) + " for KID " +
                                                     std::to_string(kid) +
                                                     " is not greater than the last used " +
                                                     std::to_string(entry->lastCtr) + " (nonce reuse)");
    const SFrameHeader header{kid, ctr};
    const std::size_t headerSize = sframeHeaderSize(header);
    const std::size_t nt = m_impl->params->nt;
    if (plaintext.size() > SIZE_MAX - headerSize - nt)
        return makeError(errcode::kInvalidParam, "SFrame: plaintext too large");
    const std::size_t total = headerSize + plaintext.size() + nt;
    if (out.size() < total)
        return makeError(errcode::kInvalidParam, "SFrame: output buffer of " + std::to_string(out.size()) +
                                                     " bytes, need " + std::to_string(total));
    if (overlaps(out.first(total), plaintext) || overlaps(out.first(total), metadata))
        return makeError(errcode::kInvalidParam, "SFrame: output buffer overlaps an input");
    (void)encodeSFrameHeader(header, out).value();
    std::array<std::uint8_t, kNonceSize> nonce;
    makeNonce(entry->salt, ctr, nonce);
    const ByteSpan headerBytes(out.data(), headerSize);
    if (!aeadSeal(entry->aead, nonce, headerBytes, metadata, plaintext, out.data() + headerSize)) {
        OPENSSL_cleanse(out.data(), total);
        return makeError(errcode::kUnknown, "SFrame: encryption failed in OpenSSL");
    }
    entry->anyEncrypted = true;
    entry->lastCtr = ctr;
    return total;
}

Result<SFrameDecryptResult> SFrameContext::decrypt(std::span<const std::uint8_t> metadata,
                                                   std::span<const std::uint8_t> ciphertext,
                                                   std::span<std::uint8_t> out) {
    MXRTC_TRY_ASSIGN(decoded, decodeSFrameHeader(ciphertext));
    const auto [kid, ctr] = decoded.header;
    MXRTC_TRY_ASSIGN(entry, m_impl->lookup(kid, Direction::kDecrypt));

    // Replay check before any crypto (cheap rejection); the window itself moves only after authentication.
    if (entry->anyDecrypted && ctr <= entry->highestCtr) {
        const std::uint64_t age = entry->highestCtr - ctr;
        if (age >= kSFrameReplayWindow)
            return makeError(errcode::kExpired, "SFrame: CTR " + std::to_string(ctr) + " for KID " +
                                                    std::to_string(kid) + " is older than the replay window");
        if (entry->seen.test(static_cast<std::size_t>(age)))
            return makeError(errcode::kExpired, "SFrame: replayed CTR " + std::to_string(ctr) + " for KID " +
                                                    std::to_string(kid));
    }

    const std::size_t nt = m_impl->params->nt;
    const ByteSpan body = ciphertext.subspan(decoded.size);
    if (body.size() < nt)
        return makeError(errcode::kInvalidParam,
                         "SFrame: ciphertext truncated (" + std::to_string(body.size()) +
                             " bytes after the header, tag is " + std::to_string(nt) + ")");
    const std::size_t ptSize = body.size() - nt;
    if (out.size() < ptSize)
        return makeError(errcode::kInvalidParam, "SFrame: output buffer of " + std::to_string(out.size()) +
                                                     " bytes, need " + std::to_string(ptSize));
    if (overlaps(out.first(ptSize), ciphertext) || overlaps(out.first(ptSize), metadata))
        return makeError(errcode::kInvalidParam, "SFrame: output buffer overlaps an input");

    std::array<std::uint8_t, kNonceSize> nonce;
    makeNonce(entry->salt, ctr, nonce);
    switch (aeadOpen(entry->aead, nonce, ciphertext.first(decoded.size), metadata, body, out.data())) {
        case OpenStatus::kOk:
            break;
        case OpenStatus::kAuthFailed:
            return makeError(errcode::kForbidden, "SFrame: authentication failed for KID " +
                                                      std::to_string(kid) + ", CTR " + std::to_string(ctr));
        case OpenStatus::kInternal:
            return makeError(errcode::kUnknown, "SFrame: decryption failed in OpenSSL");
    }

    if (!entry->anyDecrypted || ctr > entry->highestCtr) {
        const std::uint64_t shift = entry->anyDecrypted ? ctr - entry->highestCtr : kSFrameReplayWindow;
        if (shift >= kSFrameReplayWindow)
            entry->seen.reset();
        else
            entry->seen <<= static_cast<std::size_t>(shift);
        entry->seen.set(0);
        entry->highestCtr = ctr;
        entry->anyDecrypted = true;
    } else {
        entry->seen.set(static_cast<std::size_t>(entry->highestCtr - ctr));
    }
    return SFrameDecryptResult{kid, ctr, ptSize};
}

}  // namespace mxrtc::e2ee
