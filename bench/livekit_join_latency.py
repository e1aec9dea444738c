#!/usr/bin/env python3
"""Join -> first decrypted frame through a LiveKit SFU on loopback, JWT fetch included (issue 11).

  python3 bench/livekit_join_latency.py [--build build-rel] [--runs 5] [--modes default,low-latency]
                                        [--no-trace] [--keep] [--json FILE]

Starts the stack once (Synapse, livekit-server, mxrtc-auth: bench/lk_stack.py, as scripts/demo.sh
--sfu does). Per mode ("default", "low-latency" = both CLIs with --low-latency) alice joins the call
first (`join-call --focus <mxrtc-auth> --media test --e2ee --json`); then, RUNS times, bob joins
with a FRESH device and profile (a new `mxrtc login` each run: new device id, new Olm account, so
alice has to discover his device and both set up Olm sessions from scratch, as for a first join),
waits until both sides decrypt each other, and leaves (SIGINT, clean leave); alice rotates her key
after each leave and we wait for that before the next run.

Recorded per run:
  * bob <- alice and alice <- bob: `member_seen_to_first_frame_ms` from each side's media report
    (from the moment that side has seen both memberships, so it includes the JWT fetch: the OpenID
    token from Synapse and /sfu/get at mxrtc-auth);
  * bob's process start (spawn) -> his first decrypted frame of alice's media;
  * a per-step breakdown of bob's join from the CLIs' --json events (ts), MXRTC_LIVEKIT_TRACE=1
    signal-message lines and GStreamer's webrtcbin/dtlsconnection INFO lines (GST_DEBUG) on stderr,
    timestamped as they arrive, plus the Synapse access log and mxrtc-auth's JSON request log.
    --no-trace turns the stderr tracing off (the breakdown then has only the --json events).

Prints every run, then p50/min/max per direction and the median of every breakdown step.
All processes are ended on exit (also on failure and Ctrl-C); the temporary directory is removed
unless --keep.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lk_stack import (Stack, loadavg, log, machine_busy_seconds, percentile50, wait_for_quiet,  # noqa: E402
                      wait_until)

# webrtcbin/dtlsconnection: negotiation, ICE and DTLS states; GST_ELEMENT_FACTORY / GST_PIPELINE: the
# media engine's warm-up (its first dtlsdec generates the process-wide RSA-2048 DTLS certificate;
# the next element it makes is webrtcbin) and the SFU peers' pipelines being built.
GST_DEBUG = "webrtcbin:4,dtlsconnection:4,GST_ELEMENT_FACTORY:4,GST_PIPELINE:4"
GST_LINE = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d+)\s+\d+\s+(0x[0-9a-f]+)\s+(\w+)\s+(\S+)\s+(.*)$")
TRACE_LINE = re.compile(r"^livekit \S+ ([<>]) (\w+)$")
SYNAPSE_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) - synapse\.access\.http\.\d+ - \d+ - INFO - \S+ - [^{]*"
    r"\{(@[^}]*)\} Processed request: ([\d.]+)sec/[-\d.]+sec .*? (\d{3}!?) \"(\w+) (\S+) HTTP")


# ---- parsing one process's output ----------------------------------------------------------------


class Timeline:
    """What one CLI printed, on the wall-clock axis (seconds)."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.events = proc.events()
        self.trace: list[tuple[float, str, str]] = []  # (t, "<"|">", message type)
        self.gst: list[tuple[float, str, str, str]] = []  # (t, thread, category, text)
        gst_raw = []
        for t, line in proc.stderr_lines():
            m = TRACE_LINE.match(line)
            if m:
                self.trace.append((t, m.group(1), m.group(2)))
                continue
            m = GST_LINE.match(line)
            if m:
                h, mi, s, frac = m.group(1), m.group(2), m.group(3), m.group(4)
                elapsed = int(h) * 3600 + int(mi) * 60 + int(s) + int(frac) / 10 ** len(frac)
                gst_raw.append((t, elapsed, m.group(5), m.group(7), m.group(8)))
        if gst_raw:
            # GStreamer stamps its lines with the time since gst_init: map that onto the wall clock
            # with the least-delayed line (a line can arrive late, never early).
            self.gst_init = min(t - e for t, e, *_ in gst_raw)
            self.gst = [(self.gst_init + e, th, cat, txt) for _, e, th, cat, txt in gst_raw]
        else:
            self.gst_init = None

    def first_event(self, pred, after: float = 0.0):
        """(arrival, json) of the first --json event matching pred at or after `after`."""
        for t, j in self.events:
            if t >= after and pred(j):
                return t, j
        return None

    def ts_of(self, pred, after: float = 0.0):
        e = self.first_event(pred, after)
        return e[1]["ts"] / 1000 if e else None

    def trace_at(self, direction: str, kind: str, after: float = 0.0, nth: int = 1):
        n = 0
        for t, d, k in self.trace:
            if t >= after and d == direction and k == kind:
                n += 1
                if n == nth:
                    return t
        return None

    def gst_at(self, needle: str, after: float = 0.0, thread: str | None = None):
        for t, th, _, txt in self.gst:
            if t >= after and needle in txt and (thread is None or th == thread):
                return t
        return None

    def gst_thread(self, needle: str, after: float = 0.0):
        for t, th, _, txt in self.gst:
            if t >= after and needle in txt:
                return th
        return None

    def media_about(self, identity_prefix: str):
        """The latest media report about a participant whose LiveKit identity starts with prefix."""
        last = None
        for _, j in self.events:
            if j.get("event") == "media" and j.get("identity", "").startswith(identity_prefix):
                last = j
        return last


