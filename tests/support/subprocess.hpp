// Test helper: run a command with a file as stdin and capture stdout/stderr through temp files.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mxrtc::test {

struct ProcessResult {
    int exitCode = -1;
    std::string out;
    std::string err;
};

inline std::string readWholeFile(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// `s` as one /bin/sh word.
inline std::string shellQuote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// `command` is passed to /bin/sh; `input` is written to its stdin.
inline ProcessResult runWithInput(const std::string& command, const std::string& input) {
    namespace fs = std::filesystem;
    static int counter = 0;
    const fs::path dir = fs::temp_directory_path() /
                         ("mxrtc-proc-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir);
    { std::ofstream(dir / "in", std::ios::binary) << input; }
    const std::string full = command + " < '" + (dir / "in").string() + "' > '" + (dir / "out").string() +
                             "' 2> '" + (dir / "err").string() + "'";
    const int status = std::system(full.c_str());
    ProcessResult r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = readWholeFile(dir / "out");
    r.err = readWholeFile(dir / "err");
    fs::remove_all(dir);
    return r;
}

}  // namespace mxrtc::test
