// A TCP relay on 127.0.0.1 for fault tests: clients connect to port(), everything is copied to and
// from `targetPort`, and dropAll() cuts every current connection at once (as a NAT rebinding or a
// flaky proxy would) while new connections keep working. One thread, poll(), no buffering limits
// worth mentioning (test traffic only).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace mxrtc::test {

class TcpProxy {
  public:
    explicit TcpProxy(int targetPort) : m_target(targetPort) {
        m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(m_listen, 64);
        socklen_t len = sizeof a;
        ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len);
        m_port = ntohs(a.sin_port);
        m_thread = std::thread([this] { run(); });
    }
    ~TcpProxy() {
        m_stop = true;
        if (m_thread.joinable()) m_thread.join();
        for (auto [c, s] : m_pairs) {
            ::close(c);
            ::close(s);
        }
        ::close(m_listen);
    }
    TcpProxy(const TcpProxy&) = delete;
    TcpProxy& operator=(const TcpProxy&) = delete;

    int port() const { return m_port; }
    // Cuts every connection that is open now (both sides see a reset).
    void dropAll() { m_drop = true; }
    int connectionsSeen() const { return m_accepted.load(); }

  private:
    void run() {
        std::vector<char> buf(64 * 1024);
        while (!m_stop) {
            if (m_drop.exchange(false)) {
                for (auto [c, s] : m_pairs) {
                    linger l{1, 0};  // RST, not FIN: the connection is gone, not closed politely
                    ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                    ::setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                    ::close(c);
                    ::close(s);
                }
                m_pairs.clear();
            }
            std::vector<pollfd> fds{{m_listen, POLLIN, 0}};
            for (auto [c, s] : m_pairs) {
                fds.push_back({c, POLLIN, 0});
                fds.push_back({s, POLLIN, 0});
            }
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents & POLLIN) accept();
            std::vector<std::size_t> dead;
            for (std::size_t i = 0; i < m_pairs.size(); ++i) {
                const auto& [c, s] = m_pairs[i];
                for (int side = 0; side < 2; ++side) {
                    const pollfd& p = fds[1 + 2 * i + side];
                    if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
                    const int from = side == 0 ? c : s;
                    const int to = side == 0 ? s : c;
                    const auto n = ::recv(from, buf.data(), buf.size(), 0);
                    if (n <= 0 || ::send(to, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
                        dead.push_back(i);
                        break;
                    }
                }
            }
            for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
                ::close(m_pairs[*it].first);
                ::close(m_pairs[*it].second);
                m_pairs.erase(m_pairs.begin() + static_cast<std::ptrdiff_t>(*it));
            }
        }
    }
    void accept() {
        const int c = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(m_target));
        if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(c);
            ::close(s);
            return;
        }
        ++m_accepted;
        m_pairs.emplace_back(c, s);
    }

    int m_target;
    int m_listen = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_drop{false};
    std::atomic<int> m_accepted{0};
    std::vector<std::pair<int, int>> m_pairs;  // client, server (proxy thread only)
    std::thread m_thread;
};

}  // namespace mxrtc::test
