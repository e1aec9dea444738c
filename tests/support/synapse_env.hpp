// The running Synapse test fixture (cmake/Synapse.cmake), as KEY=VALUE pairs from its env file:
// MXRTC_SYNAPSE_URL, MXRTC_SYNAPSE_SERVER_NAME, MXRTC_SYNAPSE_SHARED_SECRET, ... Empty when the
// fixture did not start (tests then skip). Needs MXRTC_SYNAPSE_ENV_FILE (mxrtc_use_synapse()).
#pragma once

#include <fstream>
#include <map>
#include <string>

namespace mxrtc::test {

inline std::map<std::string, std::string> synapseEnv() {
    std::map<std::string, std::string> env;
    std::ifstream in(MXRTC_SYNAPSE_ENV_FILE);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return env;
}

}  // namespace mxrtc::test
