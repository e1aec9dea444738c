// Redacted<T>: wraps a secret (access token, OpenID token, key, JWT) so that it can only be
// printed as a short fingerprint. Logs never contain secrets; reading the value is explicit.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace mxrtc {

// First 8 hex digits of SHA-256(bytes), prefixed "sha256:". Stable, not reversible.
std::string fingerprint(std::string_view bytes);

template <typename T = std::string>
class Redacted {
  public:
    Redacted() = default;
    explicit Redacted(T value) : m_value(std::move(value)) {}

    // Deliberately verbose name: every read of a secret is greppable.
    const T& exposeSecret() const noexcept { return m_value; }
    bool empty() const noexcept { return m_value.empty(); }
    std::string fingerprint() const { return mxrtc::fingerprint(std::string_view(m_value)); }

    friend bool operator==(const Redacted&, const Redacted&) = default;
    friend std::ostream& operator<<(std::ostream& os, const Redacted& r) {
        return os << "<redacted " << r.fingerprint() << ">";
    }

  private:
    T m_value;
};

}  // namespace mxrtc