def synapse_requests(hs_log: Path, user_id: str, t_from: float, t_to: float):
    """(end time, duration s, status, method, path) of `user_id`'s requests finished in [t_from, t_to]."""
    out = []
    for line in hs_log.read_text(errors="replace").splitlines():
        m = SYNAPSE_LINE.match(line)
        if not m or m.group(3) != user_id:
            continue
        end = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(m.group(2)) / 1000
        if t_from <= end <= t_to:
            raw = m.group(7)
            path = re.sub(r"\?.*", "", raw)
            path = re.sub(r"%21[^/]+", "!room", path)
            path = re.sub(r"/(_%40|%40|@)[^/]+", "/@user", path)
            if "msc4140.delay=" in raw:
                path += " (MSC4140 delayed leave)"
            out.append((end, float(m.group(4)), m.group(5), m.group(6), path))
    return out


def auth_requests(stack: Stack, identity: str):
    """(end time, latency s, path, status) of mxrtc-auth requests for a LiveKit identity."""
    out = []
    for j in stack.auth_log():
        if j.get("msg") == "request" and j.get("lk_identity") == identity:
            end = datetime.strptime(j["ts"][:26], "%Y-%m-%dT%H:%M:%S.%f").replace(
                tzinfo=timezone.utc).timestamp()
            out.append((end, j.get("latency_ms", 0) / 1000, j.get("path", ""), j.get("status")))
    return out


# ---- one run -------------------------------------------------------------------------------------


