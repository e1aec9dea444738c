// RAII wrappers over libolm (internal to the olm module: no libolm type leaves src/olm/).
// Every libolm object lives in a heap buffer that is wiped (olm_clear_*) and freed on destruction.
// Inputs that libolm destroys (messages, pickles) are copied first; failures become Result errors
// carrying libolm's error name.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "mxrtc/common/result.hpp"
#include "mxrtc/olm/types.hpp"

struct OlmAccount;
struct OlmSession;
struct OlmOutboundGroupSession;
struct OlmInboundGroupSession;

namespace mxrtc::olm::lib {

// Wiped, heap-allocated storage for one libolm object.
class Memory {
  public:
    Memory() = default;
    explicit Memory(std::size_t size);
    ~Memory();
    Memory(Memory&&) noexcept = default;
    Memory& operator=(Memory&&) noexcept;
    void* data() const noexcept { return m_data.get(); }

  private:
    std::unique_ptr<std::uint8_t[]> m_data;
    std::size_t m_size = 0;
};

class Account {
  public:
    static Account create(const RandomSource& random);
    static Result<Account> unpickle(const std::string& pickle, const PickleKey& key);
    ~Account();
    Account(Account&&) noexcept = default;
    Account& operator=(Account&&) noexcept = default;

    std::string pickle(const PickleKey& key) const;
    IdentityKeys identityKeys() const;
    std::string sign(std::string_view message) const;  // unpadded base64 ed25519 signature
    std::size_t maxOneTimeKeys() const;
    void generateOneTimeKeys(std::size_t count, const RandomSource& random);
    nlohmann::json unpublishedOneTimeKeys() const;  // {"curve25519": {"<id>": "<key>"}}
    void generateFallbackKey(const RandomSource& random);
    nlohmann::json unpublishedFallbackKey() const;  // {"curve25519": {"<id>": "<key>"}} (maybe empty)
    void markKeysAsPublished();
    OlmAccount* raw() const noexcept { return static_cast<OlmAccount*>(m_memory.data()); }

  private:
    Account() = default;
    Memory m_memory;  // holds the libolm object (libolm constructs it in place)
};

struct Encrypted {
    int type;  // 0 pre-key, 1 normal
    std::string body;
};

class Session {
  public:
    static Result<Session> createOutbound(const Account& account, const e2ee::Curve25519Key& theirIdentity,
                                          const e2ee::Curve25519Key& theirOneTimeKey,
                                          const RandomSource& random);
    // From a pre-key message; the one-time key it used stays in the account until removeOneTimeKeys.
    static Result<Session> createInbound(Account& account, const e2ee::Curve25519Key& theirIdentity,
                                         const std::string& preKeyBody);
    static Result<Session> unpickle(const std::string& pickle, const PickleKey& key);
    ~Session();
    Session(Session&&) noexcept = default;
    Session& operator=(Session&&) noexcept = default;

    std::string pickle(const PickleKey& key) const;
    e2ee::OlmSessionId id() const;
    bool matchesInbound(const e2ee::Curve25519Key& theirIdentity, const std::string& preKeyBody) const;
    bool hasReceivedMessage() const;
    Result<void> removeOneTimeKeysFrom(Account& account) const;
    Encrypted encrypt(std::string_view plaintext, const RandomSource& random);
    // Leaves the session unchanged on failure (libolm checks the MAC before advancing).
    Result<std::string> decrypt(int type, const std::string& body);

  private:
    Session() = default;
    Memory m_memory;  // holds the libolm object (libolm constructs it in place)
};

class OutboundGroupSession {
  public:
    static OutboundGroupSession create(const RandomSource& random);
    static Result<OutboundGroupSession> unpickle(const std::string& pickle, const PickleKey& key);
    ~OutboundGroupSession();
    OutboundGroupSession(OutboundGroupSession&&) noexcept = default;
    OutboundGroupSession& operator=(OutboundGroupSession&&) noexcept = default;

    std::string pickle(const PickleKey& key) const;
    e2ee::MegolmSessionId id() const;
    std::string sessionKey() const;  // at the current message index
    std::uint32_t messageIndex() const;
    std::string encrypt(std::string_view plaintext);

  private:
    OutboundGroupSession() = default;
    Memory m_memory;  // holds the libolm object (libolm constructs it in place)
};

struct GroupDecrypted {
    std::string plaintext;
    std::uint32_t messageIndex;
};

class InboundGroupSession {
  public:
    static Result<InboundGroupSession> create(const std::string& sessionKey);
    static Result<InboundGroupSession> unpickle(const std::string& pickle, const PickleKey& key);
    ~InboundGroupSession();
    InboundGroupSession(InboundGroupSession&&) noexcept = default;
    InboundGroupSession& operator=(InboundGroupSession&&) noexcept = default;

    std::string pickle(const PickleKey& key) const;
    e2ee::MegolmSessionId id() const;
    std::uint32_t firstKnownIndex() const;
    Result<GroupDecrypted> decrypt(const std::string& ciphertext);

  private:
    InboundGroupSession() = default;
    Memory m_memory;  // holds the libolm object (libolm constructs it in place)
};

// ed25519 signature check (olm_ed25519_verify). False for a malformed key or signature too.
bool ed25519Verify(const e2ee::Ed25519Key& key, std::string_view message, std::string_view signature);

}  // namespace mxrtc::olm::lib
