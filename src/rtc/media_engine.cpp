#include <mutex>

#include "rtc/engine_impl.hpp"

namespace mxrtc::rtc {

namespace {

// Elements a Peer needs, with the Debian package that ships each.
struct Needed {
    const char* element;
    const char* package;
};
constexpr Needed kNeeded[] = {
    {"webrtcbin", "gstreamer1.0-plugins-bad"},     {"nicesrc", "gstreamer1.0-nice"},
    {"dtlssrtpenc", "gstreamer1.0-plugins-bad"},   {"sctpenc", "gstreamer1.0-plugins-bad"},
    {"audiotestsrc", "gstreamer1.0-plugins-base"}, {"videotestsrc", "gstreamer1.0-plugins-base"},
    {"opusenc", "gstreamer1.0-plugins-base"},      {"opusdec", "gstreamer1.0-plugins-base"},
    {"vp8enc", "gstreamer1.0-plugins-good"},       {"vp8dec", "gstreamer1.0-plugins-good"},
    {"rtpopuspay", "gstreamer1.0-plugins-good"},   {"rtpopusdepay", "gstreamer1.0-plugins-good"},
    {"rtpvp8pay", "gstreamer1.0-plugins-good"},    {"rtpvp8depay", "gstreamer1.0-plugins-good"},
    {"appsrc", "gstreamer1.0-plugins-base"},       {"appsink", "gstreamer1.0-plugins-base"},
    {"audioconvert", "gstreamer1.0-plugins-base"}, {"audioresample", "gstreamer1.0-plugins-base"},
    {"videoconvert", "gstreamer1.0-plugins-base"},
};

gboolean runFunction(gpointer data) {
    (*static_cast<std::function<void()>*>(data))();
    return G_SOURCE_REMOVE;
}
void deleteFunction(gpointer data) {
    delete static_cast<std::function<void()>*>(data);
}

}  // namespace

MediaEngine::Impl::~Impl() {
    if (loop != nullptr) g_main_loop_unref(loop);
    if (context != nullptr) g_main_context_unref(context);
}

void MediaEngine::Impl::invoke(std::function<void()> fn) {
    auto* heap = new std::function<void()>(std::move(fn));
    g_main_context_invoke_full(context, G_PRIORITY_DEFAULT, runFunction, heap, deleteFunction);
}

Result<std::unique_ptr<MediaEngine>> MediaEngine::create(boost::asio::any_io_executor executor) {
    static std::once_flag once;
    static bool initialised = false;
    static std::string initError;
    std::call_once(once, [] {
        GError* error = nullptr;
        initialised = gst_init_check(nullptr, nullptr, &error) == TRUE;
        if (!initialised) {
            initError = error != nullptr ? error->message : "gst_init failed";
            g_clear_error(&error);
        }
    });
    if (!initialised) return makeError(errcode::kUnsupported, "GStreamer: " + initError);
    for (const auto& n : kNeeded) {
        GstElementFactory* f = gst_element_factory_find(n.element);
        if (f == nullptr)
            return makeError(errcode::kUnsupported, std::string("GStreamer element '") + n.element +
                                                        "' is missing (apt-get install " + n.package + ")");
        gst_object_unref(f);
    }
    auto impl = std::make_shared<Impl>();
    impl->executor = std::move(executor);
    impl->context = g_main_context_new();
    impl->loop = g_main_loop_new(impl->context, FALSE);
    impl->thread = std::thread([ctx = impl->context, loop = impl->loop] {
        g_main_context_push_thread_default(ctx);
        g_main_loop_run(loop);
        // Run what was queued before the quit (peer teardowns) to completion.
        while (g_main_context_iteration(ctx, FALSE)) {
        }
        g_main_context_pop_thread_default(ctx);
    });
    // Warm-up on the loop thread: load the plugins and make dtlsdec generate the process-wide DTLS
    // certificate now (~300 ms of RSA key generation), not when the first call is set up.
    impl->invoke([] {
        for (const char* name : {"dtlsdec", "webrtcbin", "opusenc", "opusdec", "vp8enc", "vp8dec", "nicesrc",
                                 "rtpopuspay", "rtpopusdepay", "rtpvp8depay"}) {
            if (GstElement* e = gst_element_factory_make(name, nullptr))
                gst_object_unref(gst_object_ref_sink(e));
        }
    });
    return std::unique_ptr<MediaEngine>(new MediaEngine(std::move(impl)));
}

MediaEngine::MediaEngine(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

MediaEngine::~MediaEngine() {
    m_impl->invoke([loop = m_impl->loop] { g_main_loop_quit(loop); });
    if (m_impl->thread.joinable()) m_impl->thread.join();
}

}  // namespace mxrtc::rtc