def breakdown(stack: Stack, alice: Timeline, bob: Timeline, t_spawn: float, bob_user: str,
              bob_identity: str, alice_identity: str, t_bob_first: float, t_alice_first: float,
              t_seen: float):
    """[(step, wall time or None)] of bob's join, in order of the protocol."""
    hs_log = stack.dir / "hs" / "homeserver.log"
    reqs = synapse_requests(hs_log, bob_user, t_spawn, t_bob_first + 5)
    sfu_connecting = bob.ts_of(lambda j: j.get("event") == "sfu_state" and j.get("state") == "connecting")
    openid = next(((e, d) for e, d, _, _, p in reqs if p.endswith("/openid/request_token")), None)
    auth = sorted(auth_requests(stack, bob_identity))
    sfu_joining = bob.ts_of(lambda j: j.get("event") == "sfu_state" and j.get("state") == "joining")
    sfu_connected = bob.ts_of(lambda j: j.get("event") == "sfu_state" and j.get("state") == "connected")
    after = t_seen
    join_msg = bob.trace_at("<", "join", after)
    sub_offer = bob.trace_at("<", "offer", after)
    sub_answer = bob.trace_at(">", "answer", after)
    pub_offer = bob.trace_at(">", "offer", after)
    pub_answer = bob.trace_at("<", "answer", after)
    sub_thread = bob.gst_thread("set remote offer", after)
    pub_thread = bob.gst_thread("creating offer", after)
    sub_pc = bob.gst_at("Peer connection state change from connecting(1) to connected(2)", after, sub_thread)
    pub_pc = bob.gst_at("Peer connection state change from connecting(1) to connected(2)", after, pub_thread)
    key_in = bob.ts_of(lambda j: j.get("event") == "key_received" and j.get("identity") == alice_identity)
    sub_offer2 = bob.trace_at("<", "offer", after, nth=2)
    sub_answer2 = bob.trace_at(">", "answer", after, nth=2)
    bob_rtp = bob.gst_at("new jitterbuffer", after)
    # alice's side of the same join
    a_seen = alice.first_event(lambda j: j.get("event") == "member_joined" and
                               j.get("device_id") == bob_identity.rsplit(":", 1)[1], t_spawn)
    a_key = alice.ts_of(lambda j: j.get("event") == "key_received" and j.get("identity") == bob_identity,
                        t_spawn)
    a_update = alice.ts_of(lambda j: j.get("event") == "remote_media" and
                           j.get("device_id") == bob_identity.rsplit(":", 1)[1], t_spawn)
    a_offer = alice.trace_at("<", "offer", t_spawn)
    a_answer = alice.trace_at(">", "answer", t_spawn)
    a_rtp = alice.gst_at("new jitterbuffer", t_spawn)
    self_seen = bob.first_event(lambda j: j.get("event") == "member_joined" and j.get("detail") == "self")
    status_connecting = bob.ts_of(lambda j: j.get("event") == "status" and j.get("detail") == "connecting")
    steps = [
        ("bob: process start (spawn)", t_spawn),
        ("bob: GStreamer initialised (gst_init)", bob.gst_init),
        ("bob: DTLS certificate generation starts (media engine warm-up)", bob.gst_at('creating element "dtlsdec"')),
        ("bob: DTLS certificate generated (RSA-2048, warm-up done)", bob.gst_at('creating element "webrtcbin"')),
        ("bob: membership being sent (status connecting)", status_connecting),
        ("bob: member_joined (self) line arrives", self_seen[0] if self_seen else None),
        ("bob: sfu_state connecting = own membership seen ('member seen'); JWT fetch starts", sfu_connecting),
        ("  Synapse: OpenID token request received", openid[0] - openid[1] if openid else None),
        ("  Synapse: OpenID token issued (request_token done)", openid[0] if openid else None),
    ]
    for i, (end, lat, path, status) in enumerate(auth[:2]):
        steps.append((f"  mxrtc-auth: request {i + 1} (POST {path}) received", end - lat))
        steps.append((f"  mxrtc-auth: request {i + 1} (POST {path}) answered {status}", end))
    steps += [
        ("bob: sfu_state joining (WS open: JWT + WS connect done)", sfu_joining),
        ("bob: JoinResponse received (< join)", join_msg),
        ("bob: sfu_state connected", sfu_connected),
        ("bob: subscriber offer received (< offer)", sub_offer),
        ("bob: SFU peers' pipelines being built (media engine thread)", bob.gst_at("parsing pipeline description", after)),
        ("bob: subscriber answer sent (> answer)", sub_answer),
        ("bob: publisher offer sent (> offer)", pub_offer),
        ("bob: publisher answer received (< answer)", pub_answer),
        ("bob: subscriber ICE+DTLS connected (webrtcbin)", sub_pc),
        ("bob: publisher ICE+DTLS connected (webrtcbin)", pub_pc),
        ("bob: alice's key received over Olm (key_received)", key_in),
        ("bob: subscriber offer with alice's tracks (< offer #2)", sub_offer2),
        ("bob: its answer sent (> answer #2)", sub_answer2),
        ("bob: first RTP from alice (new jitterbuffer)", bob_rtp),
        ("bob: FIRST DECRYPTED FRAME of alice", t_bob_first),
        ("alice: bob's membership seen (member_joined)", a_seen[0] if a_seen else None),
        ("alice: bob's key received over Olm", a_key),
        ("alice: bob's tracks announced by the SFU (remote_media)", a_update),
        ("alice: subscriber offer with bob's tracks (< offer)", a_offer),
        ("alice: her answer sent (> answer)", a_answer),
        ("alice: first RTP from bob (new jitterbuffer)", a_rtp),
        ("alice: FIRST DECRYPTED FRAME of bob", t_alice_first),
    ]
    return steps, reqs


