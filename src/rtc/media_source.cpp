#include "rtc/media_source.hpp"

#include <gst/app/app.h>
#include <gst/video/video.h>

#include <cstring>
#include <filesystem>
#include <sstream>

namespace mxrtc::rtc {

namespace {

constexpr GstClockTime kOpenTimeout = 10 * GST_SECOND;  // a file's pre-roll
constexpr GstClockTime kStartTimeout = 3 * GST_SECOND;  // a pipeline's first buffers
// App video: a frame stamped this far in the past (the application's clock drifted, or it
// stalled) re-anchors its timestamps to now.
constexpr GstClockTime kMaxVideoLateness = 200 * GST_MSECOND;

MediaInput::Impl* inputOf(gpointer p) {
    return static_cast<MediaInput::Impl*>(p);
}

GstFlowReturn onAudioSample(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    if (GstBuffer* b = gst_sample_get_buffer(sample)) inputOf(data)->fanOut(true, b);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}
GstFlowReturn onVideoSample(GstAppSink* sink, gpointer data) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_OK;
    if (GstBuffer* b = gst_sample_get_buffer(sample)) inputOf(data)->fanOut(false, b);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}
void onPadAdded(GstElement*, GstPad* pad, gpointer data) {
    inputOf(data)->padAdded(pad);
}
// The bus watch holds a weak reference: a message being handled keeps the input alive.
using WeakInput = std::weak_ptr<MediaInput::Impl>;
gboolean onBus(GstBus*, GstMessage* message, gpointer data) {
    if (auto input = static_cast<WeakInput*>(data)->lock()) input->busMessage(message);
    return G_SOURCE_CONTINUE;
}
void deleteWeakInput(gpointer data) {
    delete static_cast<WeakInput*>(data);
}

std::string gerrorText(GError* error, const char* fallback) {
    return error != nullptr && error->message != nullptr ? error->message : fallback;
}

// A missing decoder is named in the debug text of decodebin's error ("… Missing decoder: H.264
// (High Profile) (video/x-h264, …)"): the part a user can act on.
std::string missingDecoder(const char* debug) {
    if (debug == nullptr) return "";
    const char* at = std::strstr(debug, "Missing decoder: ");
    if (at == nullptr) return "";
    std::string what(at + std::strlen("Missing decoder: "));
    for (const char* cut : {"\n", " (audio/", " (video/", " (application/"})
        if (auto pos = what.find(cut); pos != std::string::npos) what.erase(pos);
    return what;
}

bool isKind(GstPad* pad, const char* prefix) {
    GstCaps* caps = gst_pad_get_current_caps(pad);
    if (caps == nullptr) caps = gst_pad_query_caps(pad, nullptr);
    bool match = false;
    if (caps != nullptr && gst_caps_get_size(caps) > 0)
        match = g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), prefix);
    if (caps != nullptr) gst_caps_unref(caps);
    return match;
}

}  // namespace

std::string rawVideoCaps(int width, int height, int framerate) {
    std::ostringstream c;
    c << "video/x-raw,format=I420,width=" << width << ",height=" << height << ",framerate=" << framerate
      << "/1,pixel-aspect-ratio=1/1";
    return c.str();
}

MediaInput::Impl::Impl(std::shared_ptr<MediaEngine::Impl> e, MediaInputSpec s, MediaInputListener l)
    : engine(std::move(e)), spec(std::move(s)), listener(std::move(l)) {}

MediaInput::Impl::~Impl() {
    teardown();
}

