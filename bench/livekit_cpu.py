#!/usr/bin/env python3
"""CPU per subscribed audio+video track: mxrtc CLI vs the LiveKit Python SDK (libwebrtc), side by side.

  python3 bench/livekit_cpu.py [--build build-rel] [--sizes 160x120@15,640x360@30] [--reps 3]
                               [--window 12] [--settle 5] [--keep] [--json FILE]

One LiveKit room (the stack of bench/lk_stack.py: Synapse, livekit-server, mxrtc-auth on 127.0.0.1)
with, at the same time:

  * receiver A: `mxrtc join-call --focus <mxrtc-auth> --media test --e2ee` (the build's CLI); it
    also publishes its own tone + 160x120@15 VP8 pattern;
  * receiver B: tests/livekit/lk_peer.py (LiveKit Python SDK 1.2.0, libwebrtc; run through
    bench/lk_bench_receiver.py, which only ends a track's frame reader when it is unsubscribed), E2EE with
    Element Call's per-participant keys, publishing an equivalent tone + 160x120@15 VP8 pattern,
    decoding everything it subscribes to (audio resampled to 48 kHz mono and analysed, every video
    frame pulled into Python);
  * K publishers (bench/lk_bench_publisher.py, Python SDK, send-only, no simulcast, frame rate and
    resolution pinned): Opus tone + VP8 pattern at the size under test, E2EE.

Keys: every LiveKit participant except the CLI is, on the Matrix side, a matrix-js-sdk
MatrixRTCSession member (interop/rtc_session_peer.mjs, "exposeKeys": true) whose LiveKit identity
the Python participant takes, exactly as the interop test
ALiveKitSdkParticipantAndTheCliDecodeEachOthersToneAndVideo does. js-sdk and the CLI exchange
media keys over Olm as Element Call does; the CLI thus gets every Python participant's key through
Matrix, and a bridge here hands js-sdk's keys (its own and those it received, including the CLI's)
to the matching Python participants (lk_peer / publisher stdin "key ..."), also after a rotation.
So both receivers decrypt every track with the keys a real client would have; nobody decodes in
the clear.

Measurement: K = 1 and K = 3 publishers, alternating (K1, K3, K1, K3, ...: REPS pairs); the two
extra publishers join/leave the LiveKit room between phases (their Matrix memberships stay, so no
key rotation). After SETTLE s each receiver's CPU (utime + stime of its process, all threads, from
/proc/PID/stat) is sampled over a WINDOW s window, both receivers in the same window.
CPU per subscribed track pair = (cpu(K=3) - cpu(K=1)) / 2, per repetition; the table shows both,
the ratio mxrtc / libwebrtc, what each decoded per publisher in the window (fps, audio frames/s)
and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lk_stack import (JS_PEER, LK_PEER, LK_PYTHON, Stack, cpu_seconds, lk_room_alias,  # noqa: E402
                      loadavg, log, machine_busy_seconds, wait_for_quiet, wait_until, _OPENER)

PUBLISHER = Path(__file__).resolve().parent / "lk_bench_publisher.py"
RECEIVER = Path(__file__).resolve().parent / "lk_bench_receiver.py"  # lk_peer.py, readers end on unsubscribe


def http_json(method: str, url: str, body: dict, token: str) -> dict:
    import urllib.request
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with _OPENER.open(req, timeout=30) as r:
        return json.loads(r.read())


class KeyBridge:
    """Hands js-sdk's media keys to the Python LiveKit participants that need them."""

    def __init__(self) -> None:
        self.routes: list[tuple] = []  # (node Proc, own_only, target Proc)
        self.seen: dict[tuple, tuple] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def route(self, node, target, own_only: bool) -> None:
        with self.lock:
            self.routes.append((node, own_only, target))

    def unroute(self, target) -> None:
        with self.lock:
            self.routes = [r for r in self.routes if r[2] is not target]
            self.seen = {k: v for k, v in self.seen.items() if k[0] is not target}

    def _loop(self) -> None:
        while not self.stop.wait(0.1):
            with self.lock:
                routes = list(self.routes)
            for node, own_only, target in routes:
                for _, k in node.events("key"):
                    if (own_only and not k.get("own")) or "key_hex" not in k:
                        continue
                    slot = (target, k["identity"], k["index"])
                    if self.seen.get(slot) == k["key_hex"]:
                        continue
                    self.seen[slot] = k["key_hex"]
                    target.send(f"key {k['identity']} {k['key_hex']} {k['index']}")