def one_run(stack: Stack, room: str, alice_proc, mode_flags: list[str], run: int, trace: bool, mode: str):
    profile = f"bob-{mode}-{run}"
    stack.login(profile, "bob", register=False)  # a new device (and profile) for this run
    env = {"MXRTC_LIVEKIT_TRACE": "1", "GST_DEBUG": GST_DEBUG,
           "GST_DEBUG_NO_COLOR": "1"} if trace else {}
    m0, o0, t_m0 = machine_busy_seconds(), stack.own_cpu_seconds(), time.monotonic()
    t_spawn = time.time()
    bob = stack.spawn(f"bob-{mode}-{run}", stack.cli_argv(
        profile, "--json", "join-call", room, "--focus", stack.auth_url, "--media", "test", "--e2ee",
        "--stats-interval", "0.1", "--duration", "30", *mode_flags), env=env)
    try:
        alice_id = stack.user_id("alice") + ":"
        bob_uid = stack.user_id("bob")

        def bob_hears():
            m = Timeline(bob).media_about(alice_id)
            return m if m and m["frames_decrypted"] > 0 and m["member_seen_to_first_frame_ms"] >= 0 else None

        def own_identity():
            e = Timeline(bob).first_event(lambda j: j.get("event") == "own_key")
            return e[1]["identity"] if e else None

        m_bob = wait_until(bob_hears, 30, f"run {run}: bob decrypting alice")
        bob_identity = wait_until(own_identity, 5, "bob's identity")

        def alice_hears():
            m = Timeline(alice_proc).media_about(bob_identity)
            return m if m and m["frames_decrypted"] > 0 and m["member_seen_to_first_frame_ms"] >= 0 else None

        m_alice = wait_until(alice_hears, 30, f"run {run}: alice decrypting bob")
        # CPU the machine spent on other jobs during this join (shared box), % of one core.
        others = round(((machine_busy_seconds() - m0) - (stack.own_cpu_seconds() - o0)) /
                       (time.monotonic() - t_m0) * 100)
        time.sleep(0.5)
        bob.send_signal(signal.SIGINT)
        rc = bob.wait(15)
        if rc != 0:
            raise RuntimeError(f"bob exited with {rc}:\n{bob.tail()}")
        a, b = Timeline(alice_proc), Timeline(bob)
        # bob's "member seen" instant (his backend's own-membership time): the sfu_state connecting
        # line printed right after it (its ts is when it was printed; member_joined's ts is the
        # membership's creation time, not when it was seen).
        t_seen = b.ts_of(lambda j: j.get("event") == "sfu_state" and j.get("state") == "connecting")
        wait_until(lambda: auth_requests(stack, bob_identity), 3, "mxrtc-auth's log of bob's request")
        a_seen = a.first_event(lambda j: j.get("event") == "member_joined" and
                               j.get("device_id") == bob_identity.rsplit(":", 1)[1], t_spawn)
        alice_identity = b.media_about(alice_id)["identity"]
        t_bob_first = t_seen + m_bob["member_seen_to_first_frame_ms"] / 1000
        t_alice_first = a_seen[0] + m_alice["member_seen_to_first_frame_ms"] / 1000
        steps, reqs = breakdown(stack, a, b, t_spawn, bob_uid, bob_identity, alice_identity,
                                t_bob_first, t_alice_first, t_seen)
        result = {
            "run": run, "mode": mode, "loadavg": loadavg(), "other_jobs_cpu_pct": others,
            "bob_from_alice_ms": m_bob["member_seen_to_first_frame_ms"],
            "alice_from_bob_ms": m_alice["member_seen_to_first_frame_ms"],
            "bob_spawn_to_first_frame_ms": round((t_bob_first - t_spawn) * 1000),
            "steps": [(name, None if t is None else round((t - t_seen) * 1000, 1)) for name, t in steps],
            "synapse": [(round((e - t_seen) * 1000, 1), round(d * 1000, 1), st, meth, p)
                        for e, d, st, meth, p in reqs],
        }
        # alice rotates her key after bob's leave: let that settle before the next join.
        wait_until(lambda: Timeline(alice_proc).first_event(
            lambda j: j.get("event") == "member_left" and j.get("device_id") == bob_identity.rsplit(":", 1)[1],
            t_spawn), 15, "alice seeing bob leave")
        time.sleep(2.0)
        return result
    finally:
        stack.forget(bob)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-rel", help="build directory with bin/mxrtc, bin/mxrtc-auth")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--modes", default="default,low-latency")
    ap.add_argument("--no-trace", action="store_true", help="no MXRTC_LIVEKIT_TRACE / GST_DEBUG")
    ap.add_argument("--max-load", type=float, default=1.5,
                    help="first wait (up to --max-wait s) for the 1-min load average to drop below this")
    ap.add_argument("--max-wait", type=float, default=0, help="seconds to wait for --max-load (default 0)")
    ap.add_argument("--keep", action="store_true", help="keep the logs (temporary directory)")
    ap.add_argument("--json", help="also write all results to this file")
    args = ap.parse_args()

    wait_for_quiet(args.max_load, args.max_wait)
    stack = Stack(args.build, keep=args.keep)
    results = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        stack.start()
        log(f"load average before: {loadavg()}")
        stack.login("alice", "alice")
        stack.login("bob-reg", "bob")
        room = stack.cli("alice", "-q", "create-room", "--name", "join latency", "--invite", stack.user_id("bob"))
        stack.cli("bob-reg", "-q", "join-room", room)
        trace = not args.no_trace
        for mode in args.modes.split(","):
            flags = ["--low-latency"] if mode == "low-latency" else []
            env = {"MXRTC_LIVEKIT_TRACE": "1", "GST_DEBUG": GST_DEBUG,
                   "GST_DEBUG_NO_COLOR": "1"} if trace else {}
            alice = stack.spawn(f"alice-{mode}", stack.cli_argv(
                "alice", "--json", "join-call", room, "--focus", stack.auth_url, "--media", "test", "--e2ee",
                "--stats-interval", "0.1", *flags), env=env)
            wait_until(lambda: Timeline(alice).first_event(
                lambda j: j.get("event") == "sfu_state" and j.get("state") == "connected"), 30, "alice on the SFU")
            time.sleep(3)  # her publisher up and steady
            log(f"mode {mode}: alice is in the call; {args.runs} joins of bob (fresh device each)")
            for run in range(1, args.runs + 1):
                r = one_run(stack, room, alice, flags, run, trace, mode)
                results.append(r)
                log(f"  run {run}: bob<-alice {r['bob_from_alice_ms']} ms, alice<-bob {r['alice_from_bob_ms']} ms, "
                    f"bob spawn->first frame {r['bob_spawn_to_first_frame_ms']} ms (load {r['loadavg']}, "
                    f"other jobs {r['other_jobs_cpu_pct']} % of a core)")
            alice.send_signal(signal.SIGINT)
            alice.wait(15)
            stack.forget(alice)
            time.sleep(2)
        log(f"load average after: {loadavg()}")
    except Exception:
        for p in stack.procs:
            print(p.tail(), file=sys.stderr)
        raise
    finally:
        stack.close()

    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def report(results: list[dict]) -> None:
    for mode in dict.fromkeys(r["mode"] for r in results):
        rs = [r for r in results if r["mode"] == mode]
        print(f"\n== {mode}: join -> first decrypted frame through the SFU, {len(rs)} joins of a fresh bob device")
        print(f"   loadavg during runs: {', '.join(r['loadavg'].split()[0] for r in rs)}; other jobs' CPU "
              f"during each join: {', '.join(str(r['other_jobs_cpu_pct']) for r in rs)} % of one core")
        for key, label in (("bob_from_alice_ms", "bob <- alice (bob: member seen -> first frame)"),
                           ("alice_from_bob_ms", "alice <- bob (alice: member seen -> first frame)"),
                           ("bob_spawn_to_first_frame_ms", "bob process start -> first frame of alice")):
            xs = [r[key] for r in rs]
            print(f"   {label:52s} p50 {percentile50(xs):6.0f} ms  min {min(xs):5d}  max {max(xs):5d}  "
                  f"runs {xs}")
        print(f"   breakdown of bob's join (ms relative to bob's 'member seen'; median of {len(rs)} runs;"
              " per-run values in brackets)")
        names = [n for n, _ in rs[0]["steps"]]
        for i, name in enumerate(names):
            vals = [r["steps"][i][1] if i < len(r["steps"]) and r["steps"][i][0] == name else None for r in rs]
            got = [v for v in vals if v is not None]
            med = f"{percentile50(got):8.1f}" if got else "       -"
            print(f"   {med}  {name}  [{', '.join('-' if v is None else f'{v:.0f}' for v in vals)}]")
        mid = sorted(rs, key=lambda r: r["bob_from_alice_ms"])[len(rs) // 2]
        print(f"   bob's Synapse requests in run {mid['run']} (median run): end (ms rel. member seen), duration, status")
        for end, dur, st, meth, path in mid["synapse"]:
            print(f"   {end:8.1f}  {dur:6.1f} ms  {st}  {meth} {path}")


if __name__ == "__main__":
    sys.exit(main())