std::optional<std::string> MediaInput::Impl::open() {
    m_pipeline = gst_pipeline_new(nullptr);
    std::optional<std::string> error;
    switch (spec.kind) {
        case MediaInputSpec::Kind::File:
            error = buildFile();
            break;
        case MediaInputSpec::Kind::Pipeline:
            error = buildPipeline();
            break;
        case MediaInputSpec::Kind::App:
            error = buildApp();
            break;
    }
    if (error) {
        teardown();
        return error;
    }
    GstBus* bus = gst_element_get_bus(m_pipeline);
    m_busWatch = gst_bus_create_watch(bus);
    g_source_set_callback(m_busWatch, G_SOURCE_FUNC(onBus), new WeakInput(weak_from_this()), deleteWeakInput);
    g_source_attach(m_busWatch, engine->context);
    gst_object_unref(bus);
    return std::nullopt;
}

std::optional<std::string> MediaInput::Impl::errorFromBus(const std::string& what) {
    GstBus* bus = gst_element_get_bus(m_pipeline);
    GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    gst_object_unref(bus);
    if (msg == nullptr) return what + ": cannot start";
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &err, &debug);
    std::string text = gerrorText(err, "error");
    if (auto decoder = missingDecoder(debug); !decoder.empty())
        text = "no GStreamer decoder for " + decoder + " (install the plugin that has one)";
    g_clear_error(&err);
    g_free(debug);
    gst_message_unref(msg);
    return what + ": " + text;
}

std::optional<std::string> MediaInput::Impl::addOutput(bool audio, GstPad* from) {
    std::string desc;
    if (audio) {
        desc = std::string("audioconvert ! audioresample ! ") + kRawAudioCaps +
               " ! audiobuffersplit output-buffer-duration=1/50 ! appsink name=out sync=true";
    } else if (spec.kind == MediaInputSpec::Kind::App) {
        // Pushed frames keep their own pace (no videorate): the send chains stamp them on arrival.
        desc = "videoconvert ! videoscale ! video/x-raw,format=I420,width=" + std::to_string(spec.width) +
               ",height=" + std::to_string(spec.height) +
               ",pixel-aspect-ratio=1/1 ! appsink name=out sync=true";
    } else {
        desc = "videoconvert ! videoscale ! videorate ! " +
               rawVideoCaps(spec.width, spec.height, spec.framerate) + " ! appsink name=out sync=true";
    }
    GError* err = nullptr;
    GstElement* bin = gst_parse_bin_from_description(desc.c_str(), TRUE, &err);
    if (bin == nullptr || err != nullptr) {
        std::string text = "media input: " + gerrorText(err, "cannot build the converter");
        g_clear_error(&err);
        if (bin != nullptr) gst_object_unref(gst_object_ref_sink(bin));
        return text;
    }
    GstElement* sink = gst_bin_get_by_name(GST_BIN(bin), "out");
    GstAppSinkCallbacks cbs{};
    cbs.new_sample = audio ? onAudioSample : onVideoSample;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, this, nullptr);
    gst_object_unref(sink);
    gst_bin_add(GST_BIN(m_pipeline), bin);
    gst_element_sync_state_with_parent(bin);
    GstPad* sinkPad = gst_element_get_static_pad(bin, "sink");
    const GstPadLinkReturn linked = gst_pad_link(from, sinkPad);
    gst_object_unref(sinkPad);
    if (linked != GST_PAD_LINK_OK)
        return std::string("media input: cannot convert the ") + (audio ? "audio" : "video") + " (" +
               gst_pad_link_get_name(linked) + ")";
    (audio ? hasAudio : hasVideo) = true;
    return std::nullopt;
}

// ---- File ---------------------------------------------------------------------------------------

