// Internal: the GLib main loop thread behind MediaEngine, and the marshalling helpers.
#pragma once

#include <gst/gst.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <thread>

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

}  // namespace mxrtc::rtc
