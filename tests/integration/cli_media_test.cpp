// `mxrtc join-call --media …` as a user types it: a bad source is refused in one line naming what
// is wrong, before the CLI looks for a session or touches the network (no homeserver needed).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct RunResult {
    int exitCode = -1;
    std::string out;  // stdout + stderr
};

RunResult run(const std::string& args) {
    // An empty profile: nothing to log in with, so anything past the option checks fails
    // differently ("not logged in").
    const std::string profile =
        (std::filesystem::temp_directory_path() / ("mxrtc-cli-media-" + std::to_string(::getpid()))).string();
    const std::string cmd = std::string(MXRTC_CLI_PATH) + " --profile " + profile + " " + args + " 2>&1";
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::error_code ec;
    std::filesystem::remove_all(profile, ec);
    return r;
}

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(CliMedia, MissingFileIsRefusedInOneLineBeforeJoining) {
    const auto r = run("join-call '!room:example.org' --focus mesh --media file:/nonexistent/tone.ogg");
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(r.out, "mxrtc: --media file:/nonexistent/tone.ogg: no such file\n");
}

// (--relay-only with --focus mesh: a mesh has no TURN server to relay through.)
TEST(CliMedia, MalformedSourcesAndFlagsAreRefusedInOneLine) {
    for (const char* args : {
             "--media pink-noise",
             "--media file:",
             "--media pipeline:",
             "--media 'pipeline:audio=pulsesrc;audio=alsasrc'",
             "--media 'pipeline:audio=;video=v4l2src'",
             "--media test --once",
             "--media file:/etc/hostname --once --loop",
             "--audio-sink autoaudiosink",
             "--media test --relay-only",
         }) {
        const auto r = run(std::string("join-call '!room:example.org' --focus mesh ") + args);
        EXPECT_NE(r.exitCode, 0) << args;
        EXPECT_EQ(lines(r.out), 1U) << args << ": " << r.out;
        EXPECT_TRUE(r.out.starts_with("mxrtc: ")) << args << ": " << r.out;
        EXPECT_EQ(r.out.find("not logged in"), std::string::npos) << args << ": " << r.out;
    }
}

TEST(CliMedia, WellFormedSourcesGetPastTheOptionChecks) {
    // Audio and video descriptions, a ';' inside a caps list staying in its description.
    for (const char* args : {
             "--media test",
             "--media 'pipeline:audiotestsrc'",
             "--media 'pipeline:audio=audiotestsrc ; video=videotestsrc ! video/x-raw;video/x-bayer'",
             "--media file:/etc/hostname --once",
         }) {
        const auto r = run(std::string("join-call '!room:example.org' --focus mesh ") + args);
        EXPECT_NE(r.out.find("not logged in"), std::string::npos) << args << ": " << r.out;
    }
}

}  // namespace