std::optional<std::string> MediaInput::Impl::buildFile() {
    const std::string what = "file " + spec.path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(spec.path, ec)) return what + ": no such file";
    GError* err = nullptr;
    gchar* uri = gst_filename_to_uri(spec.path.c_str(), &err);
    if (uri == nullptr) {
        std::string text = what + ": " + gerrorText(err, "not a file name");
        g_clear_error(&err);
        return text;
    }
    GstElement* decode = gst_element_factory_make("uridecodebin", "decode");
    if (decode == nullptr) {
        g_free(uri);
        return "GStreamer element 'uridecodebin' is missing (apt-get install gstreamer1.0-plugins-base)";
    }
    g_object_set(decode, "uri", uri, nullptr);
    g_free(uri);
    g_signal_connect(decode, "pad-added", G_CALLBACK(onPadAdded), this);
    gst_bin_add(GST_BIN(m_pipeline), decode);
    // Pre-roll: the file is typefound, demuxed and decoded up to the first frames, so a missing
    // decoder or a file that is no media fails here, before the call is joined.
    if (gst_element_set_state(m_pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE)
        return errorFromBus(what);
    const GstStateChangeReturn r = gst_element_get_state(m_pipeline, nullptr, nullptr, kOpenTimeout);
    if (r == GST_STATE_CHANGE_FAILURE) return errorFromBus(what);
    if (r == GST_STATE_CHANGE_ASYNC) return what + ": did not pre-roll within 10 s";
    if (!hasAudio && !hasVideo) return what + ": has no audio or video stream";
    return std::nullopt;
}

void MediaInput::Impl::padAdded(GstPad* pad) {
    const bool audio = isKind(pad, "audio/");
    const bool video = !audio && isKind(pad, "video/");
    std::lock_guard lock(m_padMutex);
    if ((audio && !hasAudio) || (video && !hasVideo)) {
        if (auto error = addOutput(audio, pad)) {
            post([self = shared_from_this(), e = *error] {
                if (self->listener.onError) self->listener.onError(e);
            });
        }
        return;
    }
    // A second audio/video stream, subtitles, …: consumed in real time and dropped, so decodebin
    // never sees an unlinked stream.
    GstElement* sink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(sink, "sync", TRUE, "async", FALSE, nullptr);
    gst_bin_add(GST_BIN(m_pipeline), sink);
    gst_element_sync_state_with_parent(sink);
    GstPad* sinkPad = gst_element_get_static_pad(sink, "sink");
    gst_pad_link(pad, sinkPad);
    gst_object_unref(sinkPad);
}

// ---- Pipeline -------------------------------------------------------------------------------------

std::optional<std::string> MediaInput::Impl::buildPipeline() {
    if (spec.audioPipeline.empty() && spec.videoPipeline.empty())
        return "media input: no audio or video pipeline description";
    for (bool audio : {true, false}) {
        const std::string& desc = audio ? spec.audioPipeline : spec.videoPipeline;
        if (desc.empty()) continue;
        const std::string what = std::string(audio ? "audio" : "video") + " pipeline '" + desc + "'";
        GError* err = nullptr;
        GstElement* bin = gst_parse_bin_from_description(desc.c_str(), TRUE, &err);
        if (bin == nullptr || err != nullptr) {
            std::string text = what + ": " + gerrorText(err, "does not parse");
            g_clear_error(&err);
            if (bin != nullptr) gst_object_unref(gst_object_ref_sink(bin));
            return text;
        }
        GstPad* src = gst_element_get_static_pad(bin, "src");
        if (src == nullptr) {
            gst_object_unref(gst_object_ref_sink(bin));
            return what + ": has no unlinked output (end it with an element that has a src pad)";
        }
        gst_bin_add(GST_BIN(m_pipeline), bin);
        auto error = addOutput(audio, src);
        gst_object_unref(src);
        if (error) return what + ": " + *error;
    }
    // Devices open (and fail) on the way to PLAYING; live sources do not pre-roll.
    const std::string what = spec.audioPipeline.empty()   ? "video pipeline '" + spec.videoPipeline + "'"
                             : spec.videoPipeline.empty() ? "audio pipeline '" + spec.audioPipeline + "'"
                                                          : std::string("media pipelines");
    if (gst_element_set_state(m_pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
        return errorFromBus(what);
    // Up to the first buffers (or an error streaming them); a source that is slow to deliver is
    // not an error.
    GstBus* bus = gst_element_get_bus(m_pipeline);
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, kStartTimeout, static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_ASYNC_DONE));
    gst_object_unref(bus);
    if (msg != nullptr) {
        const bool failed = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
        if (failed) {
            GError* err = nullptr;
            gst_message_parse_error(msg, &err, nullptr);
            std::string text = what + ": " + gerrorText(err, "error");
            g_clear_error(&err);
            gst_message_unref(msg);
            return text;
        }
        gst_message_unref(msg);
    }
    std::lock_guard lock(m_consumersMutex);
    m_playing = true;
    return std::nullopt;
}

