// Test harness for LiveKit (header-only): a real livekit-server on loopback (LiveKitServer) and the
// LiveKit Python SDK as a reference participant (LiveKitPeer, tests/livekit/lk_peer.py).
//
// Where the peers come from (compile definitions, set by tests/integration/CMakeLists.txt):
//   MXRTC_LIVEKIT_SERVER  livekit-server binary (scripts/livekit/install.sh, via scripts/setup-peers.sh)
//   MXRTC_LK_PYTHON       a Python with `livekit` (the venv scripts/setup-peers.sh makes)
//   MXRTC_LK_SCRIPT_DIR   tests/livekit (lk_peer.py)
// A missing peer is a test failure (requireLiveKitPeers()), never a skip.
//
// Children run in their own process group with PR_SET_PDEATHSIG(SIGKILL), so nothing outlives the
// test binary, even when it crashes. Every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/json_lines.hpp"
#include "support/subprocess.hpp"

namespace mxrtc::test {

#ifdef MXRTC_LIVEKIT_SERVER
inline constexpr const char* kLiveKitServerBinary = MXRTC_LIVEKIT_SERVER;
#else
inline constexpr const char* kLiveKitServerBinary = "";
#endif
#ifdef MXRTC_LK_PYTHON
inline constexpr const char* kLiveKitPython = MXRTC_LK_PYTHON;
#else
inline constexpr const char* kLiveKitPython = "";
#endif
#ifdef MXRTC_LK_SCRIPT_DIR
inline constexpr const char* kLiveKitScriptDir = MXRTC_LK_SCRIPT_DIR;
#else
inline constexpr const char* kLiveKitScriptDir = "";
#endif

// Empty when livekit-server and the Python SDK are there; otherwise what is missing and how to
// install it. Tests: ASSERT_EQ(requireLiveKitPeers(), "").
inline std::string requireLiveKitPeers(bool needPython = true) {
    namespace fs = std::filesystem;
    std::string missing;
    if (std::string(kLiveKitServerBinary).empty() || !fs::exists(kLiveKitServerBinary))
        missing +=
            "livekit-server not found (MXRTC_LIVEKIT_SERVER='" + std::string(kLiveKitServerBinary) + "'). ";
    if (needPython) {
        const std::string py = kLiveKitPython;
        if (py.empty() || !fs::exists(py)) {
            missing += "no Python with the livekit SDK (MXRTC_LK_PYTHON='" + py + "'). ";
        } else if (runWithInput(shellQuote(py) + " -c 'import livekit.rtc, numpy'", "").exitCode != 0) {
            missing += "the Python at " + py + " cannot import livekit.rtc and numpy. ";
        }
    }
    if (!missing.empty()) missing += "Run scripts/setup-peers.sh, then re-run cmake so the paths are found.";
    return missing;
}

// ---- child processes ---------------------------------------------------------------------------------

namespace lk_detail {

// fork + exec `argv` in its own process group, stdout/stderr appended to files, stdin from
// `stdinFd` (or /dev/null when -1). The child dies with the test binary (PR_SET_PDEATHSIG).
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& outPath,
                   const std::string& errPath, int stdinFd = -1) {
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {  // child: async-signal-safe calls only
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        const int in = stdinFd >= 0 ? stdinFd : ::open("/dev/null", O_RDONLY);
        const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0 || err < 0) ::_exit(127);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    if (pid > 0) ::setpgid(pid, pid);  // also here: no race with a signal sent right away
    return pid;
}

// Reaps `pid` if it exited; the exit code (128+signal when killed), or nullopt while running.
inline std::optional<int> reap(pid_t pid) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno == ECHILD) return -1;  // not ours any more
    return std::nullopt;
}

inline std::optional<int> waitExit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (auto code = reap(pid)) return code;
        if (std::chrono::steady_clock::now() >= until) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// Kills the whole process group and reaps the leader.
inline void killGroup(pid_t pid) {
    if (pid <= 0) return;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    waitExit(pid, std::chrono::seconds(5));
}

