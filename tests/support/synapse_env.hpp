// KEY=VALUE env files (the Synapse fixture's, cmake/Synapse.cmake): MXRTC_SYNAPSE_URL,
// MXRTC_SYNAPSE_SERVER_NAME, MXRTC_SYNAPSE_SHARED_SECRET, ... Empty when the file is missing (the
// fixture did not start; tests then skip). Lines starting with '#' are comments.
#pragma once

#include <fstream>
#include <map>
#include <string>

namespace mxrtc::test {

inline std::map<std::string, std::string> readEnvFile(const std::string& path) {
    std::map<std::string, std::string> env;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos && !line.starts_with('#')) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return env;
}

#ifdef MXRTC_SYNAPSE_ENV_FILE  // set by mxrtc_use_synapse()
inline std::map<std::string, std::string> synapseEnv() {
    return readEnvFile(MXRTC_SYNAPSE_ENV_FILE);
}
#endif

}  // namespace mxrtc::test