// ---- App ------------------------------------------------------------------------------------------

std::optional<std::string> MediaInput::Impl::buildApp() {
    if (!spec.audio && !spec.video) return "media input: App needs audio and/or video";
    for (bool audio : {true, false}) {
        if (!(audio ? spec.audio : spec.video)) continue;
        GstElement* src = gst_element_factory_make("appsrc", audio ? "app_audio" : "app_video");
        if (src == nullptr)
            return "GStreamer element 'appsrc' is missing (apt-get install gstreamer1.0-plugins-base)";
        // Buffers carry their send time (paced in pushAudio/pushVideo); the queue bound is ours.
        g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE, "block", FALSE,
                     "max-bytes", static_cast<guint64>(0), nullptr);
        GstCaps* caps = gst_caps_from_string(
            audio ? kRawAudioCaps : "video/x-raw,format=I420,width=16,height=16,framerate=0/1");
        gst_app_src_set_caps(GST_APP_SRC(src), caps);
        gst_caps_unref(caps);
        gst_bin_add(GST_BIN(m_pipeline), src);
        (audio ? m_appAudio : m_appVideo) = GST_ELEMENT(gst_object_ref(src));
        GstPad* pad = gst_element_get_static_pad(src, "src");
        auto error = addOutput(audio, pad);
        gst_object_unref(pad);
        if (error) return error;
    }
    m_audioChannels = 1;
    m_audioRate = kRawAudioRate;
    m_videoWidth = 16;
    m_videoHeight = 16;
    if (gst_element_set_state(m_pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
        return errorFromBus("media input (App)");
    std::lock_guard lock(m_consumersMutex);
    m_playing = true;
    return std::nullopt;
}

GstClockTime MediaInput::Impl::runningTime() const {
    GstClock* clock = gst_element_get_clock(m_pipeline);
    if (clock == nullptr) return GST_CLOCK_TIME_NONE;
    const GstClockTime now = gst_clock_get_time(clock);
    gst_object_unref(clock);
    const GstClockTime base = gst_element_get_base_time(m_pipeline);
    return now > base ? now - base : 0;
}

Result<void> MediaInput::Impl::pushAudio(std::span<const std::int16_t> pcm, int channels, int sampleRate) {
    if (spec.kind != MediaInputSpec::Kind::App || !spec.audio)
        return makeError(errcode::kUnsupported, "pushAudio: the media source is not App with audio");
    if (channels < 1 || channels > 2 || sampleRate < 8000 || sampleRate > 192000)
        return makeError(errcode::kInvalidParam, "pushAudio: 1 or 2 channels at 8000..192000 Hz");
    if (pcm.size() % static_cast<std::size_t>(channels) != 0)
        return makeError(errcode::kInvalidParam, "pushAudio: not a whole number of interleaved frames");
    if (pcm.empty()) return Result<void>();
    std::lock_guard lock(m_pushMutex);  // teardown takes it too
    if (m_stopped.load() || m_appAudio == nullptr)
        return makeError(errcode::kUnsupported, "pushAudio: the media input is stopped");
    const GstClockTime now = runningTime();
    if (!GST_CLOCK_TIME_IS_VALID(now)) return makeError(errcode::kUnsupported, "pushAudio: not running");
    if (channels != m_audioChannels || sampleRate != m_audioRate) {
        GstCaps* caps = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "layout",
                                            G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, sampleRate,
                                            "channels", G_TYPE_INT, channels, nullptr);
        gst_app_src_set_caps(GST_APP_SRC(m_appAudio), caps);
        gst_caps_unref(caps);
        m_audioChannels = channels;
        m_audioRate = sampleRate;
    }
    const GstClockTime pts =
        GST_CLOCK_TIME_IS_VALID(m_nextAudioPts) && m_nextAudioPts > now ? m_nextAudioPts : now;
    const std::size_t frames = pcm.size() / static_cast<std::size_t>(channels);
    const GstClockTime duration = gst_util_uint64_scale(frames, GST_SECOND, static_cast<guint64>(sampleRate));
    // Queued: what waits to be sent once this push is in (its end, ahead of now).
    const auto maxQueued = static_cast<GstClockTime>(spec.maxQueued.count()) * GST_MSECOND;
    if (pts + duration - now > maxQueued)
        return makeError(kQueueFullErrcode, "pushAudio: " + std::to_string((pts - now) / GST_MSECOND) +
                                                " ms queued, " + std::to_string(duration / GST_MSECOND) +
                                                " ms more would exceed the limit of " +
                                                std::to_string(spec.maxQueued.count()) + " ms");
    GstBuffer* buf = gst_buffer_new_memdup(pcm.data(), pcm.size_bytes());
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = duration;
    m_nextAudioPts = pts + duration;
    if (gst_app_src_push_buffer(GST_APP_SRC(m_appAudio), buf) != GST_FLOW_OK)
        return makeError(errcode::kUnsupported, "pushAudio: the media input is not running");
    return Result<void>();
}

