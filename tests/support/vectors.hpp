// Loading shared test vectors from tests/vectors (path baked in at compile time).
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mxrtc::test {

inline std::string vectorPath(const std::string& relative) {
    return std::string(MXRTC_VECTORS_DIR) + "/" + relative;
}

inline std::string readVectorText(const std::string& relative) {
    std::ifstream in(vectorPath(relative), std::ios::binary);
    if (!in) throw std::runtime_error("cannot open test vector " + vectorPath(relative));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline nlohmann::json loadVector(const std::string& relative) {
    return nlohmann::json::parse(readVectorText(relative));
}

}  // namespace mxrtc::test
