// Internal helpers for reading untrusted JSON fields without exceptions (core parsers only).
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mxrtc/common/result.hpp"

namespace mxrtc::core::detail {

// Member lookup without allocating (heterogeneous std::less<>); nullptr if absent / not an object.
inline const nlohmann::json* find(const nlohmann::json& obj, std::string_view key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

// M_BAD_JSON "'<field>' <what>": every validation error names the field.
inline Error fieldError(std::string_view field, std::string_view what) {
    std::string message;
    message.reserve(field.size() + what.size() + 3);
    message.append(1, '\'').append(field).append("' ").append(what);
    return makeError(errcode::kBadJson, std::move(message));
}

// JSON numbers from JS may be integers or doubles: accept any finite integral value within the
// safe-integer range (what a JS client can produce).
inline std::optional<std::int64_t> asInt(const nlohmann::json& v) {
    constexpr double kMaxSafe = 9007199254740992.0;
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > (1ULL << 53)) return std::nullopt;
        return static_cast<std::int64_t>(u);
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > kMaxSafe) return std::nullopt;
        return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

}  // namespace mxrtc::core::detail