Result<void> MediaInput::Impl::pushVideo(const I420View& f,
                                         std::optional<std::chrono::microseconds> timestamp) {
    if (spec.kind != MediaInputSpec::Kind::App || !spec.video)
        return makeError(errcode::kUnsupported, "pushVideo: the media source is not App with video");
    if (f.width <= 0 || f.height <= 0 || f.width > 8192 || f.height > 8192)
        return makeError(errcode::kInvalidParam, "pushVideo: width and height must be 1..8192");
    const int chromaWidth = (f.width + 1) / 2;
    for (int p = 0; p < 3; ++p) {
        if (f.planes[p] == nullptr)
            return makeError(errcode::kInvalidParam, "pushVideo: plane " + std::to_string(p) + " is null");
        if (f.strides[p] < (p == 0 ? f.width : chromaWidth))
            return makeError(errcode::kInvalidParam,
                             "pushVideo: stride of plane " + std::to_string(p) + " is less than its width");
    }
    GstVideoInfo info;
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, static_cast<guint>(f.width),
                              static_cast<guint>(f.height));
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
    GstMapInfo map;
    gst_buffer_map(buf, &map, GST_MAP_WRITE);
    for (int p = 0; p < 3; ++p) {
        const int rows = p == 0 ? f.height : (f.height + 1) / 2;
        const int width = p == 0 ? f.width : chromaWidth;
        const int dstStride = GST_VIDEO_INFO_PLANE_STRIDE(&info, p);
        std::uint8_t* dst = map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, p);
        for (int r = 0; r < rows; ++r)
            std::memcpy(dst + static_cast<std::ptrdiff_t>(r) * dstStride,
                        f.planes[p] + static_cast<std::ptrdiff_t>(r) * f.strides[p],
                        static_cast<std::size_t>(width));
    }
    gst_buffer_unmap(buf, &map);

    std::lock_guard lock(m_pushMutex);  // teardown takes it too
    if (m_stopped.load() || m_appVideo == nullptr) {
        gst_buffer_unref(buf);
        return makeError(errcode::kUnsupported, "pushVideo: the media input is stopped");
    }
    const GstClockTime now = runningTime();
    if (!GST_CLOCK_TIME_IS_VALID(now)) {
        gst_buffer_unref(buf);
        return makeError(errcode::kUnsupported, "pushVideo: not running");
    }
    GstClockTime pts = now;
    if (timestamp) {
        const std::int64_t ts = std::chrono::duration_cast<std::chrono::nanoseconds>(*timestamp).count();
        auto at = [&] { return ts + *m_videoOffsetNs; };
        if (!m_videoOffsetNs ||
            at() < static_cast<std::int64_t>(now) - static_cast<std::int64_t>(kMaxVideoLateness))
            m_videoOffsetNs = static_cast<std::int64_t>(now) - ts;
        pts = static_cast<GstClockTime>(std::max<std::int64_t>(0, at()));
        const auto maxQueued = static_cast<GstClockTime>(spec.maxQueued.count()) * GST_MSECOND;
        if (pts > now + maxQueued) {
            gst_buffer_unref(buf);
            return makeError(kQueueFullErrcode,
                             "pushVideo: the frame is due " + std::to_string((pts - now) / GST_MSECOND) +
                                 " ms from now (limit " + std::to_string(spec.maxQueued.count()) + " ms)");
        }
    }
    if (GST_CLOCK_TIME_IS_VALID(m_lastVideoPts) && pts <= m_lastVideoPts) pts = m_lastVideoPts + 1;
    m_lastVideoPts = pts;
    GST_BUFFER_PTS(buf) = pts;
    if (f.width != m_videoWidth || f.height != m_videoHeight) {
        GstCaps* caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                            G_TYPE_INT, f.width, "height", G_TYPE_INT, f.height, "framerate",
                                            GST_TYPE_FRACTION, 0, 1, nullptr);
        gst_app_src_set_caps(GST_APP_SRC(m_appVideo), caps);
        gst_caps_unref(caps);
        m_videoWidth = f.width;
        m_videoHeight = f.height;
    }
    if (gst_app_src_push_buffer(GST_APP_SRC(m_appVideo), buf) != GST_FLOW_OK)
        return makeError(errcode::kUnsupported, "pushVideo: the media input is not running");
    return Result<void>();
}

