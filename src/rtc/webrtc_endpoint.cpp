#include "rtc/webrtc_endpoint.hpp"

#include <gst/sdp/sdp.h>
#include <gst/video/video.h>

#include <cstring>
#include <vector>

#include "mxrtc/rtc/sfu_peers.hpp"

namespace mxrtc::rtc {

namespace {

core::IceConnectionState mapIceState(GstWebRTCICEConnectionState s) {
    switch (s) {
        case GST_WEBRTC_ICE_CONNECTION_STATE_NEW:
            return core::IceConnectionState::New;
        case GST_WEBRTC_ICE_CONNECTION_STATE_CHECKING:
            return core::IceConnectionState::Checking;
        case GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED:
            return core::IceConnectionState::Connected;
        case GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED:
            return core::IceConnectionState::Completed;
        case GST_WEBRTC_ICE_CONNECTION_STATE_FAILED:
            return core::IceConnectionState::Failed;
        case GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED:
            return core::IceConnectionState::Disconnected;
        case GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED:
            return core::IceConnectionState::Closed;
    }
    return core::IceConnectionState::New;
}

ConnectionState mapConnectionState(GstWebRTCPeerConnectionState s) {
    switch (s) {
        case GST_WEBRTC_PEER_CONNECTION_STATE_NEW:
            return ConnectionState::New;
        case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING:
            return ConnectionState::Connecting;
        case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
            return ConnectionState::Connected;
        case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED:
            return ConnectionState::Disconnected;
        case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
            return ConnectionState::Failed;
        case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED:
            return ConnectionState::Closed;
    }
    return ConnectionState::New;
}

std::vector<std::string> midsOf(const GstSDPMessage* sdp) {
    std::vector<std::string> mids;
    for (guint i = 0; i < gst_sdp_message_medias_len(sdp); ++i) {
        const char* mid = gst_sdp_media_get_attribute_val(gst_sdp_message_get_media(sdp, i), "mid");
        mids.emplace_back(mid != nullptr ? mid : "");
    }
    return mids;
}

WebrtcEndpoint* endpointOf(gpointer p) {
    return static_cast<WebrtcEndpoint*>(p);
}

// Promise user data: keeps the endpoint alive until webrtcbin answers.
struct PromiseContext {
    std::shared_ptr<WebrtcEndpoint> endpoint;
    core::SdpType type;
};
void deletePromiseContext(gpointer p) {
    delete static_cast<PromiseContext*>(p);
}

void onIceCandidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
    endpointOf(data)->handleCandidate(mline, candidate);
}
void onIceConnectionState(GObject*, GParamSpec*, gpointer data) {
    endpointOf(data)->handleIceState();
}
void onConnectionState(GObject*, GParamSpec*, gpointer data) {
    endpointOf(data)->handleConnectionState();
}
void onIceGatheringState(GObject*, GParamSpec*, gpointer data) {
    endpointOf(data)->handleGatheringState();
}
void onDataChannelSignal(GstElement*, GstWebRTCDataChannel* ch, gpointer data) {
    endpointOf(data)->onDataChannel(ch);
}
void onPadAdded(GstElement*, GstPad* pad, gpointer data) {
    if (GST_PAD_DIRECTION(pad) == GST_PAD_SRC) endpointOf(data)->onIncomingPad(pad);
}
void onDeepElementAdded(GstBin*, GstBin*, GstElement* element, gpointer data) {
    endpointOf(data)->tuneNiceAgent(element);
}
gboolean onBusMessage(GstBus*, GstMessage* msg, gpointer data) {
    endpointOf(data)->handleBusMessage(msg);
    return G_SOURCE_CONTINUE;
}

void onDescriptionCreated(GstPromise* promise, gpointer data) {
    auto* ctx = static_cast<PromiseContext*>(data);
    ctx->endpoint->handleDescriptionCreated(promise, ctx->type);
    gst_promise_unref(promise);
}

void onRemoteDescriptionSet(GstPromise* promise, gpointer data) {
    auto* ctx = static_cast<PromiseContext*>(data);
    const GstStructure* reply = gst_promise_get_reply(promise);
    if (reply != nullptr && gst_structure_has_field(reply, "error")) {
        GError* error = nullptr;
        gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
        ctx->endpoint->fail(std::string("set-remote-description: ") +
                            (error != nullptr ? error->message : "failed"));
        g_clear_error(&error);
    }
    gst_promise_unref(promise);
}

}  // namespace

