# Regenerates cases.json (MSC2746 / MSC3401 signalling vectors): python3 generate.py
import json, copy
SDP_O = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:96 OPUS/48000/2\r\n"
SDP_A = SDP_O.replace("4611731400430051336", "5133512377283761") 
def base(t="m.call.invite", **kw):
    c = {"call_id": "1700000000000abcdefGHIJKLmnop", "party_id": "ALICEDEV", "version": "1"}
    c.update(kw); return c
GROUP = {"conf_id": "conf1", "device_id": "ALICEDEV", "sender_session_id": "sessA", "dest_session_id": "sessB", "seq": 0}
def grp(c, **kw):
    c = dict(c); c.update(GROUP); c.update(kw); return c
meta_u = {"stream1": {"purpose": "m.usermedia", "audio_muted": False, "video_muted": True}}
invite = base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000, invitee="@bob:example.org",
              **{"org.matrix.msc3077.sdp_stream_metadata": meta_u, "capabilities": {"m.call.transferee": False, "m.call.dtmf": False}})
inv_canon = copy.deepcopy(invite); inv_canon["sdp_stream_metadata"] = meta_u
answer = base(answer={"type": "answer", "sdp": SDP_A}, party_id="BOBDEV")
cands = base(candidates=[
    {"candidate": "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
    {"candidate": "candidate:2 1 TCP 1015021823 127.0.0.1 9 typ host tcptype active", "sdpMid": "0", "sdpMLineIndex": 0},
    {"candidate": "", "sdpMid": None, "sdpMLineIndex": None}])
valid = [
 {"name": "invite_v1_unstable_metadata_key", "type": "m.call.invite", "content": invite, "canonical": inv_canon,
  "expect": {"version": 1, "lifetime": 60000, "invitee": "@bob:example.org", "metadata_streams": 1}},
 {"name": "invite_stable_metadata_key", "type": "m.call.invite",
  "content": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=90000, sdp_stream_metadata={"s": {"purpose": "m.screenshare"}}),
  "canonical": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=90000, sdp_stream_metadata={"s": {"purpose": "m.screenshare"}}, **{"org.matrix.msc3077.sdp_stream_metadata": {"s": {"purpose": "m.screenshare"}}}),
  "expect": {"lifetime": 90000, "metadata_streams": 1}},
 {"name": "invite_unknown_purpose_ignored", "type": "m.call.invite",
  "content": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000, sdp_stream_metadata={"a": {"purpose": "m.usermedia"}, "b": {"purpose": "org.example.hologram"}}),
  "roundtrip": False, "expect": {"metadata_streams": 1}},
 {"name": "invite_legacy_v0_integer_without_party_id", "type": "m.call.invite",
  "content": {"call_id": "legacy1", "version": 0, "offer": {"type": "offer", "sdp": SDP_O}, "lifetime": 60000},
  "expect": {"version": 0, "party_id": ""}},
 {"name": "invite_version_integer_1_treated_as_1", "type": "m.call.invite",
  "content": base(version=1, offer={"type": "offer", "sdp": SDP_O}, lifetime=60000),
  "canonical": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000), "expect": {"version": 1}},
 {"name": "invite_version_string_2_treated_as_1", "type": "m.call.invite",
  "content": base(version="2", offer={"type": "offer", "sdp": SDP_O}, lifetime=60000),
  "canonical": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000), "expect": {"version": 1}},
 {"name": "invite_lifetime_float_integral", "type": "m.call.invite",
  "content": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000.0),
  "canonical": base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000), "expect": {"lifetime": 60000}},
 {"name": "invite_to_device", "type": "m.call.invite", "transport": "to_device",
  "content": grp(base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000, invitee="@bob:example.org"), **{"org.matrix.msgid": "6a1c0c3e-2c4b-4f2e-9d7e-4a0c1f0e9b11"}),
  "expect": {"conf_id": "conf1", "seq": 0, "dest_session_id": "sessB"}},
 {"name": "candidates_batch_with_end_of_candidates", "type": "m.call.candidates", "content": cands,
  "expect": {"candidates": 3, "end_of_candidates": True}},
 {"name": "candidates_without_optional_keys", "type": "m.call.candidates",
  "content": base(candidates=[{"candidate": "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host"}]),
  "canonical": base(candidates=[{"candidate": "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host", "sdpMid": None, "sdpMLineIndex": None}]),
  "expect": {"candidates": 1}},
 {"name": "candidates_to_device_seq_7", "type": "m.call.candidates", "transport": "to_device",
  "content": grp(cands, seq=7), "expect": {"seq": 7, "candidates": 3}},
 {"name": "answer", "type": "m.call.answer", "content": answer},
 {"name": "answer_with_metadata_and_caps", "type": "m.call.answer",
  "content": base(party_id="BOBDEV", answer={"type": "answer", "sdp": SDP_A}, capabilities={"m.call.dtmf": True},
                  sdp_stream_metadata={"m1": {"purpose": "m.usermedia", "audio_muted": True}},
                  **{"org.matrix.msc3077.sdp_stream_metadata": {"m1": {"purpose": "m.usermedia", "audio_muted": True}}}),
  "expect": {"metadata_streams": 1}},
 {"name": "answer_to_device", "type": "m.call.answer", "transport": "to_device",
  "content": grp(answer, device_id="BOBDEV", sender_session_id="sessB", dest_session_id="sessA", seq=0)},
 {"name": "select_answer", "type": "m.call.select_answer", "content": base(selected_party_id="BOBDEV")},
 {"name": "negotiate_offer", "type": "m.call.negotiate",
  "content": base(description={"type": "offer", "sdp": SDP_O}, lifetime=10000), "expect": {"lifetime": 10000}},
 {"name": "negotiate_answer_without_lifetime", "type": "m.call.negotiate",
  "content": base(description={"type": "answer", "sdp": SDP_A})},
 {"name": "reject", "type": "m.call.reject", "content": base(party_id="BOBDEV")},
 {"name": "reject_to_device", "type": "m.call.reject", "transport": "to_device", "content": grp(base(party_id="BOBDEV"), seq=1)},
 {"name": "hangup_without_reason_means_user_hangup", "type": "m.call.hangup", "content": base(), "expect": {"reason": "user_hangup"}},
]
for r in ["user_hangup", "ice_failed", "ice_timeout", "invite_timeout", "user_media_failed", "user_busy", "unknown_error", "replaced", "answered_elsewhere", "signalling_timeout"]:
    valid.append({"name": "hangup_" + r, "type": "m.call.hangup", "content": base(reason=r), "expect": {"reason": r}})