// ---- consumers, bus, teardown -------------------------------------------------------------------------

void MediaInput::Impl::addConsumer(MediaInputConsumer* consumer) {
    {
        std::lock_guard lock(m_consumersMutex);
        m_consumers.push_back(consumer);
        if (m_playing || m_stopped.load() || m_pipeline == nullptr) return;
        m_playing = true;
    }
    // A file starts when the first peer takes its media (outside the lock: its streaming threads
    // take it to hand buffers out).
    gst_element_set_state(m_pipeline, GST_STATE_PLAYING);
}

void MediaInput::Impl::removeConsumer(MediaInputConsumer* consumer) {
    std::lock_guard lock(m_consumersMutex);
    std::erase(m_consumers, consumer);
}

void MediaInput::Impl::fanOut(bool audio, GstBuffer* buffer) {
    std::lock_guard lock(m_consumersMutex);
    for (auto* c : m_consumers) {
        if (audio) {
            c->consumeAudio(buffer);
        } else {
            c->consumeVideo(buffer);
        }
    }
}

void MediaInput::Impl::post(std::function<void()> fn) {
    engine->post([self = shared_from_this(), fn = std::move(fn)] {
        if (!self->m_stopped.load()) fn();
    });
}

void MediaInput::Impl::busMessage(GstMessage* msg) {
    if (m_stopped.load() || m_pipeline == nullptr) return;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError* err = nullptr;
        gchar* debug = nullptr;
        gst_message_parse_error(msg, &err, &debug);
        std::string text =
            "media input: " + std::string(GST_OBJECT_NAME(msg->src)) + ": " + gerrorText(err, "error");
        g_clear_error(&err);
        g_free(debug);
        post([self = shared_from_this(), text] {
            if (self->listener.onError) self->listener.onError(text);
        });
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
        if (spec.kind == MediaInputSpec::Kind::File && spec.loop) {
            // From the start again; the send chains stamp frames on arrival, so the jump in the
            // file's timestamps never reaches the encoders.
            gst_element_seek_simple(m_pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 0);
            return;
        }
        if (m_ended) return;
        m_ended = true;
        post([self = shared_from_this()] {
            if (self->listener.onEnded) self->listener.onEnded();
        });
    }
}