void requestKeyUnit(GstPad* pad) {
    gst_pad_send_event(pad, gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
}

EndpointEvents endpointEventsOf(const SfuPeerListener& l) {
    EndpointEvents e;
    if (l.onLocalDescription)
        e.onLocalDescription = [f = l.onLocalDescription](const core::SessionDescription& d) { f(d.sdp); };
    e.onLocalCandidate = l.onLocalCandidate;
    e.onIceState = l.onIceState;
    e.onConnectionState = l.onConnectionState;
    e.onError = l.onError;
    return e;
}

WebrtcEndpoint::WebrtcEndpoint(std::shared_ptr<MediaEngine::Impl> engine, EndpointEvents events)
    : m_engine(std::move(engine)), m_events(std::move(events)) {}

void WebrtcEndpoint::whenBuilt(std::function<void()> fn) {
    m_engine->invoke([self = shared_from_this(), fn = std::move(fn)] {
        if (self->m_webrtc != nullptr && !self->m_torndown) fn();
    });
}

void WebrtcEndpoint::start(std::string description, IceOptions ice) {
    m_engine->invoke([self = shared_from_this(), description = std::move(description), ice = std::move(ice)] {
        if (!self->m_torndown) self->build(description, ice);
    });
}

void WebrtcEndpoint::close() {
    if (m_closed.exchange(true)) return;
    m_engine->invoke([self = shared_from_this()] { self->teardown(); });
}

std::optional<SteadyClock::time_point> WebrtcEndpoint::iceConnectedAt() const {
    std::lock_guard lock(m_stateMutex);
    return m_iceConnectedAt;
}

void WebrtcEndpoint::post(std::function<void()> fn) {
    m_engine->post([self = shared_from_this(), fn = std::move(fn)] {
        if (!self->m_closed.load()) fn();
    });
}

void WebrtcEndpoint::fail(std::string what) {
    post([this, what = std::move(what)] {
        if (m_events.onError) m_events.onError(what);
    });
}

// ---- GLib thread ---------------------------------------------------------------------------------

void WebrtcEndpoint::build(const std::string& description, const IceOptions& ice) {
    GError* error = nullptr;
    m_pipeline = gst_parse_launch(description.c_str(), &error);
    if (m_pipeline == nullptr || error != nullptr) {
        fail(std::string("pipeline: ") + (error != nullptr ? error->message : "parse failed"));
        g_clear_error(&error);
        if (m_pipeline != nullptr) gst_clear_object(&m_pipeline);
        return;
    }
    if (!GST_IS_PIPELINE(m_pipeline)) {  // a lone element (a subscriber's bare webrtcbin)
        GstElement* only = m_pipeline;
        m_pipeline = gst_pipeline_new(nullptr);
        gst_bin_add(GST_BIN(m_pipeline), only);
    }
    m_webrtc = gst_bin_get_by_name(GST_BIN(m_pipeline), "webrtc");
    if (m_webrtc == nullptr) {
        fail("pipeline: no webrtcbin named webrtc");
        gst_clear_object(&m_pipeline);
        return;
    }
    if (!ice.stunServer.empty()) g_object_set(m_webrtc, "stun-server", ice.stunServer.c_str(), nullptr);
    if (ice.relayOnly)
        g_object_set(m_webrtc, "ice-transport-policy", GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, nullptr);
    m_icePacingMs = ice.pacingMs;

    // ICE: host candidates from the configured addresses only, UDP only.
    GstObject* agent = nullptr;
    g_object_get(m_webrtc, "ice-agent", &agent, nullptr);
    if (agent != nullptr) {
        g_object_set(agent, "ice-tcp", FALSE, nullptr);
        for (const auto& addr : ice.addresses) {
            gboolean ok = FALSE;
            g_signal_emit_by_name(agent, "add-local-ip-address", addr.c_str(), &ok);
            if (!ok) fail("ICE: cannot use local address " + addr);
        }
        gst_object_unref(agent);
    }

    g_signal_connect(m_webrtc, "on-ice-candidate", G_CALLBACK(onIceCandidate), this);
    g_signal_connect(m_webrtc, "notify::ice-connection-state", G_CALLBACK(onIceConnectionState), this);
    g_signal_connect(m_webrtc, "notify::connection-state", G_CALLBACK(onConnectionState), this);
    g_signal_connect(m_webrtc, "notify::ice-gathering-state", G_CALLBACK(onIceGatheringState), this);
    g_signal_connect(m_webrtc, "on-data-channel", G_CALLBACK(onDataChannelSignal), this);
    g_signal_connect(m_webrtc, "pad-added", G_CALLBACK(onPadAdded), this);
    g_signal_connect(m_pipeline, "deep-element-added", G_CALLBACK(onDeepElementAdded), this);

    if (!attach()) return;  // reported; teardown still releases the pipeline

    GstBus* bus = gst_element_get_bus(m_pipeline);
    m_busWatch = gst_bus_create_watch(bus);
    g_source_set_callback(m_busWatch, G_SOURCE_FUNC(onBusMessage), this, nullptr);
    g_source_attach(m_busWatch, m_engine->context);
    gst_object_unref(bus);

    if (gst_element_set_state(m_pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
        fail("pipeline: cannot start (PLAYING)");
}

namespace {

// GStreamer 1.22's sctpenc keeps a data channel's streaming thread inside its chain function,
// retrying every few ms, while the SCTP send buffer is full (no peer reading, or a peer gone);
// deactivating its sink pad on the way to NULL then waits for that thread forever. A flush-start
// sent into its src pad marks every sink pad flushing and wakes the thread: the chain returns.
void unblockSctpEncoders(GstElement* pipeline) {
    GstIterator* it = gst_bin_iterate_recurse(GST_BIN(pipeline));
    GValue item = G_VALUE_INIT;
    std::vector<GstElement*> encoders;
    bool done = false;
    while (!done) {
        switch (gst_iterator_next(it, &item)) {
            case GST_ITERATOR_OK: {
                auto* e = GST_ELEMENT(g_value_get_object(&item));
                GstElementFactory* f = gst_element_get_factory(e);
                if (f != nullptr && std::strcmp(GST_OBJECT_NAME(f), "sctpenc") == 0)
                    encoders.push_back(GST_ELEMENT(gst_object_ref(e)));
                g_value_reset(&item);
                break;
            }
            case GST_ITERATOR_RESYNC:
                for (auto* e : encoders)
                    gst_object_unref(e);
                encoders.clear();
                gst_iterator_resync(it);
                break;
            default:
                done = true;
        }
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    for (auto* e : encoders) {
        if (GstPad* src = gst_element_get_static_pad(e, "src")) {
            gst_pad_send_event(src, gst_event_new_flush_start());
            gst_object_unref(src);
        }
        gst_object_unref(e);
    }
}

}  // namespace

void WebrtcEndpoint::teardown() {
    if (m_torndown) return;
    m_torndown = true;
    if (m_busWatch != nullptr) {
        g_source_destroy(m_busWatch);
        g_source_unref(m_busWatch);
        m_busWatch = nullptr;
    }
    if (m_pipeline == nullptr) return;
    unblockSctpEncoders(m_pipeline);
    gst_element_set_state(m_pipeline, GST_STATE_NULL);
    g_signal_handlers_disconnect_by_data(m_pipeline, this);
    if (m_webrtc != nullptr) g_signal_handlers_disconnect_by_data(m_webrtc, this);
    releaseElements();
    if (m_webrtc != nullptr) gst_clear_object(&m_webrtc);
    gst_clear_object(&m_pipeline);
}

void WebrtcEndpoint::createDescription(core::SdpType type) {
    GstPromise* promise = gst_promise_new_with_change_func(
        onDescriptionCreated, new PromiseContext{shared_from_this(), type}, deletePromiseContext);
    g_signal_emit_by_name(m_webrtc, type == core::SdpType::Offer ? "create-offer" : "create-answer", nullptr,
                          promise);
}

void WebrtcEndpoint::setRemoteDescription(core::SdpType type, const std::string& text) {
    GstSDPMessage* sdp = nullptr;
    gst_sdp_message_new_from_text(text.c_str(), &sdp);
    if (sdp == nullptr) {
        fail("remote SDP does not parse");
        return;
    }
    {
        std::lock_guard lock(m_midsMutex);
        m_remoteMids = midsOf(sdp);
    }
    GstWebRTCSessionDescription* desc = gst_webrtc_session_description_new(
        type == core::SdpType::Offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
    GstPromise* promise = gst_promise_new_with_change_func(
        onRemoteDescriptionSet, new PromiseContext{shared_from_this(), type}, deletePromiseContext);
    g_signal_emit_by_name(m_webrtc, "set-remote-description", desc, promise);
    gst_webrtc_session_description_free(desc);
}

void WebrtcEndpoint::addRemoteCandidates(const std::vector<core::IceCandidate>& candidates) {
    for (const auto& c : candidates) {
        if (c.endOfCandidates()) continue;  // webrtcbin 1.22 has no end-of-candidates input
        std::optional<guint> mline = c.sdpMLineIndex;
        if (!mline && c.sdpMid) {
            std::lock_guard lock(m_midsMutex);
            for (std::size_t i = 0; i < m_remoteMids.size(); ++i)
                if (m_remoteMids[i] == *c.sdpMid) mline = static_cast<guint>(i);
        }
        g_signal_emit_by_name(m_webrtc, "add-ice-candidate", mline.value_or(0), c.candidate.c_str());
    }
}

// ---- webrtcbin signals (its threads) -----------------------------------------------------------------

void WebrtcEndpoint::handleDescriptionCreated(GstPromise* promise, core::SdpType type) {
    const char* key = type == core::SdpType::Offer ? "offer" : "answer";
    const GstStructure* reply = gst_promise_get_reply(promise);
    GstWebRTCSessionDescription* desc = nullptr;
    if (reply != nullptr) gst_structure_get(reply, key, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
    if (desc == nullptr) {
        GError* error = nullptr;
        if (reply != nullptr) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
        fail(std::string("create-") + key + ": " + (error != nullptr ? error->message : "no description"));
        g_clear_error(&error);
        return;
    }
    {
        std::lock_guard lock(m_midsMutex);
        m_localMids = midsOf(desc->sdp);
    }
    gchar* text = gst_sdp_message_as_text(desc->sdp);
    core::SessionDescription out{type, mungeLocalDescription(type, text)};
    g_free(text);
    // Apply the description before announcing it: a fast answer (an SFU on loopback answers within a
    // millisecond) must find webrtcbin in have-local-offer. This runs on webrtcbin's operation thread,
    // which also emits the local candidates in later operations, so the description still reaches
    // the executor before every candidate.
    if (m_webrtc != nullptr) g_signal_emit_by_name(m_webrtc, "set-local-description", desc, nullptr);
    gst_webrtc_session_description_free(desc);
    post([this, out = std::move(out)] {
        if (m_events.onLocalDescription) m_events.onLocalDescription(out);
    });
}

void WebrtcEndpoint::handleCandidate(guint mline, const char* candidate) {
    core::IceCandidate c;
    c.candidate = candidate != nullptr ? candidate : "";
    if (c.candidate.empty()) return;
    c.sdpMLineIndex = mline;
    {
        std::lock_guard lock(m_midsMutex);
        if (mline < m_localMids.size() && !m_localMids[mline].empty()) c.sdpMid = m_localMids[mline];
    }
    post([this, c = std::move(c)] {
        if (m_events.onLocalCandidate) m_events.onLocalCandidate(c);
    });
}

void WebrtcEndpoint::handleIceState() {
    GstWebRTCICEConnectionState s{};
    g_object_get(m_webrtc, "ice-connection-state", &s, nullptr);
    const auto state = mapIceState(s);
    if (state == core::IceConnectionState::Connected || state == core::IceConnectionState::Completed) {
        std::lock_guard lock(m_stateMutex);
        if (!m_iceConnectedAt) m_iceConnectedAt = SteadyClock::now();
    }
    post([this, state] {
        if (m_events.onIceState) m_events.onIceState(state);
    });
}

void WebrtcEndpoint::handleConnectionState() {
    GstWebRTCPeerConnectionState s{};
    g_object_get(m_webrtc, "connection-state", &s, nullptr);
    const auto state = mapConnectionState(s);
    post([this, state] {
        if (m_events.onConnectionState) m_events.onConnectionState(state);
    });
}

void WebrtcEndpoint::handleGatheringState() {
    GstWebRTCICEGatheringState s{};
    g_object_get(m_webrtc, "ice-gathering-state", &s, nullptr);
    if (s != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) return;
    post([this] {
        if (m_events.onLocalCandidate) m_events.onLocalCandidate(core::IceCandidate{});  // end-of-candidates
    });
}

void WebrtcEndpoint::handleBusMessage(GstMessage* msg) {
    if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_ERROR) return;
    GError* error = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &error, &debug);
    fail(std::string(GST_OBJECT_NAME(msg->src)) + ": " + (error != nullptr ? error->message : "error"));
    g_clear_error(&error);
    g_free(debug);
}

// webrtcbin hides its NiceAgent; its nicesrc elements expose it. Tune the check pacing there.
void WebrtcEndpoint::tuneNiceAgent(GstElement* element) {
    GstElementFactory* f = gst_element_get_factory(element);
    if (f == nullptr || std::strcmp(GST_OBJECT_NAME(f), "nicesrc") != 0 || m_icePacingMs == 0) return;
    GObject* agent = nullptr;
    g_object_get(element, "agent", &agent, nullptr);
    if (agent == nullptr) return;
    g_object_set(agent, "stun-pacing-timer", static_cast<guint>(m_icePacingMs), nullptr);
    g_object_unref(agent);
}

void WebrtcEndpoint::addTurnServers(std::vector<std::string> uris) {
    if (uris.empty()) return;
    whenBuilt([this, uris = std::move(uris)] {
        std::size_t refused = 0;
        for (const auto& uri : uris) {
            gboolean ok = FALSE;
            g_signal_emit_by_name(m_webrtc, "add-turn-server", uri.c_str(), &ok);
            if (!ok) ++refused;
        }
        // The URIs carry credentials: say how many, never which.
        if (refused > 0)
            fail("ICE: webrtcbin refused " + std::to_string(refused) + " of the SFU's TURN servers");
    });
}

}  // namespace mxrtc::rtc
