// Test helpers for state machines that return std::vector<std::variant<...>> effects.
#pragma once

#include <gtest/gtest.h>

#include <variant>
#include <vector>

namespace mxrtc::test {

// Every effect of type T, in order.
template <class T, class Effects>
std::vector<T> all(const Effects& effects) {
    std::vector<T> found;
    for (const auto& e : effects) {
        if (const auto* v = std::get_if<T>(&e)) found.push_back(*v);
    }
    return found;
}

// The single effect of type T (a test failure if there is not exactly one).
template <class T, class Effects>
T only(const Effects& effects) {
    auto found = all<T>(effects);
    EXPECT_EQ(found.size(), 1u) << "expected exactly one effect of the type";
    return found.empty() ? T{} : found.front();
}

template <class T, class Effects>
bool has(const Effects& effects) {
    return !all<T>(effects).empty();
}

}  // namespace mxrtc::test
