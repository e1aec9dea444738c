#include "mxrtc/auth/log.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "mxrtc/core/identity.hpp"

namespace mxrtc::auth {

LogLine::LogLine(std::string_view msg) {
    m_out.reserve(512);
    m_out = "\"msg\":";
    core::appendJsonQuoted(m_out, msg, core::JsonEscaping::Js);
}

LogLine::LogLine(std::string_view msg, std::string&& storage) : m_out(std::move(storage)) {
    m_out.clear();
    if (m_out.capacity() < 512) m_out.reserve(512);
    m_out += "\"msg\":";
    core::appendJsonQuoted(m_out, msg, core::JsonEscaping::Js);
}

LogLine& LogLine::str(std::string_view key, std::string_view value) {
    if (value.empty()) return *this;
    m_out.append(",\"").append(key).append("\":");
    core::appendJsonQuoted(m_out, value, core::JsonEscaping::Js);
    return *this;
}

LogLine& LogLine::num(std::string_view key, double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    m_out.append(",\"").append(key).append("\":").append(buf);
    return *this;
}

LogLine& LogLine::integer(std::string_view key, std::int64_t value) {
    m_out.append(",\"").append(key).append("\":").append(std::to_string(value));
    return *this;
}

LogLine& LogLine::boolean(std::string_view key, bool value) {
    m_out.append(",\"").append(key).append("\":").append(value ? "true" : "false");
    return *this;
}

LogLine& LogLine::millis(std::string_view key, std::chrono::microseconds value) {
    auto us = value.count();
    m_out.append(",\"").append(key).append("\":");
    if (us < 0) {
        m_out.push_back('-');
        us = -us;
    }
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, us / 1000).ptr;
    m_out.append(buf, static_cast<std::size_t>(end - buf));
    const auto frac = static_cast<int>(us % 1000);
    const char digits[4] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                            static_cast<char>('0' + frac % 10)};
    m_out.append(digits, 4);
    return *this;
}

std::string LogLine::done() {
    return m_out + "}";
}

std::string_view LogLine::finish() {
    m_out.push_back('}');
    return m_out;
}

namespace {

// stderr, but written in blocks: lines collect in memory and go out when 64 KiB have piled up,
// on every warning or error, and whenever the logger is flushed (the server flushes it every
// 100 ms). Per-request access logs then cost a memcpy instead of a write(2).
// In JSON mode the sink writes the {"ts":…,"level":…, prefix itself (the timestamp text is
// rebuilt once per second), which skips spdlog's general-purpose pattern formatter.
// Single-threaded like the service (one io_context thread): no mutex.
class BufferedStderrSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
  public:
    explicit BufferedStderrSink(bool json) : m_json(json) { m_buffer.reserve(kFlushBytes + 4096); }
    ~BufferedStderrSink() override { flush_(); }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (m_json) {
            appendJsonPrefix(msg);
            m_buffer.append(msg.payload.data(), msg.payload.size());
            m_buffer.push_back('\n');
        } else {
            spdlog::memory_buf_t formatted;
            formatter_->format(msg, formatted);
            m_buffer.append(formatted.data(), formatted.size());
        }
        if (m_buffer.size() >= kFlushBytes || msg.level >= spdlog::level::warn) flush_();
    }
    void flush_() override {
        std::size_t done = 0;
        while (done < m_buffer.size()) {
            const auto n = ::write(STDERR_FILENO, m_buffer.data() + done, m_buffer.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // stderr gone: drop rather than block the service
            done += static_cast<std::size_t>(n);
        }
        m_buffer.clear();
    }

  private:
    static constexpr std::size_t kFlushBytes = 64 * 1024;

    void appendJsonPrefix(const spdlog::details::log_msg& msg) {
        using namespace std::chrono;
        const auto sinceEpoch = msg.time.time_since_epoch();
        const auto secs = duration_cast<seconds>(sinceEpoch);
        if (secs.count() != m_cachedSecond) {
            m_cachedSecond = secs.count();
            const std::time_t t = static_cast<std::time_t>(m_cachedSecond);
            std::tm tm{};
            gmtime_r(&t, &tm);
            char buf[40];
            std::strftime(buf, sizeof buf, "{\"ts\":\"%Y-%m-%dT%H:%M:%S.", &tm);
            m_cachedPrefix = buf;
        }
        m_buffer += m_cachedPrefix;
        char micros[16];
        std::snprintf(micros, sizeof micros, "%06lldZ\"",
                      static_cast<long long>(duration_cast<microseconds>(sinceEpoch - secs).count()));
        m_buffer += micros;
        m_buffer += ",\"level\":\"";
        const auto level = spdlog::level::to_string_view(msg.level);
        m_buffer.append(level.data(), level.size());
        m_buffer += "\",";
    }

    bool m_json;
    std::string m_buffer;
    std::int64_t m_cachedSecond = -1;
    std::string m_cachedPrefix;
};

}  // namespace

std::shared_ptr<spdlog::logger> makeLogger(std::string_view level, bool json, bool buffered) {
    spdlog::sink_ptr sink;
    if (buffered)
        sink = std::make_shared<BufferedStderrSink>(json);
    else
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("mxrtc-auth", sink);
    if (json)
        logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v)",
                            spdlog::pattern_time_type::utc);
    else
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l {%v", spdlog::pattern_time_type::utc);
    logger->set_level(spdlog::level::from_str(std::string(level)));
    if (!buffered) logger->flush_on(spdlog::level::trace);
    return logger;
}

}  // namespace mxrtc::auth