valid += [
 {"name": "hangup_unknown_reason_kept_verbatim", "type": "m.call.hangup", "content": base(reason="org.example.cosmic_ray"), "expect": {"reason": "other"}},
 {"name": "hangup_to_device", "type": "m.call.hangup", "transport": "to_device", "content": grp(base(reason="user_hangup"), seq=12), "expect": {"seq": 12}},
 {"name": "metadata_changed_unstable_type", "type": "org.matrix.call.sdp_stream_metadata_changed",
  "content": base(**{"org.matrix.msc3077.sdp_stream_metadata": {"s1": {"purpose": "m.usermedia", "audio_muted": True, "video_muted": False}}}),
  "canonical": base(sdp_stream_metadata={"s1": {"purpose": "m.usermedia", "audio_muted": True, "video_muted": False}}, **{"org.matrix.msc3077.sdp_stream_metadata": {"s1": {"purpose": "m.usermedia", "audio_muted": True, "video_muted": False}}}),
  "expect": {"metadata_streams": 1}},
 {"name": "metadata_changed_stable_type", "type": "m.call.sdp_stream_metadata_changed",
  "content": base(sdp_stream_metadata={}, **{"org.matrix.msc3077.sdp_stream_metadata": {}}), "expect": {"metadata_streams": 0}},
]
def inv(**kw):
    c = base(offer={"type": "offer", "sdp": SDP_O}, lifetime=60000); c.update(kw); return c