def latest_keys(node) -> dict[str, tuple[str, int]]:
    """identity -> (key hex, index) of the newest key js-sdk reported for each identity."""
    keys = {}
    for _, k in node.events("key"):
        if "key_hex" in k:
            keys[k["identity"]] = (k["key_hex"], k["index"])
    return keys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--sizes", default="160x120@15,640x360@30", help="publisher video WxH@FPS list")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--window", type=float, default=12.0, help="CPU sampling window, s")
    ap.add_argument("--settle", type=float, default=5.0, help="wait after publishers change, s")
    ap.add_argument("--max-load", type=float, default=1.5,
                    help="first wait (up to --max-wait s) for the 1-min load average to drop below this")
    ap.add_argument("--max-wait", type=float, default=0, help="seconds to wait for --max-load (default 0)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    for b in (LK_PYTHON, LK_PEER, JS_PEER):
        if not b.exists():
            raise SystemExit(f"missing {b} (scripts/setup-peers.sh)")

    wait_for_quiet(args.max_load, args.max_wait)
    stack = Stack(args.build, keep=args.keep)
    bridge = KeyBridge()
    results = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        stack.start()
        log(f"load average before: {loadavg()}")
        # ---- Matrix side: js-sdk members (one per Python participant) and the CLI's user ------------
        stack.login("rmx", "rmx")
        js_names = ["jsrecv", "jspub1", "jspub2", "jspub3"]
        js = {n: stack.register_js(n) for n in js_names}
        owner = js["jsrecv"]
        # An encrypted room where members may write call memberships (as the interop test makes it).
        room = http_json("POST", f"{stack.hs_url}/_matrix/client/v3/createRoom", {
            "preset": "private_chat", "name": "cpu bench",
            "invite": [stack.user_id("rmx")] + [js[n]["user_id"] for n in js_names[1:]],
            "power_level_content_override": {"events": {"org.matrix.msc3401.call.member": 0}},
            "initial_state": [{"type": "m.room.encryption", "state_key": "",
                               "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}, owner["access_token"])["room_id"]
        stack.cli("rmx", "-q", "join-room", room)
        nodes = {}
        for n in js_names:
            cfg = stack.dir / f"{n}.json"
            cfg.write_text(json.dumps({
                "baseUrl": stack.hs_url, "userId": js[n]["user_id"], "deviceId": js[n]["device_id"],
                "accessToken": js[n]["access_token"], "roomId": room,
                "focus": {"type": "livekit", "livekit_service_url": stack.auth_url, "livekit_alias": room},
                "exposeKeys": True, "timeoutMs": 3_600_000}))
            os.chmod(cfg, 0o600)
            nodes[n] = stack.spawn(n, ["node", str(JS_PEER), str(cfg)])
            # One at a time: jsrecv's membership is the oldest (the call's focus), and js-sdk's
            # start-up (wasm crypto) is heavy on 2 cores.
            wait_until(lambda: nodes[n].events("join_state"), 90, f"{n} joining the call")
        log("js-sdk members joined; starting receiver A (mxrtc CLI)")
        cli = stack.spawn("mxrtc", stack.cli_argv(
            "rmx", "--json", "join-call", room, "--focus", stack.auth_url, "--media", "test", "--e2ee",
            "--stats-interval", "1"))
        ident = {n: f"{js[n]['user_id']}:{js[n]['device_id']}" for n in js_names}

        def cli_identity():
            e = [j for _, j in cli.events("own_key")]
            return e[-1]["identity"] if e else None

        mx_identity = wait_until(cli_identity, 30, "the CLI's own key")
        wait_until(lambda: {j.get("identity") for _, j in cli.events("key_received")} >= set(ident.values()),
                   60, "the CLI receiving every js-sdk member's key")
        wait_until(lambda: set(latest_keys(nodes["jsrecv"])) >= set(ident.values()) | {mx_identity}, 60,
                   "js-sdk (jsrecv) having every key")
        lk_room = lk_room_alias(room)
        rooms = {j.get("lk_room") for j in stack.auth_log() if j.get("msg") == "request"}
        if lk_room not in rooms:
            raise RuntimeError(f"LiveKit room {lk_room} not in mxrtc-auth's log ({rooms})")
        time.sleep(2)  # let js-sdk's join-time key rotations, if any, happen before we copy keys

        keys = latest_keys(nodes["jsrecv"])
        lk_argv = [str(LK_PYTHON), str(RECEIVER), "--url", stack.lk_url,
                   "--token", stack.lk_token(ident["jsrecv"], lk_room), "--e2ee",
                   "--publish-audio", "523", "--publish-video", "160x120"]
        for identity, (hex_key, index) in keys.items():
            lk_argv += ["--key", f"{identity}={hex_key}@{index}"]
        log("starting receiver B (LiveKit Python SDK, lk_peer.py via lk_bench_receiver.py)")
        py = stack.spawn("lk_peer", lk_argv, stdin=True)
        bridge.route(nodes["jsrecv"], py, own_only=False)
        wait_until(lambda: py.events("joined"), 30, "lk_peer joining")

        publishers: dict[str, object] = {}

        def start_pub(n: str, size: str, fps: int) -> None:
            hex_key, index = latest_keys(nodes[n])[ident[n]]
            p = stack.spawn(f"{n}-{size}", [
                str(LK_PYTHON), str(PUBLISHER), "--url", stack.lk_url, "--token", stack.lk_token(ident[n], lk_room),
                "--key", f"{hex_key}@{index}", "--hz", str(300 + 100 * int(n[-1])), "--size", size,
                "--fps", str(fps)], stdin=True)
            bridge.route(nodes[n], p, own_only=True)
            publishers[n] = p

        def stop_pub(n: str) -> None:
            p = publishers.pop(n)
            bridge.unroute(p)
            p.send("leave")
            if p.wait(10) is None:
                log(f"{p.name} did not leave in 10 s; terminating it")
            stack.forget(p)

        def cli_counts(identity: str):
            """(time, report) of the CLI's latest media report about `identity` (arrival time)."""
            last = None
            for t, j in cli.events("media"):
                if j.get("identity") == identity:
                    last = (t, j)
            return last

        def py_counts(identity: str):
            """(time, stats) of lk_peer's latest stats line about `identity` (its own "t")."""
            last = None
            for _, j in py.events("stats"):
                if j.get("identity") == identity:
                    last = (j["t"] / 1000, j)
            return last

        def rate(b, a, field: str):
            if not a or not b or a[0] <= b[0]:
                return None
            return round((a[1][field] - b[1][field]) / (a[0] - b[0]), 1)

        def window(label: str, pubs: list[str]) -> dict:
            before = {i: (cli_counts(ident[i]), py_counts(ident[i])) for i in pubs}
            la0 = loadavg()
            t0 = time.monotonic()
            m0, o0 = machine_busy_seconds(), stack.own_cpu_seconds()
            c0 = {"mxrtc": cpu_seconds(cli.pid), "libwebrtc": cpu_seconds(py.pid)}
            time.sleep(args.window)
            c1 = {"mxrtc": cpu_seconds(cli.pid), "libwebrtc": cpu_seconds(py.pid)}
            m1, o1 = machine_busy_seconds(), stack.own_cpu_seconds()
            dt = time.monotonic() - t0
            # What the machine did besides this bench (other jobs on the shared box), % of one core.
            others = round(((m1 - m0) - (o1 - o0)) / dt * 100)
            ours = round((o1 - o0) / dt * 100)
            after = {i: (cli_counts(ident[i]), py_counts(ident[i])) for i in pubs}
            decoded = {}
            for i in pubs:
                (mb, pb), (ma, pa) = before[i], after[i]
                decoded[i] = {
                    "mxrtc_fps": rate(mb, ma, "video_frames"),
                    "mxrtc_audio_per_s": rate(mb, ma, "audio_buffers"),
                    "mxrtc_decrypt_failures": (ma[1]["decrypt_failures"] - mb[1]["decrypt_failures"]) if ma and mb else None,
                    "libwebrtc_fps": rate(pb, pa, "video_frames"),
                    "libwebrtc_audio_per_s": rate(pb, pa, "audio_frames"),
                    "libwebrtc_size": f"{pa[1]['width']}x{pa[1]['height']}" if pa else None,
                }
            w = {"label": label, "k": len(pubs), "loadavg": f"{la0} -> {loadavg()}",
                 "bench_cpu_pct": ours, "other_jobs_cpu_pct": others,
                 "cpu_pct": {k: round((c1[k] - c0[k]) / dt * 100, 1) for k in c0}, "decoded": decoded}
            log(f"  {label}: mxrtc {w['cpu_pct']['mxrtc']:5.1f} %  libwebrtc {w['cpu_pct']['libwebrtc']:5.1f} %  "
                f"(load {w['loadavg']}; whole bench {ours} %, other jobs {others} % of one core)")
            for i, d in decoded.items():
                log(f"      {i}: mxrtc {d['mxrtc_fps']} fps {d['mxrtc_audio_per_s']} audio/s "
                    f"(decrypt failures {d['mxrtc_decrypt_failures']}); libwebrtc {d['libwebrtc_fps']} fps "
                    f"{d['libwebrtc_audio_per_s']} audio/s {d['libwebrtc_size']}")
            return w

        for spec in args.sizes.split(","):
            size, _, fps = spec.partition("@")
            fps = int(fps or 15)
            log(f"== publishers at {size}@{fps}")
            start_pub("jspub1", size, fps)
            time.sleep(args.settle)
            for rep in range(1, args.reps + 1):
                for n in ("jspub2", "jspub3"):
                    if n in publishers:
                        stop_pub(n)
                time.sleep(args.settle)
                w1 = window(f"{size}@{fps} rep {rep} K=1", ["jspub1"])
                for n in ("jspub2", "jspub3"):
                    start_pub(n, size, fps)
                time.sleep(args.settle)
                w3 = window(f"{size}@{fps} rep {rep} K=3", ["jspub1", "jspub2", "jspub3"])
                results.append({"size": f"{size}@{fps}", "rep": rep, "k1": w1, "k3": w3})
            for n in list(publishers):
                stop_pub(n)
            time.sleep(2)
        for name, p in (("mxrtc", cli), ("lk_peer", py)):
            if not p.alive():
                raise RuntimeError(f"{name} died during the run:\n{p.tail()}")
        log(f"load average after: {loadavg()}")
    except Exception:
        for p in stack.procs:
            print(p.tail(15), file=sys.stderr)
        raise
    finally:
        bridge.stop.set()
        stack.close()

    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def report(results: list[dict]) -> None:
    print("\n== CPU per subscribed audio+video track pair = (cpu(K=3) - cpu(K=1)) / 2, % of one core")
    print(f"   {'publishers':14s} {'rep':>3s}  {'mxrtc K1':>8s} {'K3':>6s} {'/track':>7s}   "
          f"{'libwebrtc K1':>12s} {'K3':>6s} {'/track':>7s}   {'ratio':>5s}  load (1 min) K1 / K3   "
          "other jobs % K1 / K3")
    for size in dict.fromkeys(r["size"] for r in results):
        rs = [r for r in results if r["size"] == size]
        per = {"mxrtc": [], "libwebrtc": []}
        for r in rs:
            a1, a3 = r["k1"]["cpu_pct"], r["k3"]["cpu_pct"]
            m = (a3["mxrtc"] - a1["mxrtc"]) / 2
            p = (a3["libwebrtc"] - a1["libwebrtc"]) / 2
            per["mxrtc"].append(m)
            per["libwebrtc"].append(p)
            ratio = f"{m / p:5.2f}" if p > 0 else "    -"
            print(f"   {size:14s} {r['rep']:3d}  {a1['mxrtc']:8.1f} {a3['mxrtc']:6.1f} {m:7.1f}   "
                  f"{a1['libwebrtc']:12.1f} {a3['libwebrtc']:6.1f} {p:7.1f}   {ratio}  "
                  f"{r['k1']['loadavg'].split()[0]} / {r['k3']['loadavg'].split()[0]}   "
                  f"{r['k1']['other_jobs_cpu_pct']} / {r['k3']['other_jobs_cpu_pct']}")
        m, p = statistics.median(per["mxrtc"]), statistics.median(per["libwebrtc"])
        ratio = f"{m / p:5.2f}" if p > 0 else "    -"
        print(f"   {size:14s} med  {'':8s} {'':6s} {m:7.1f}   {'':12s} {'':6s} {p:7.1f}   {ratio}")


if __name__ == "__main__":
    sys.exit(main())
