// Internal: the GLib main loop thread behind MediaEngine, and the marshalling helpers.
#pragma once

#include <gst/gst.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <thread>

#include "mxrtc/rtc/media_io.hpp"
#include "mxrtc/rtc/peer.hpp"

namespace mxrtc::rtc {

struct MediaEngine::Impl {
    boost::asio::any_io_executor executor;
    GMainContext* context = nullptr;
    GMainLoop* loop = nullptr;
    std::thread thread;

    ~Impl();
    // Runs `fn` on the GLib thread, in call order.
    void invoke(std::function<void()> fn);
    // Runs `fn` on the Asio executor.
    void post(std::function<void()> fn) { boost::asio::post(executor, std::move(fn)); }
};

namespace detail {
// The only way to the internals behind the public classes: a friend of each, visible only here.
struct ImplAccess {
    static const std::shared_ptr<MediaEngine::Impl>& of(const MediaEngine& engine) { return engine.m_impl; }
    static MediaInput::Impl& of(const MediaInput& input) { return *input.m_impl; }
};
}  // namespace detail

inline const std::shared_ptr<MediaEngine::Impl>& engineImpl(const MediaEngine& engine) {
    return detail::ImplAccess::of(engine);
}

}  // namespace mxrtc::rtc
