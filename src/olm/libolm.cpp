#include "libolm.hpp"

#include <olm/inbound_group_session.h>
#include <olm/olm.h>
#include <olm/outbound_group_session.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <vector>

#include "mxrtc/common/assert.hpp"

namespace mxrtc::olm {

RandomSource systemRandom() {
    return [](std::span<std::uint8_t> out) {
        MXRTC_ASSERT(RAND_bytes(out.data(), static_cast<int>(out.size())) == 1, "RAND_bytes failed");
    };
}

namespace lib {
namespace {

// A wiped byte buffer for secrets and for inputs libolm overwrites.
class Scratch {
  public:
    explicit Scratch(std::size_t n) : m_bytes(n) {}
    explicit Scratch(std::string_view s) : m_bytes(s.begin(), s.end()) {}
    ~Scratch() { OPENSSL_cleanse(m_bytes.data(), m_bytes.size()); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    Scratch(Scratch&&) = default;
    std::uint8_t* data() { return m_bytes.data(); }
    std::size_t size() const { return m_bytes.size(); }
    std::string str(std::size_t n) const { return std::string(m_bytes.begin(), m_bytes.begin() + n); }

  private:
    std::vector<std::uint8_t> m_bytes;
};

Scratch randomBytes(const RandomSource& random, std::size_t n) {
    Scratch s(n);
    if (n > 0) random(std::span<std::uint8_t>(s.data(), n));
    return s;
}

bool failed(std::size_t r) {
    return r == olm_error();
}

Error olmError(std::string_view what, const char* lastError) {
    return makeError(errcode::kOlm, std::string(what) + ": " + (lastError != nullptr ? lastError : "error"));
}

// A libolm call that cannot fail for well-formed inputs we produced ourselves.
void check(std::size_t r, const char* what, const char* lastError) {
    if (failed(r)) {
        const std::string message = std::string(what) + ": " + (lastError != nullptr ? lastError : "error");
        MXRTC_ASSERT(false, message.c_str());
    }
}

const std::string& keyBytes(const PickleKey& key) {
    MXRTC_ASSERT(!key.empty(), "the pickle key must not be empty");
    return key.exposeSecret();
}

OlmSession* ses(const Memory& m) {
    return static_cast<OlmSession*>(m.data());
}
OlmOutboundGroupSession* ogs(const Memory& m) {
    return static_cast<OlmOutboundGroupSession*>(m.data());
}
OlmInboundGroupSession* igs(const Memory& m) {
    return static_cast<OlmInboundGroupSession*>(m.data());
}

}  // namespace

// ---- Memory ---------------------------------------------------------------------------------------
Memory::Memory(std::size_t size) : m_data(new std::uint8_t[size]()), m_size(size) {}

Memory::~Memory() {
    if (m_data) OPENSSL_cleanse(m_data.get(), m_size);
}

Memory& Memory::operator=(Memory&& other) noexcept {
    if (this != &other) {
        if (m_data) OPENSSL_cleanse(m_data.get(), m_size);
        m_data = std::move(other.m_data);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

// ---- Account --------------------------------------------------------------------------------------
Account Account::create(const RandomSource& random) {
    Account a;
    a.m_memory = Memory(olm_account_size());
    olm_account(a.m_memory.data());
    auto rnd = randomBytes(random, olm_create_account_random_length(a.raw()));
    check(olm_create_account(a.raw(), rnd.data(), rnd.size()), "olm_create_account",
          olm_account_last_error(a.raw()));
    return a;
}

Result<Account> Account::unpickle(const std::string& pickle, const PickleKey& key) {
    Account a;
    a.m_memory = Memory(olm_account_size());
    olm_account(a.m_memory.data());
    Scratch buf(pickle);
    const auto& k = keyBytes(key);
    if (failed(olm_unpickle_account(a.raw(), k.data(), k.size(), buf.data(), buf.size()))) {
        return makeError(errcode::kBadPickleKey,
                         std::string("cannot unpickle the Olm account: ") + olm_account_last_error(a.raw()));
    }
    return a;
}

Account::~Account() {
    if (m_memory.data() != nullptr) olm_clear_account(raw());
}

std::string Account::pickle(const PickleKey& key) const {
    Scratch out(olm_pickle_account_length(raw()));
    const auto& k = keyBytes(key);
    const auto n = olm_pickle_account(raw(), k.data(), k.size(), out.data(), out.size());
    check(n, "olm_pickle_account", olm_account_last_error(raw()));
    return out.str(n);
}

IdentityKeys Account::identityKeys() const {
    Scratch out(olm_account_identity_keys_length(raw()));
    const auto n = olm_account_identity_keys(raw(), out.data(), out.size());
    check(n, "olm_account_identity_keys", olm_account_last_error(raw()));
    const auto j = nlohmann::json::parse(out.str(n));
    return IdentityKeys{e2ee::Curve25519Key(j.at("curve25519").get<std::string>()),
                        e2ee::Ed25519Key(j.at("ed25519").get<std::string>())};
}

std::string Account::sign(std::string_view message) const {
    Scratch out(olm_account_signature_length(raw()));
    const auto n = olm_account_sign(raw(), message.data(), message.size(), out.data(), out.size());
    check(n, "olm_account_sign", olm_account_last_error(raw()));
    return out.str(n);
}

std::size_t Account::maxOneTimeKeys() const {
    return olm_account_max_number_of_one_time_keys(raw());
}

void Account::generateOneTimeKeys(std::size_t count, const RandomSource& random) {
    if (count == 0) return;
    auto rnd = randomBytes(random, olm_account_generate_one_time_keys_random_length(raw(), count));
    check(olm_account_generate_one_time_keys(raw(), count, rnd.data(), rnd.size()),
          "olm_account_generate_one_time_keys", olm_account_last_error(raw()));
}

nlohmann::json Account::unpublishedOneTimeKeys() const {
    Scratch out(olm_account_one_time_keys_length(raw()));
    const auto n = olm_account_one_time_keys(raw(), out.data(), out.size());
    check(n, "olm_account_one_time_keys", olm_account_last_error(raw()));
    return nlohmann::json::parse(out.str(n));
}

void Account::generateFallbackKey(const RandomSource& random) {
    auto rnd = randomBytes(random, olm_account_generate_fallback_key_random_length(raw()));
    check(olm_account_generate_fallback_key(raw(), rnd.data(), rnd.size()),
          "olm_account_generate_fallback_key", olm_account_last_error(raw()));
}

nlohmann::json Account::unpublishedFallbackKey() const {
    Scratch out(olm_account_unpublished_fallback_key_length(raw()));
    const auto n = olm_account_unpublished_fallback_key(raw(), out.data(), out.size());
    check(n, "olm_account_unpublished_fallback_key", olm_account_last_error(raw()));
    return nlohmann::json::parse(out.str(n));
}

void Account::markKeysAsPublished() {
    olm_account_mark_keys_as_published(raw());
}

// ---- Session --------------------------------------------------------------------------------------
Result<Session> Session::createOutbound(const Account& account, const e2ee::Curve25519Key& theirIdentity,
                                        const e2ee::Curve25519Key& theirOneTimeKey,
                                        const RandomSource& random) {
    Session s;
    s.m_memory = Memory(olm_session_size());
    olm_session(s.m_memory.data());
    auto rnd = randomBytes(random, olm_create_outbound_session_random_length(ses(s.m_memory)));
    const auto& id = theirIdentity.str();
    const auto& otk = theirOneTimeKey.str();
    if (failed(olm_create_outbound_session(ses(s.m_memory), account.raw(), id.data(), id.size(), otk.data(),
                                           otk.size(), rnd.data(), rnd.size()))) {
        return olmError("cannot create an outbound Olm session", olm_session_last_error(ses(s.m_memory)));
    }
    return s;
}

Result<Session> Session::createInbound(Account& account, const e2ee::Curve25519Key& theirIdentity,
                                       const std::string& preKeyBody) {
    Session s;
    s.m_memory = Memory(olm_session_size());
    olm_session(s.m_memory.data());
    Scratch body(preKeyBody);
    const auto& id = theirIdentity.str();
    if (failed(olm_create_inbound_session_from(ses(s.m_memory), account.raw(), id.data(), id.size(),
                                               body.data(), body.size()))) {
        return olmError("cannot create an inbound Olm session", olm_session_last_error(ses(s.m_memory)));
    }
    return s;
}

Result<Session> Session::unpickle(const std::string& pickle, const PickleKey& key) {
    Session s;
    s.m_memory = Memory(olm_session_size());
    olm_session(s.m_memory.data());
    Scratch buf(pickle);
    const auto& k = keyBytes(key);
    if (failed(olm_unpickle_session(ses(s.m_memory), k.data(), k.size(), buf.data(), buf.size()))) {
        return makeError(errcode::kBadPickleKey, std::string("cannot unpickle an Olm session: ") +
                                                     olm_session_last_error(ses(s.m_memory)));
    }
    return s;
}

Session::~Session() {
    if (m_memory.data() != nullptr) olm_clear_session(ses(m_memory));
}

std::string Session::pickle(const PickleKey& key) const {
    Scratch out(olm_pickle_session_length(ses(m_memory)));
    const auto& k = keyBytes(key);
    const auto n = olm_pickle_session(ses(m_memory), k.data(), k.size(), out.data(), out.size());
    check(n, "olm_pickle_session", olm_session_last_error(ses(m_memory)));
    return out.str(n);
}

e2ee::OlmSessionId Session::id() const {
    Scratch out(olm_session_id_length(ses(m_memory)));
    const auto n = olm_session_id(ses(m_memory), out.data(), out.size());
    check(n, "olm_session_id", olm_session_last_error(ses(m_memory)));
    return e2ee::OlmSessionId(out.str(n));
}

bool Session::matchesInbound(const e2ee::Curve25519Key& theirIdentity, const std::string& preKeyBody) const {
    Scratch body(preKeyBody);
    const auto& id = theirIdentity.str();
    const auto r =
        olm_matches_inbound_session_from(ses(m_memory), id.data(), id.size(), body.data(), body.size());
    return !failed(r) && r == 1;
}

bool Session::hasReceivedMessage() const {
    return olm_session_has_received_message(ses(m_memory)) != 0;
}

Result<void> Session::removeOneTimeKeysFrom(Account& account) const {
    if (failed(olm_remove_one_time_keys(account.raw(), ses(m_memory))))
        return olmError("cannot remove the used one-time key", olm_account_last_error(account.raw()));
    return {};
}

Encrypted Session::encrypt(std::string_view plaintext, const RandomSource& random) {
    const auto type = olm_encrypt_message_type(ses(m_memory));
    check(type, "olm_encrypt_message_type", olm_session_last_error(ses(m_memory)));
    auto rnd = randomBytes(random, olm_encrypt_random_length(ses(m_memory)));
    Scratch out(olm_encrypt_message_length(ses(m_memory), plaintext.size()));
    const auto n = olm_encrypt(ses(m_memory), plaintext.data(), plaintext.size(), rnd.data(), rnd.size(),
                               out.data(), out.size());
    check(n, "olm_encrypt", olm_session_last_error(ses(m_memory)));
    return Encrypted{static_cast<int>(type), out.str(n)};
}

Result<std::string> Session::decrypt(int type, const std::string& body) {
    Scratch probe(body);
    const auto max = olm_decrypt_max_plaintext_length(ses(m_memory), static_cast<std::size_t>(type),
                                                      probe.data(), probe.size());
    if (failed(max)) return olmError("bad Olm message", olm_session_last_error(ses(m_memory)));
    Scratch in(body);
    Scratch out(max);
    const auto n = olm_decrypt(ses(m_memory), static_cast<std::size_t>(type), in.data(), in.size(),
                               out.data(), out.size());
    if (failed(n)) return olmError("Olm decryption failed", olm_session_last_error(ses(m_memory)));
    return out.str(n);
}

// ---- Megolm ---------------------------------------------------------------------------------------
OutboundGroupSession OutboundGroupSession::create(const RandomSource& random) {
    OutboundGroupSession s;
    s.m_memory = Memory(olm_outbound_group_session_size());
    olm_outbound_group_session(s.m_memory.data());
    auto rnd = randomBytes(random, olm_init_outbound_group_session_random_length(ogs(s.m_memory)));
    check(olm_init_outbound_group_session(ogs(s.m_memory), rnd.data(), rnd.size()),
          "olm_init_outbound_group_session", olm_outbound_group_session_last_error(ogs(s.m_memory)));
    return s;
}

Result<OutboundGroupSession> OutboundGroupSession::unpickle(const std::string& pickle, const PickleKey& key) {
    OutboundGroupSession s;
    s.m_memory = Memory(olm_outbound_group_session_size());
    olm_outbound_group_session(s.m_memory.data());
    Scratch buf(pickle);
    const auto& k = keyBytes(key);
    if (failed(olm_unpickle_outbound_group_session(ogs(s.m_memory), k.data(), k.size(), buf.data(),
                                                   buf.size()))) {
        return makeError(errcode::kBadPickleKey, std::string("cannot unpickle a Megolm session: ") +
                                                     olm_outbound_group_session_last_error(ogs(s.m_memory)));
    }
    return s;
}

OutboundGroupSession::~OutboundGroupSession() {
    if (m_memory.data() != nullptr) olm_clear_outbound_group_session(ogs(m_memory));
}

std::string OutboundGroupSession::pickle(const PickleKey& key) const {
    Scratch out(olm_pickle_outbound_group_session_length(ogs(m_memory)));
    const auto& k = keyBytes(key);
    const auto n =
        olm_pickle_outbound_group_session(ogs(m_memory), k.data(), k.size(), out.data(), out.size());
    check(n, "olm_pickle_outbound_group_session", olm_outbound_group_session_last_error(ogs(m_memory)));
    return out.str(n);
}

e2ee::MegolmSessionId OutboundGroupSession::id() const {
    Scratch out(olm_outbound_group_session_id_length(ogs(m_memory)));
    const auto n = olm_outbound_group_session_id(ogs(m_memory), out.data(), out.size());
    check(n, "olm_outbound_group_session_id", olm_outbound_group_session_last_error(ogs(m_memory)));
    return e2ee::MegolmSessionId(out.str(n));
}

std::string OutboundGroupSession::sessionKey() const {
    Scratch out(olm_outbound_group_session_key_length(ogs(m_memory)));
    const auto n = olm_outbound_group_session_key(ogs(m_memory), out.data(), out.size());
    check(n, "olm_outbound_group_session_key", olm_outbound_group_session_last_error(ogs(m_memory)));
    return out.str(n);
}

std::uint32_t OutboundGroupSession::messageIndex() const {
    return olm_outbound_group_session_message_index(ogs(m_memory));
}

std::string OutboundGroupSession::encrypt(std::string_view plaintext) {
    const auto* in = reinterpret_cast<const std::uint8_t*>(plaintext.data());
    Scratch out(olm_group_encrypt_message_length(ogs(m_memory), plaintext.size()));
    const auto n = olm_group_encrypt(ogs(m_memory), in, plaintext.size(), out.data(), out.size());
    check(n, "olm_group_encrypt", olm_outbound_group_session_last_error(ogs(m_memory)));
    return out.str(n);
}

Result<InboundGroupSession> InboundGroupSession::create(const std::string& sessionKey) {
    InboundGroupSession s;
    s.m_memory = Memory(olm_inbound_group_session_size());
    olm_inbound_group_session(s.m_memory.data());
    Scratch key(sessionKey);
    if (failed(olm_init_inbound_group_session(igs(s.m_memory), key.data(), key.size()))) {
        return olmError("bad Megolm session key", olm_inbound_group_session_last_error(igs(s.m_memory)));
    }
    return s;
}

Result<InboundGroupSession> InboundGroupSession::unpickle(const std::string& pickle, const PickleKey& key) {
    InboundGroupSession s;
    s.m_memory = Memory(olm_inbound_group_session_size());
    olm_inbound_group_session(s.m_memory.data());
    Scratch buf(pickle);
    const auto& k = keyBytes(key);
    if (failed(olm_unpickle_inbound_group_session(igs(s.m_memory), k.data(), k.size(), buf.data(),
                                                  buf.size()))) {
        return makeError(errcode::kBadPickleKey, std::string("cannot unpickle a Megolm session: ") +
                                                     olm_inbound_group_session_last_error(igs(s.m_memory)));
    }
    return s;
}

InboundGroupSession::~InboundGroupSession() {
    if (m_memory.data() != nullptr) olm_clear_inbound_group_session(igs(m_memory));
}

std::string InboundGroupSession::pickle(const PickleKey& key) const {
    Scratch out(olm_pickle_inbound_group_session_length(igs(m_memory)));
    const auto& k = keyBytes(key);
    const auto n =
        olm_pickle_inbound_group_session(igs(m_memory), k.data(), k.size(), out.data(), out.size());
    check(n, "olm_pickle_inbound_group_session", olm_inbound_group_session_last_error(igs(m_memory)));
    return out.str(n);
}

e2ee::MegolmSessionId InboundGroupSession::id() const {
    Scratch out(olm_inbound_group_session_id_length(igs(m_memory)));
    const auto n = olm_inbound_group_session_id(igs(m_memory), out.data(), out.size());
    check(n, "olm_inbound_group_session_id", olm_inbound_group_session_last_error(igs(m_memory)));
    return e2ee::MegolmSessionId(out.str(n));
}

std::uint32_t InboundGroupSession::firstKnownIndex() const {
    return olm_inbound_group_session_first_known_index(igs(m_memory));
}

Result<GroupDecrypted> InboundGroupSession::decrypt(const std::string& ciphertext) {
    Scratch probe(ciphertext);
    const auto max = olm_group_decrypt_max_plaintext_length(igs(m_memory), probe.data(), probe.size());
    if (failed(max))
        return olmError("bad Megolm message", olm_inbound_group_session_last_error(igs(m_memory)));
    Scratch in(ciphertext);
    Scratch out(max);
    std::uint32_t index = 0;
    const auto n = olm_group_decrypt(igs(m_memory), in.data(), in.size(), out.data(), out.size(), &index);
    if (failed(n))
        return olmError("Megolm decryption failed", olm_inbound_group_session_last_error(igs(m_memory)));
    return GroupDecrypted{out.str(n), index};
}

bool ed25519Verify(const e2ee::Ed25519Key& key, std::string_view message, std::string_view signature) {
    Memory memory(olm_utility_size());
    OlmUtility* utility = olm_utility(memory.data());
    Scratch sig(signature);
    const auto& k = key.str();
    const auto r = olm_ed25519_verify(utility, k.data(), k.size(), message.data(), message.size(), sig.data(),
                                      sig.size());
    olm_clear_utility(utility);
    return !failed(r);
}

}  // namespace lib
}  // namespace mxrtc::olm
