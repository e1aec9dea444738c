// The `mxrtc` binary as a user runs it: exit codes, one-line errors, JSON output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/vectors.hpp"

namespace {

struct RunResult {
    int exitCode = -1;
    std::string out;  // stdout + stderr
};

RunResult run(const std::string& args) {
    const std::string cmd = std::string(MXRTC_CLI_PATH) + " " + args + " 2>&1";
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

const std::string kDemo = mxrtc::test::vectorPath("rooms/demo_room.json");

TEST(CliInspect, DemoRoomJsonListsTheRunningCallAndBothCallsOfTheHistory) {
    const auto r = run("--json inspect " + kDemo);
    ASSERT_EQ(r.exitCode, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["sessions"].size(), 1u);
    const auto& s = j["sessions"][0];
    EXPECT_EQ(s["slot_id"], "m.call#ROOM");
    ASSERT_EQ(s["members"].size(), 3u);
    EXPECT_EQ(s["members"][0]["user_id"], "@carol:example.org");  // oldest first
    EXPECT_EQ(s["focus"]["livekit_service_url"], "https://rtc.example.org/livekit/jwt");
    EXPECT_EQ(s["members"][1]["transport"]["livekit_service_url"], "https://sfu.other.org/livekit/jwt");
    EXPECT_EQ(s["members"][2]["format"], "rtc");

    ASSERT_EQ(j["history"].size(), 2u);
    EXPECT_EQ(j["history"][0]["duration_ms"], 21 * 60000);
    EXPECT_EQ(j["history"][0]["participants"].size(), 2u);
    EXPECT_TRUE(j["history"][1]["end"].is_null());
    ASSERT_EQ(j["invalid_events"].size(), 1u);
    EXPECT_NE(j["invalid_events"][0].get<std::string>().find("'call_id'"), std::string::npos);
}

TEST(CliInspect, HistorySaysHowEachMemberLeftInWordsAReaderUnderstands) {
    const auto r = run("inspect " + kDemo);
    EXPECT_NE(r.out.find("BOBLAPTOP  2025-10-09 08:55:20 -> 2025-10-09 09:14:20  19m 0s  left or timed out*"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(
                  "* ended by the member's delayed leave (MSC4140): a clean leave and a client that crashed"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("expired (vanished without a delayed leave)"), std::string::npos) << r.out;
}

TEST(CliInspect, EvaluatingLaterExpiresTheStickyMember) {
    // Frank's sticky membership (1 h) started 70 min after T; at T+131 min it is gone.
    const auto r = run("--json inspect --now " + std::to_string(1760000000000LL + 131 * 60000) + " " + kDemo);
    ASSERT_EQ(r.exitCode, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["sessions"][0]["members"].size(), 2u);
}

TEST(CliInspect, MissingFileIsAOneLineErrorWithNonZeroExit) {
    const auto r = run("inspect /nonexistent/room.json");
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(r.out, "mxrtc: cannot open '/nonexistent/room.json'\n");
}

TEST(CliInspect, NonJsonDumpIsAOneLineError) {
    const std::string path = ::testing::TempDir() + "/not-json.json";
    std::ofstream(path) << "{ this is not json";
    const auto r = run("inspect " + path);
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(r.out, "mxrtc: '" + path + "' is not valid JSON\n");
}

TEST(CliInspect, UnknownSubcommandFailsWithUsage) {
    const auto r = run("frobnicate");
    EXPECT_NE(r.exitCode, 0);
}

}  // namespace