// A port on 127.0.0.1 that is free right now (the kernel's choice).
inline int freePort(int type) {
    const int fd = ::socket(AF_INET, type, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

// Whether `port` can be bound on 127.0.0.1 now, with SO_REUSEADDR like Go's listeners (so TCP
// connections of a previous server left in TIME_WAIT do not count).
inline bool bindable(int port, int type) {
    const int fd = ::socket(AF_INET, type, 0);
    if (fd < 0) return false;
    const int one = 1;
    if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// The status of `GET /` on 127.0.0.1:port (0 when nothing answered within `timeout`).
inline int httpStatus(int port, std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    int status = 0;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        const std::string req = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            char buf[64] = {};
            const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
            if (n > 12 && std::strncmp(buf, "HTTP/1.", 7) == 0) status = std::atoi(buf + 9);
        }
    }
    ::close(fd);
    return status;
}

inline std::filesystem::path freshDir(const std::string& prefix) {
    static std::atomic<int> counter{0};
    auto dir = std::filesystem::temp_directory_path() /
               (prefix + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// `s` as a YAML/JSON double-quoted string.
inline std::string quoted(const std::string& s) {
    return nlohmann::json(s).dump();
}

}  // namespace lk_detail

// A TCP port on 127.0.0.1 that is free right now (for a server whose port must be known before it
// starts, e.g. a LIVEKIT_URL handed to another process).
inline int freeLoopbackTcpPort() {
    return lk_detail::freePort(SOCK_STREAM);
}

// ---- livekit-server ------------------------------------------------------------------------------------

struct LiveKitServerOptions {
    std::string key{"devkey"};
    std::string secret{"mxrtc-livekit-test-secret-0123456789abcdef"};  // >= 32 chars or LiveKit complains
    int httpPort = 0;  // HTTP + WebSocket (/rtc); 0 = a free port
    int udpPort = 0;   // the single ICE/UDP mux port (rtc.udp_port); 0 = a free port
    std::vector<std::string> webhookUrls;
    std::optional<bool> autoCreateRooms;  // unset: LiveKit's default (true)
    // The embedded TURN server on UDP (offered to clients in the JoinResponse), relaying on
    // 127.0.0.1 only and allowed to reach loopback peers: -1 = off, 0 = a free port.
    int turnUdpPort = -1;
    std::string logLevel{"info"};
    std::string binary{kLiveKitServerBinary};
    std::chrono::milliseconds startTimeout{20'000};
};

// One livekit-server on 127.0.0.1 only: HTTP/WS on httpPort, media on one UDP port, no TCP
// fallback, loopback ICE candidates only. Started by the constructor; check up() (error() says why
// not). Killed on destruction.
class LiveKitServer {
  public:
    explicit LiveKitServer(LiveKitServerOptions options = {}) : m_opts(std::move(options)) {
        m_dir = lk_detail::freshDir("mxrtc-livekit-");
        if (m_opts.httpPort == 0) m_opts.httpPort = lk_detail::freePort(SOCK_STREAM);
        while (m_opts.udpPort == 0 || m_opts.udpPort == m_opts.httpPort)
            m_opts.udpPort = lk_detail::freePort(SOCK_DGRAM);
        while (m_opts.turnUdpPort == 0 || m_opts.turnUdpPort == m_opts.udpPort)
            m_opts.turnUdpPort = lk_detail::freePort(SOCK_DGRAM);
        writeConfig();
        start();
    }
    ~LiveKitServer() {
        kill();
        std::error_code ignored;
        std::filesystem::remove_all(m_dir, ignored);
    }
    LiveKitServer(const LiveKitServer&) = delete;
    LiveKitServer& operator=(const LiveKitServer&) = delete;

    bool up() const { return m_up; }
    const std::string& error() const { return m_error; }
    std::string wsUrl() const { return "ws://127.0.0.1:" + std::to_string(m_opts.httpPort); }
    std::string httpUrl() const { return "http://127.0.0.1:" + std::to_string(m_opts.httpPort); }
    const std::string& key() const { return m_opts.key; }
    const std::string& secret() const { return m_opts.secret; }
    int httpPort() const { return m_opts.httpPort; }
    int udpPort() const { return m_opts.udpPort; }
    pid_t pid() const { return m_pid; }
    std::string logs() const { return readWholeFile(m_dir / "livekit.log"); }
    std::string config() const { return readWholeFile(m_dir / "livekit.yaml"); }

    // SIGTERM; livekit-server then drains (waits for its rooms to close, which an empty room only
    // does after its empty timeout), so a second SIGTERM after `drain` forces the shutdown, and
    // SIGKILL follows after `grace`. True when it exited without SIGKILL.
    bool stop(std::chrono::milliseconds drain = std::chrono::seconds(2),
              std::chrono::milliseconds grace = std::chrono::seconds(10)) {
        if (m_pid <= 0) return true;
        ::kill(m_pid, SIGTERM);
        bool clean = lk_detail::waitExit(m_pid, drain).has_value();
        if (!clean) {
            ::kill(m_pid, SIGTERM);
            clean = lk_detail::waitExit(m_pid, grace).has_value();
        }
        if (!clean) lk_detail::killGroup(m_pid);
        m_pid = -1;
        m_up = false;
        return clean;
    }
    // SIGKILL: the server vanishes without closing anything (a crash).
    void kill() {
        lk_detail::killGroup(m_pid);
        m_pid = -1;
        m_up = false;
    }
    // Stops (if running) and starts again on the same ports, once they can be bound again.
    bool restart() {
        stop();
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!(lk_detail::bindable(m_opts.httpPort, SOCK_STREAM) &&
                 lk_detail::bindable(m_opts.udpPort, SOCK_DGRAM))) {
            if (std::chrono::steady_clock::now() >= until) {
                m_error = "ports " + std::to_string(m_opts.httpPort) + "/" + std::to_string(m_opts.udpPort) +
                          " still busy after the old server exited";
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return start();
    }

  private:
    void writeConfig() const {
        std::ofstream f(m_dir / "livekit.yaml");
        f << "port: " << m_opts.httpPort << "\n"
          << "bind_addresses: [\"127.0.0.1\"]\n"
          << "rtc:\n"
          << "  udp_port: " << m_opts.udpPort << "\n"
          << "  tcp_port: 0\n"  // a TCP port would be bound on all interfaces
          << "  node_ip: 127.0.0.1\n"
          << "  use_external_ip: false\n"
          << "  enable_loopback_candidate: true\n"
          << "  interfaces: {includes: [\"lo\"]}\n"
          << "  ips: {includes: [\"127.0.0.1/32\"]}\n"
          << "keys:\n  " << lk_detail::quoted(m_opts.key) << ": " << lk_detail::quoted(m_opts.secret) << "\n"
          << "logging: {level: " << lk_detail::quoted(m_opts.logLevel) << "}\n";
        if (m_opts.turnUdpPort > 0)
            f << "turn:\n  enabled: true\n  udp_port: " << m_opts.turnUdpPort
              << "\n  bind_addresses: [\"127.0.0.1\"]\n  relay_range_start: 45000\n  relay_range_end: 45999\n"
              << "  allow_restricted_peer_cidrs: [\"127.0.0.0/8\"]\n";
        if (m_opts.autoCreateRooms)
            f << "room: {auto_create: " << (*m_opts.autoCreateRooms ? "true" : "false") << "}\n";
        if (!m_opts.webhookUrls.empty()) {
            f << "webhook:\n  api_key: " << lk_detail::quoted(m_opts.key) << "\n  urls:\n";
            for (const auto& u : m_opts.webhookUrls)
                f << "    - " << lk_detail::quoted(u) << "\n";
        }
    }

    bool start() {
        m_up = false;
        m_error.clear();
        if (m_opts.binary.empty() || !std::filesystem::exists(m_opts.binary)) {
            m_error = "no livekit-server binary at '" + m_opts.binary + "': run scripts/setup-peers.sh";
            return false;
        }
        const std::string log = (m_dir / "livekit.log").string();
        { std::ofstream(log, std::ios::app) << "---- start ----\n"; }
        m_pid = lk_detail::spawn({m_opts.binary, "--config", (m_dir / "livekit.yaml").string()}, log, log);
        if (m_pid <= 0) {
            m_error = std::string("fork failed: ") + std::strerror(errno);
            return false;
        }
        const auto until = std::chrono::steady_clock::now() + m_opts.startTimeout;
        while (std::chrono::steady_clock::now() < until) {
            if (auto code = lk_detail::reap(m_pid)) {
                m_error = "livekit-server exited with status " + std::to_string(*code) + " while starting";
                m_pid = -1;
                return false;
            }
            if (lk_detail::httpStatus(m_opts.httpPort, std::chrono::milliseconds(500)) == 200) {
                m_up = true;
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        m_error = "livekit-server did not answer GET / with 200 within " +
                  std::to_string(m_opts.startTimeout.count()) + " ms";
        kill();
        return false;
    }

    LiveKitServerOptions m_opts;
    std::filesystem::path m_dir;
    pid_t m_pid = -1;
    bool m_up = false;
    std::string m_error;
};

// ---- the Python reference participant --------------------------------------------------------------

struct LiveKitPeerKey {
    std::string identity;
    std::string hex;  // raw 16/32-byte key
    int index = 0;
};

struct LiveKitPeerOptions {
    std::string url;    // ws://...
    std::string token;  // JWT
    std::optional<double> publishAudioHz;
    std::optional<std::pair<int, int>> publishVideo;  // width, height
    bool e2ee = false;
    std::vector<LiveKitPeerKey> keys;  // include the peer's own identity: that key encrypts
    std::optional<double> durationSeconds;
};

// tests/livekit/lk_peer.py as a child process: commands on stdin, JSON lines on stdout (see the
// script's docstring for both).
class LiveKitPeer {
  public:
    using json = nlohmann::json;

    explicit LiveKitPeer(const LiveKitPeerOptions& o) {
        m_dir = lk_detail::freshDir("mxrtc-lk-peer-");
        std::vector<std::string> argv{kLiveKitPython, std::string(kLiveKitScriptDir) + "/lk_peer.py",
                                      "--url",        o.url,
                                      "--token",      o.token};
        auto number = [](double v) {
            std::ostringstream s;
            s << v;
            return s.str();
        };
        if (o.publishAudioHz) argv.insert(argv.end(), {"--publish-audio", number(*o.publishAudioHz)});
        if (o.publishVideo)
            argv.insert(argv.end(), {"--publish-video", std::to_string(o.publishVideo->first) + "x" +
                                                            std::to_string(o.publishVideo->second)});
        if (o.e2ee) argv.push_back("--e2ee");
        for (const auto& k : o.keys)
            argv.insert(argv.end(), {"--key", k.identity + "=" + k.hex + "@" + std::to_string(k.index)});
        if (o.durationSeconds) argv.insert(argv.end(), {"--duration", number(*o.durationSeconds)});
        // stdin is one end of a socket pair: writes use MSG_NOSIGNAL (a dead peer is no SIGPIPE).
        int fds[2] = {-1, -1};
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
        m_stdin = fds[0];
        m_pid = lk_detail::spawn(argv, (m_dir / "out").string(), (m_dir / "err").string(), fds[1]);
        ::close(fds[1]);
    }
    ~LiveKitPeer() {
        lk_detail::killGroup(m_pid);
        if (m_stdin >= 0) ::close(m_stdin);
        std::error_code ignored;
        std::filesystem::remove_all(m_dir, ignored);
    }
    LiveKitPeer(const LiveKitPeer&) = delete;
    LiveKitPeer& operator=(const LiveKitPeer&) = delete;

    pid_t pid() const { return m_pid; }
    std::string output() const { return readWholeFile(m_dir / "out"); }
    std::string errors() const { return readWholeFile(m_dir / "err"); }
    std::vector<json> events() const { return jsonLines(output()); }

    // One command line (no newline needed): "key IDENTITY HEX INDEX", "mute audio", "leave", ...
    bool command(const std::string& line) {
        if (m_stdin < 0) return false;
        const std::string l = line + "\n";
        return ::send(m_stdin, l.data(), l.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(l.size());
    }

    // The first event satisfying `pred`, polling the output until `timeout` (nullopt: none, or the
    // peer exited first).
    std::optional<json> waitFor(const std::function<bool(const json&)>& pred,
                                std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            for (const auto& e : events())
                if (pred(e)) return e;
            if (exited() || std::chrono::steady_clock::now() >= until) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    std::optional<json> waitForEvent(const std::string& event, std::chrono::milliseconds timeout) {
        return waitFor([&](const json& e) { return e.value("event", "") == event; }, timeout);
    }

    // All events of one kind (optionally about one remote identity), in order.
    std::vector<json> eventsOf(const std::string& event, const std::string& identity = {}) const {
        std::vector<json> out;
        for (auto& e : events())
            if (e.value("event", "") == event &&
                (identity.empty() || (e.contains("identity") && e["identity"] == identity)))
                out.push_back(std::move(e));
        return out;
    }

    // "leave", then the exit code (nullopt: still running after `timeout`).
    std::optional<int> leave(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
        command("leave");
        return waitExit(timeout);
    }
    std::optional<int> waitExit(std::chrono::milliseconds timeout) {
        if (m_exitCode) return m_exitCode;
        if (m_pid <= 0) return -1;
        m_exitCode = lk_detail::waitExit(m_pid, timeout);
        if (m_exitCode) m_pid = -1;
        return m_exitCode;
    }
    bool exited() {
        if (m_exitCode) return true;
        if (m_pid <= 0) return true;
        m_exitCode = lk_detail::reap(m_pid);
        if (m_exitCode) m_pid = -1;
        return m_exitCode.has_value();
    }

  private:
    std::filesystem::path m_dir;
    pid_t m_pid = -1;
    int m_stdin = -1;
    std::optional<int> m_exitCode;
};

}  // namespace mxrtc::test
