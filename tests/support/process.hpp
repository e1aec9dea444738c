// Test helper: a background child process (sh -c) with stdout/stderr captured to files, polled
// with bounded waits. Children are killed when the object goes away.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace mxrtc::test {

class BackgroundProcess {
  public:
    BackgroundProcess(const std::string& command, const std::filesystem::path& logBase)
        : m_out(logBase.string() + ".out"), m_err(logBase.string() + ".err") {
        const std::string full = "exec " + command + " > '" + m_out + "' 2> '" + m_err + "'";
        // stdin is a pipe the test writes to (writeStdin), never the test runner's own stdin.
        int in[2] = {-1, -1};
        if (::pipe2(in, O_CLOEXEC) != 0) in[0] = in[1] = -1;
        m_pid = ::fork();
        if (m_pid == 0) {
            if (in[0] >= 0) ::dup2(in[0], STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copy
            ::setpgid(0, 0);
            ::execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (in[0] >= 0) ::close(in[0]);
        m_stdin = in[1];
    }
    ~BackgroundProcess() {
        if (m_stdin >= 0) ::close(m_stdin);
        if (running()) {
            ::kill(m_pid, SIGKILL);
            wait(std::chrono::seconds(5));
        }
    }
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    pid_t pid() const { return m_pid; }
    // Writes to the process's stdin; false if it cannot be written (exited).
    bool writeStdin(const std::string& text) const {
        if (m_stdin < 0) return false;
        ::signal(SIGPIPE, SIG_IGN);  // a child that exited must not kill the test
        const auto n = ::write(m_stdin, text.data(), text.size());
        return n == static_cast<ssize_t>(text.size());
    }
    void signal(int sig) const { ::kill(m_pid, sig); }

    bool running() {
        if (m_exited) return false;
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_exited = true;
            m_exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        return !m_exited;
    }
    // Waits for the process to exit; returns its exit code, or -1 on timeout.
    int wait(std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (running() && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return m_exited ? m_exitCode : -1;
    }

    std::string out() const { return slurp(m_out); }
    std::string err() const { return slurp(m_err); }

    // Polls stdout until a line satisfies `pred`; returns the line or "" on timeout.
    std::string waitForLine(const std::function<bool(const std::string&)>& pred,
                            std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        do {
            std::istringstream in(out());
            std::string line;
            while (std::getline(in, line)) {
                if (pred(line)) return line;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        } while (std::chrono::steady_clock::now() < until);
        return "";
    }

  private:
    static std::string slurp(const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    std::string m_out;
    std::string m_err;
    pid_t m_pid = -1;
    int m_stdin = -1;  // write end of the child's stdin pipe
    bool m_exited = false;
    int m_exitCode = -1;
};

}  // namespace mxrtc::test