void MediaInput::Impl::stop() {
    if (m_stopped.exchange(true)) return;
    if (g_main_context_is_owner(engine->context)) {
        teardown();
        return;
    }
    engine->invoke([self = shared_from_this()] { self->teardown(); });
}

void MediaInput::Impl::teardown() {
    if (m_busWatch != nullptr) {
        g_source_destroy(m_busWatch);
        g_source_unref(m_busWatch);
        m_busWatch = nullptr;
    }
    std::lock_guard lock(m_pushMutex);  // no push is using the pipeline (pushes never block)
    if (m_pipeline == nullptr) return;
    gst_element_set_state(m_pipeline, GST_STATE_NULL);
    if (m_appAudio != nullptr) gst_clear_object(&m_appAudio);
    if (m_appVideo != nullptr) gst_clear_object(&m_appVideo);
    gst_clear_object(&m_pipeline);
}

// ---- public -----------------------------------------------------------------------------------------

Result<std::shared_ptr<MediaInput>> MediaInput::create(MediaEngine& engine, MediaInputSpec spec,
                                                       MediaInputListener listener) {
    if (spec.width <= 0 || spec.height <= 0 || spec.framerate <= 0)
        return makeError(errcode::kInvalidParam, "media input: width, height and framerate must be positive");
    auto impl = std::make_shared<Impl>(engineImpl(engine), std::move(spec), std::move(listener));
    if (impl->spec.kind == MediaInputSpec::Kind::App) {
        impl->hasAudio = impl->spec.audio;
        impl->hasVideo = impl->spec.video;
    }
    if (auto error = impl->open()) return makeError(errcode::kInvalidParam, *error);
    return std::shared_ptr<MediaInput>(new MediaInput(std::move(impl)));
}

MediaInput::MediaInput(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

MediaInput::~MediaInput() {
    stop();
}

const MediaInputSpec& MediaInput::spec() const {
    return m_impl->spec;
}
bool MediaInput::hasAudio() const {
    return m_impl->hasAudio.load();
}
bool MediaInput::hasVideo() const {
    return m_impl->hasVideo.load();
}

Result<void> MediaInput::pushAudio(std::span<const std::int16_t> pcm, int channels, int sampleRate) {
    return m_impl->pushAudio(pcm, channels, sampleRate);
}

Result<void> MediaInput::pushVideo(const I420View& frame,
                                   std::optional<std::chrono::microseconds> timestamp) {
    return m_impl->pushVideo(frame, timestamp);
}

void MediaInput::stop() {
    m_impl->stop();
}

Result<void> checkSinkPipeline(MediaEngine&, const std::string& description) {
    const std::string what = "sink pipeline '" + description + "'";
    GError* err = nullptr;
    GstElement* bin = gst_parse_bin_from_description(description.c_str(), TRUE, &err);
    if (bin == nullptr || err != nullptr) {
        std::string text = what + ": " + gerrorText(err, "does not parse");
        g_clear_error(&err);
        if (bin != nullptr) gst_object_unref(gst_object_ref_sink(bin));
        return makeError(errcode::kInvalidParam, text);
    }
    GstPad* sink = gst_element_get_static_pad(bin, "sink");
    const bool hasInput = sink != nullptr;
    if (sink != nullptr) gst_object_unref(sink);
    gst_object_unref(gst_object_ref_sink(bin));
    if (!hasInput) return makeError(errcode::kInvalidParam, what + ": has no unlinked input");
    return Result<void>();
}

}  // namespace mxrtc::rtc
