// LiveKit-compatible media key material and the per-participant key ring (spec §5.1, §6.1).
//
// A MatrixRTC media key (16 random bytes from js-sdk, 32 from Famedly) is HKDF input material:
//   aes_key  = HKDF-SHA256(ikm = material, salt = "LKFrameEncryptionKey", info = 128 zero bytes, L = 16)
//   ratchet  = HKDF-SHA256(ikm = material, same salt and info, L = 32)  -> the next material
// The ring holds one key per index (index mod ring size, 1..256 slots), counts decryption failures
// per index and marks an index invalid past the failure tolerance until a new key is set.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mxrtc::e2ee {

inline constexpr std::string_view kLiveKitRatchetSalt = "LKFrameEncryptionKey";

struct KeyProviderOptions {
    std::string ratchetSalt{kLiveKitRatchetSalt};
    int ratchetWindowSize = 10;  // Element Call; LiveKit's default is 8
    int failureTolerance = 10;   // < 0: never mark a key invalid
    int keyringSize = 256;       // Element Call; LiveKit's default is 16
};

// One usable key: the HKDF material (kept for ratcheting) and the AES-128-GCM key derived from it.
struct KeyMaterial {
    static constexpr std::size_t kMaxMaterial = 64;
    std::array<std::uint8_t, kMaxMaterial> material{};
    std::uint8_t materialSize = 0;
    std::array<std::uint8_t, 16> aesKey{};
    std::uint32_t generation = 0;  // changes whenever the slot's key changes (cipher-context cache)

    std::span<const std::uint8_t> materialBytes() const { return {material.data(), materialSize}; }
};

// Derives the AES key from raw material (1..64 bytes). nullopt on an empty or oversized key.
std::optional<KeyMaterial> deriveKeyMaterial(std::span<const std::uint8_t> raw,
                                             std::string_view salt = kLiveKitRatchetSalt);
// The next key in the ratchet chain (32-byte material).
KeyMaterial ratchetKeyMaterial(const KeyMaterial& current, std::string_view salt = kLiveKitRatchetSalt);
// LiveKit's shared-passphrase mode: PBKDF2-HMAC-SHA256(password, salt, 100 000 iterations, 16 bytes).
std::array<std::uint8_t, 16> passwordAesKey(std::string_view password,
                                            std::string_view salt = kLiveKitRatchetSalt,
                                            unsigned iterations = 100'000);

class ParticipantKeyRing {
  public:
    explicit ParticipantKeyRing(KeyProviderOptions options = {});

    const KeyProviderOptions& options() const noexcept { return m_options; }
    std::size_t size() const noexcept { return m_slots.size(); }
    std::size_t slotOf(std::uint32_t keyIndex) const noexcept { return keyIndex % m_slots.size(); }

    // Sets the key at `keyIndex` (mod ring size), makes it current and clears its failure count.
    // False if the raw key is empty or longer than 64 bytes.
    bool setKey(std::uint32_t keyIndex, std::span<const std::uint8_t> raw);
    // Replaces the key at an index with an already derived one (after a successful ratchet).
    void replaceKey(std::uint32_t keyIndex, const KeyMaterial& key);
    const KeyMaterial* key(std::uint32_t keyIndex) const noexcept;
    std::uint8_t currentIndex() const noexcept { return m_current; }
    void setCurrentIndex(std::uint32_t keyIndex) noexcept;
    // Ratchets the key at the index in place (a sender's "ratchet my key"); false if unset.
    bool ratchet(std::uint32_t keyIndex);

    bool isInvalid(std::uint32_t keyIndex) const noexcept;
    void decryptionFailed(std::uint32_t keyIndex) noexcept;
    void decryptionSucceeded(std::uint32_t keyIndex) noexcept;
    int failureCount(std::uint32_t keyIndex) const noexcept { return m_slots[slotOf(keyIndex)].failures; }

  private:
    struct Slot {
        std::optional<KeyMaterial> key;
        int failures = 0;
    };
    KeyProviderOptions m_options;
    std::vector<Slot> m_slots;
    std::uint8_t m_current = 0;
    std::uint32_t m_generation = 0;
};

}  // namespace mxrtc::e2ee