def drop(c, k):
    c = dict(c); del c[k]; return c
invalid = [
 ("unknown_event_type", "m.call.ring", base(), "type"),
 ("content_not_object", "m.call.hangup", ["call_id"], "content"),
 ("missing_call_id", "m.call.hangup", drop(base(), "call_id"), "call_id"),
 ("call_id_not_string", "m.call.hangup", base(call_id=42), "call_id"),
 ("call_id_bad_character", "m.call.hangup", base(call_id="abc def"), "call_id"),
 ("call_id_empty", "m.call.hangup", base(call_id=""), "call_id"),
 ("call_id_too_long", "m.call.hangup", base(call_id="a" * 256), "call_id"),
 ("missing_party_id_v1", "m.call.hangup", drop(base(), "party_id"), "party_id"),
 ("party_id_bad_character", "m.call.hangup", base(party_id="DEV/1"), "party_id"),
 ("missing_version", "m.call.hangup", drop(base(), "version"), "version"),
 ("version_object", "m.call.hangup", base(version={"v": 1}), "version"),
 ("invite_missing_offer", "m.call.invite", base(lifetime=60000), "offer"),
 ("invite_offer_not_object", "m.call.invite", inv(offer="v=0"), "offer"),
 ("invite_offer_type_answer", "m.call.invite", inv(offer={"type": "answer", "sdp": SDP_A}), "offer.type"),
 ("invite_offer_type_pranswer", "m.call.invite", inv(offer={"type": "pranswer", "sdp": SDP_A}), "offer.type"),
 ("invite_offer_missing_sdp", "m.call.invite", inv(offer={"type": "offer"}), "offer.sdp"),
 ("invite_offer_empty_sdp", "m.call.invite", inv(offer={"type": "offer", "sdp": ""}), "offer.sdp"),
 ("invite_missing_lifetime", "m.call.invite", drop(inv(), "lifetime"), "lifetime"),
 ("invite_lifetime_string", "m.call.invite", inv(lifetime="60000"), "lifetime"),
 ("invite_lifetime_negative", "m.call.invite", inv(lifetime=-1), "lifetime"),
 ("invite_lifetime_fraction", "m.call.invite", inv(lifetime=1.5), "lifetime"),
 ("invite_invitee_not_user_id", "m.call.invite", inv(invitee="bob"), "invitee"),
 ("invite_metadata_not_object", "m.call.invite", inv(sdp_stream_metadata=[1]), "sdp_stream_metadata"),
 ("invite_unstable_metadata_not_object", "m.call.invite", inv(**{"org.matrix.msc3077.sdp_stream_metadata": "x"}), "org.matrix.msc3077.sdp_stream_metadata"),
 ("invite_metadata_missing_purpose", "m.call.invite", inv(sdp_stream_metadata={"s1": {"audio_muted": True}}), "sdp_stream_metadata.s1.purpose"),
 ("invite_metadata_entry_not_object", "m.call.invite", inv(sdp_stream_metadata={"s1": "m.usermedia"}), "sdp_stream_metadata.s1"),
 ("invite_metadata_audio_muted_string", "m.call.invite", inv(sdp_stream_metadata={"s1": {"purpose": "m.usermedia", "audio_muted": "yes"}}), "sdp_stream_metadata.s1.audio_muted"),
 ("invite_metadata_video_muted_number", "m.call.invite", inv(sdp_stream_metadata={"s1": {"purpose": "m.usermedia", "video_muted": 1}}), "sdp_stream_metadata.s1.video_muted"),
 ("invite_capabilities_not_object", "m.call.invite", inv(capabilities=True), "capabilities"),
 ("invite_capability_dtmf_string", "m.call.invite", inv(capabilities={"m.call.dtmf": "true"}), "capabilities.m.call.dtmf"),
 ("candidates_missing", "m.call.candidates", base(), "candidates"),
 ("candidates_not_array", "m.call.candidates", base(candidates={"candidate": ""}), "candidates"),
 ("candidates_empty", "m.call.candidates", base(candidates=[]), "candidates"),
 ("candidates_entry_not_object", "m.call.candidates", base(candidates=["candidate:1"]), "candidates[0]"),
 ("candidates_candidate_number", "m.call.candidates", base(candidates=[{"candidate": ""}, {"candidate": 5}]), "candidates[1].candidate"),
 ("candidates_sdpmid_number", "m.call.candidates", base(candidates=[{"candidate": "", "sdpMid": 0}]), "candidates[0].sdpMid"),
 ("candidates_mline_negative", "m.call.candidates", base(candidates=[{"candidate": "", "sdpMLineIndex": -1}]), "candidates[0].sdpMLineIndex"),
 ("candidates_mline_string", "m.call.candidates", base(candidates=[{"candidate": "", "sdpMLineIndex": "0"}]), "candidates[0].sdpMLineIndex"),
 ("answer_missing", "m.call.answer", base(), "answer"),
 ("answer_type_offer", "m.call.answer", base(answer={"type": "offer", "sdp": SDP_O}), "answer.type"),
 ("answer_sdp_number", "m.call.answer", base(answer={"type": "answer", "sdp": 0}), "answer.sdp"),
 ("select_answer_missing_party", "m.call.select_answer", base(), "selected_party_id"),
 ("select_answer_bad_party", "m.call.select_answer", base(selected_party_id="a b"), "selected_party_id"),
 ("negotiate_missing_description", "m.call.negotiate", base(lifetime=10000), "description"),
 ("negotiate_type_rollback", "m.call.negotiate", base(description={"type": "rollback", "sdp": SDP_O}), "description.type"),
 ("negotiate_lifetime_string", "m.call.negotiate", base(description={"type": "offer", "sdp": SDP_O}, lifetime="x"), "lifetime"),
 ("hangup_reason_number", "m.call.hangup", base(reason=3), "reason"),
 ("hangup_reason_empty", "m.call.hangup", base(reason=""), "reason"),
 ("metadata_changed_missing_metadata", "m.call.sdp_stream_metadata_changed", base(), "sdp_stream_metadata"),
]
hang = base(reason="user_hangup")
for k in ["conf_id", "device_id", "sender_session_id", "dest_session_id", "seq"]:
    invalid.append(("to_device_missing_" + k, "m.call.hangup", drop(grp(hang), k), k, "to_device"))
