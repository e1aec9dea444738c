// Result<T>: an expected-like value-or-error for parsers and validators of untrusted input.
// Errors carry a Matrix-style errcode (M_BAD_JSON, M_INVALID_PARAM, ...) and a message that
// names the offending field. Untrusted input never throws; see design/style.md.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "mxrtc/common/assert.hpp"

namespace mxrtc {

// Matrix-style error codes used across modules. One definition each.
namespace errcode {
inline constexpr const char* kBadJson = "M_BAD_JSON";            // well-formed JSON, wrong shape/values
inline constexpr const char* kNotJson = "M_NOT_JSON";            // not JSON at all / unknown fields
inline constexpr const char* kInvalidParam = "M_INVALID_PARAM";  // a parameter out of range
inline constexpr const char* kMissingParam = "M_MISSING_PARAM";
inline constexpr const char* kNotFound = "M_NOT_FOUND";
inline constexpr const char* kForbidden = "M_FORBIDDEN";
inline constexpr const char* kUnauthorized = "M_UNAUTHORIZED";
inline constexpr const char* kUnknown = "M_UNKNOWN";
inline constexpr const char* kExpired = "MXRTC_EXPIRED";          // valid shape but no longer current
inline constexpr const char* kUnsupported = "MXRTC_UNSUPPORTED";  // recognised but unsupported format
inline constexpr const char* kWrongRoom = "MXRTC_WRONG_ROOM";     // valid, but for another room than ours
}  // namespace errcode

struct Error {
    std::string errcode;
    std::string message;

    friend bool operator==(const Error&, const Error&) = default;
};

inline Error makeError(std::string code, std::string message) {
    return Error{std::move(code), std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
    Result(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const noexcept { return m_v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & {
        MXRTC_ASSERT(ok(), "Result::value() on an error");
        return std::get<0>(m_v);
    }
    const T& value() const& {
        MXRTC_ASSERT(ok(), "Result::value() on an error");
        return std::get<0>(m_v);
    }
    T&& value() && {
        MXRTC_ASSERT(ok(), "Result::value() on an error");
        return std::get<0>(std::move(m_v));
    }
    const Error& error() const& {
        MXRTC_ASSERT(!ok(), "Result::error() on a value");
        return std::get<1>(m_v);
    }
    Error&& error() && {
        MXRTC_ASSERT(!ok(), "Result::error() on a value");
        return std::get<1>(std::move(m_v));
    }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

  private:
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)), m_ok(false) {}  // NOLINT

    bool ok() const noexcept { return m_ok; }
    explicit operator bool() const noexcept { return m_ok; }
    const Error& error() const {
        MXRTC_ASSERT(!m_ok, "Result::error() on success");
        return m_error;
    }

  private:
    Error m_error;
    bool m_ok = true;
};

// Propagate an error from an expression returning Result<...> (statement form).
#define MXRTC_TRY_ASSIGN(lhs, expr)                   \
    auto lhs##_result_ = (expr);                      \
    if (!lhs##_result_) return lhs##_result_.error(); \
    auto lhs = std::move(lhs##_result_).value()

}  // namespace mxrtc
