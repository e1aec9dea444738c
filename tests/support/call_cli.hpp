// Test helpers for calls driven through the real `mxrtc` CLI against the fixture's Synapse: users
// registered by the CLI, a room they share, `join-call` processes in the background, and readers of
// their --json output (media reports, events). Used by the mesh and the LiveKit call tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/json_lines.hpp"
#include "support/process.hpp"
#include "support/subprocess.hpp"
#include "support/synapse_env.hpp"

#ifndef MXRTC_CLI_PATH
#error "MXRTC_CLI_PATH must be defined"
#endif

namespace mxrtc::test {

inline bool startsWithUser(const nlohmann::json& j, const std::string& user) {
    return j.value("user_id", "").rfind("@" + user + ":", 0) == 0;
}

// The latest per-participant media report `p` printed about `user`.
inline std::optional<nlohmann::json> latestMedia(const BackgroundProcess& p, const std::string& user) {
    std::optional<nlohmann::json> last;
    for (auto& j : jsonLines(p.out()))
        if (j.value("event", "") == "media" && startsWithUser(j, user)) last = std::move(j);
    return last;
}

// `p` decodes `user`'s audio (with energy) and video, and decrypts frames.
inline bool hears(const BackgroundProcess& p, const std::string& user, std::uint64_t minBuffers) {
    auto m = latestMedia(p, user);
    return m && (*m)["audio_buffers"].get<std::uint64_t>() >= minBuffers &&
           (*m)["audio_rms"].get<double>() > 0.1 && (*m)["frames_decrypted"].get<std::uint64_t>() > 0 &&
           (*m)["video_frames"].get<std::uint64_t>() > 0;
}

// CPU time (user + system) of a process, in seconds.
inline double cpuSecondsOf(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) utime = std::stoull(f);
        if (i == 15) stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Percent of one core `pid` uses over `window`.
inline double cpuPercent(pid_t pid, std::chrono::milliseconds window) {
    const double before = cpuSecondsOf(pid);
    std::this_thread::sleep_for(window);
    return (cpuSecondsOf(pid) - before) * 1000.0 / static_cast<double>(window.count()) * 100.0;
}

inline bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
}

inline bool hasLine(const BackgroundProcess& p, const std::function<bool(const nlohmann::json&)>& pred) {
    for (const auto& j : jsonLines(p.out()))
        if (pred(j)) return true;
    return false;
}

// Users registered through the CLI (one profile directory each) in one room on the fixture's
// Synapse. Names get a unique suffix, so tests can share the server.
class CliRoom {
  public:
    // Registers `names`, the first creates a public room and invites the others, who join.
    // `ok()` is false (with the reason in `error()`) when any step failed.
    explicit CliRoom(const std::vector<std::string>& names, const std::string& dirPrefix) {
        env = synapseEnv();
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) {
            m_error = "no Synapse (the synapse fixture did not start)";
            return;
        }
        url = env["MXRTC_SYNAPSE_URL"];
        server = env["MXRTC_SYNAPSE_SERVER_NAME"];
        static std::atomic<int> counter{0};
        const std::string tag = std::to_string(::getpid()) + "x" + std::to_string(++counter);
        dir = std::filesystem::temp_directory_path() / (dirPrefix + tag);
        std::filesystem::create_directories(dir);
        for (const auto& who : names) {
            users[who] = who + tag;
            auto r =
                cli(who, "login --register --homeserver " + url + " --user " + users[who] + " --password pw");
            if (r.exitCode != 0) {
                m_error = "register " + who + ": " + r.err;
                return;
            }
        }
        std::string invites;
        for (std::size_t i = 1; i < names.size(); ++i)
            invites += " --invite " + userId(names[i]);
        auto created = cli(names.front(), "--json create-room" + invites);
        if (created.exitCode != 0) {
            m_error = "create-room: " + created.err;
            return;
        }
        room = nlohmann::json::parse(created.out)["room_id"].get<std::string>();
        for (std::size_t i = 1; i < names.size(); ++i) {
            auto joined = cli(names[i], "join-room '" + room + "'");
            if (joined.exitCode != 0) {
                m_error = "join-room " + names[i] + ": " + joined.err;
                return;
            }
        }
        m_ok = true;
    }
    ~CliRoom() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    CliRoom(const CliRoom&) = delete;
    CliRoom& operator=(const CliRoom&) = delete;

    bool ok() const { return m_ok; }
    const std::string& error() const { return m_error; }
    std::string userId(const std::string& who) const { return "@" + users.at(who) + ":" + server; }

    std::string command(const std::string& who, const std::string& args) const {
        return std::string(MXRTC_CLI_PATH) + " --profile '" + (dir / who).string() + "' " + args;
    }
    ProcessResult cli(const std::string& who, const std::string& args) const {
        return runWithInput("timeout 60 " + command(who, args), "");
    }
    // `mxrtc --json join-call <room> <args>` in the background; logs in <dir>/<who>-join.{out,err}.
    std::unique_ptr<BackgroundProcess> joinCall(const std::string& who, const std::string& args) const {
        return std::make_unique<BackgroundProcess>(command(who, "--json join-call '" + room + "' " + args),
                                                   dir / (who + "-join"));
    }

    std::map<std::string, std::string> env;
    std::map<std::string, std::string> users;  // short name -> registered localpart
    std::string url, server, room;
    std::filesystem::path dir;

  private:
    bool m_ok = false;
    std::string m_error;
};

}  // namespace mxrtc::test