invalid += [
 ("to_device_seq_negative", "m.call.hangup", grp(hang, seq=-1), "seq", "to_device"),
 ("to_device_seq_string", "m.call.hangup", grp(hang, seq="0"), "seq", "to_device"),
 ("to_device_conf_id_empty", "m.call.hangup", grp(hang, conf_id=""), "conf_id", "to_device"),
 ("to_device_device_id_number", "m.call.hangup", grp(hang, device_id=7), "device_id", "to_device"),
 ("to_device_msgid_number", "m.call.hangup", grp(hang, **{"org.matrix.msgid": 1}), "org.matrix.msgid", "to_device"),
]
out = {"comment": "MSC2746 m.call.* events and MSC3401 to-device fields (spec §9). valid: parse, serialise to `canonical` (default: content, unless roundtrip is false), parse again to the same value. invalid: rejected with M_BAD_JSON and a message naming `field`.",
       "valid": [dict({"transport": "room"}, **v) for v in valid],
       "invalid": [{"name": i[0], "type": i[1], "transport": i[4] if len(i) > 4 else "room", "content": i[2], "field": i[3]} for i in invalid]}
json.dump(out, open(__import__("os").path.join(__import__("os").path.dirname(__file__), "cases.json"), "w"), indent=1)
print(len(valid), len(invalid))
