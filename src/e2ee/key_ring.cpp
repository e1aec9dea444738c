#include "mxrtc/e2ee/key_ring.hpp"

#include <algorithm>

#include "kdf.hpp"
#include "mxrtc/common/assert.hpp"
#include "mxrtc/common/encoding.hpp"

namespace mxrtc::e2ee {
namespace {

constexpr std::array<std::uint8_t, 128> kZeroInfo{};

}  // namespace

std::optional<KeyMaterial> deriveKeyMaterial(std::span<const std::uint8_t> raw, std::string_view salt) {
    if (raw.empty() || raw.size() > KeyMaterial::kMaxMaterial) return std::nullopt;
    KeyMaterial k;
    std::copy(raw.begin(), raw.end(), k.material.begin());
    k.materialSize = static_cast<std::uint8_t>(raw.size());
    if (!detail::hkdf(detail::Hash::Sha256, raw, asBytes(salt), kZeroInfo, k.aesKey)) return std::nullopt;
    return k;
}

KeyMaterial ratchetKeyMaterial(const KeyMaterial& current, std::string_view salt) {
    std::array<std::uint8_t, 32> next{};
    const bool ok =
        detail::hkdf(detail::Hash::Sha256, current.materialBytes(), asBytes(salt), kZeroInfo, next);
    MXRTC_ASSERT(ok, "OpenSSL key derivation failed");
    auto derived = deriveKeyMaterial(next, salt);
    MXRTC_ASSERT(derived.has_value(), "ratcheted key could not be derived");
    return *derived;
}

std::array<std::uint8_t, 16> passwordAesKey(std::string_view password, std::string_view salt,
                                            unsigned iterations) {
    std::array<std::uint8_t, 16> key{};
    const bool ok = detail::pbkdf2Sha256(password, asBytes(salt), iterations, key);
    MXRTC_ASSERT(ok, "OpenSSL key derivation failed");
    return key;
}

ParticipantKeyRing::ParticipantKeyRing(KeyProviderOptions options)
    : m_options(std::move(options)),
      m_slots(static_cast<std::size_t>(std::clamp(m_options.keyringSize, 1, 256))) {}

bool ParticipantKeyRing::setKey(std::uint32_t keyIndex, std::span<const std::uint8_t> raw) {
    auto derived = deriveKeyMaterial(raw, m_options.ratchetSalt);
    if (!derived) return false;
    replaceKey(keyIndex, *derived);
    setCurrentIndex(keyIndex);
    return true;
}

void ParticipantKeyRing::replaceKey(std::uint32_t keyIndex, const KeyMaterial& key) {
    Slot& s = m_slots[slotOf(keyIndex)];
    s.key = key;
    s.key->generation = ++m_generation;
    s.failures = 0;
}

const KeyMaterial* ParticipantKeyRing::key(std::uint32_t keyIndex) const noexcept {
    const Slot& s = m_slots[slotOf(keyIndex)];
    return s.key ? &*s.key : nullptr;
}

void ParticipantKeyRing::setCurrentIndex(std::uint32_t keyIndex) noexcept {
    m_current = static_cast<std::uint8_t>(slotOf(keyIndex));
    m_slots[m_current].failures = 0;
}

bool ParticipantKeyRing::ratchet(std::uint32_t keyIndex) {
    const KeyMaterial* k = key(keyIndex);
    if (k == nullptr) return false;
    replaceKey(keyIndex, ratchetKeyMaterial(*k, m_options.ratchetSalt));
    return true;
}

bool ParticipantKeyRing::isInvalid(std::uint32_t keyIndex) const noexcept {
    return m_options.failureTolerance >= 0 && m_slots[slotOf(keyIndex)].failures > m_options.failureTolerance;
}

void ParticipantKeyRing::decryptionFailed(std::uint32_t keyIndex) noexcept {
    if (m_options.failureTolerance < 0) return;
    int& f = m_slots[slotOf(keyIndex)].failures;
    if (f <= m_options.failureTolerance) ++f;
}

void ParticipantKeyRing::decryptionSucceeded(std::uint32_t keyIndex) noexcept {
    m_slots[slotOf(keyIndex)].failures = 0;
}

}  // namespace mxrtc::e2ee
