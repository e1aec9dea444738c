"""The local LiveKit call stack for the bench/livekit_*.py measurements (standard library only).

What scripts/demo.sh --sfu starts, as a Python object: a throwaway Synapse (scripts/synapse/start.sh,
venv .venv-synapse), livekit-server v1.13.5 on 127.0.0.1 (loopback-only ICE, rooms created by the
JWT service), and mxrtc-auth as the MatrixRTC JWT service. Plus child processes whose output lines
are timestamped (wall clock, time.time()) as they arrive, so events of different processes and
the services' logs line up on one time axis.

Every process started here is ended by Stack.close() (SIGTERM, then SIGKILL after a grace period),
which the scripts call from `finally`; children also get PR_SET_PDEATHSIG, so they die with the
driver even if it is killed with SIGKILL. Synapse runs in its own session (start.sh) and is stopped
by scripts/synapse/stop.sh.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LK_HOME = Path.home() / ".cache" / "mxrtc" / "livekit"
LK_SERVER = LK_HOME / "bin" / "livekit-server"
LK_PYTHON = LK_HOME / "venv" / "bin" / "python"
LK_PEER = ROOT / "tests" / "livekit" / "lk_peer.py"
JS_PEER = ROOT / "interop" / "rtc_session_peer.mjs"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_for_quiet(max_load: float, max_wait_s: float) -> None:
    """Wait (up to max_wait_s) until the 1-minute load average is below max_load; warn if it is not."""
    deadline = time.monotonic() + max_wait_s
    while float(loadavg().split()[0]) >= max_load and time.monotonic() < deadline:
        time.sleep(10)
    if float(loadavg().split()[0]) >= max_load:
        log(f"WARNING: load average {loadavg()} >= {max_load}: other jobs compete for the CPU, "
            "figures will be noisy; re-run at a quieter moment")


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine have used (all cores, /proc/stat), in seconds."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Proc:
    """A child process whose stdout/stderr lines are kept with their arrival time (time.time())."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None, stdin: bool = False,
                 logdir: Path | None = None) -> None:
        self.name = name
        self.t_start = time.time()
        self.p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent,
        )
        self.pid = self.p.pid
        self.out: list[tuple[float, str]] = []
        self.err: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._logs = [open(logdir / f"{name}.{s}", "w") if logdir else None for s in ("out", "err")]
        for stream, sink, f in ((self.p.stdout, self.out, self._logs[0]), (self.p.stderr, self.err, self._logs[1])):
            threading.Thread(target=self._read, args=(stream, sink, f), daemon=True).start()

    def _read(self, stream, sink, f) -> None:
        for raw in iter(stream.readline, b""):
            t = time.time()
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                sink.append((t, line))
            if f:
                f.write(f"{t:.3f} {line}\n")
                f.flush()

    def events(self, name: str | None = None, stream: str = "out") -> list[tuple[float, dict]]:
        """JSON objects on stdout (or stderr) with their arrival time, optionally only "event" == name."""
        with self._lock:
            lines = list(self.out if stream == "out" else self.err)
        result = []
        for t, line in lines:
            if not line.startswith("{"):
                continue
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if name is None or j.get("event") == name:
                result.append((t, j))
        return result

    def stderr_lines(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.err)

    def send(self, line: str) -> None:
        if self.p.stdin and self.alive():
            try:
                self.p.stdin.write((line + "\n").encode())
                self.p.stdin.flush()
            except BrokenPipeError:
                pass

    def alive(self) -> bool:
        return self.p.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        if self.alive():
            self.p.send_signal(sig)
            if self.wait(grace) is None:
                self.p.kill()
                self.p.wait(5)
        for f in self._logs:
            if f:
                f.close()
        self._logs = [None, None]

    def tail(self, n: int = 30) -> str:
        with self._lock:
            lines = [l for _, l in self.out[-n:]] + ["-- stderr --"] + [l for _, l in self.err[-n:]]
        return "\n".join(f"  {self.name}| {l}" for l in lines)


def wait_until(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Stack:
    """Synapse + livekit-server + mxrtc-auth on 127.0.0.1, and the processes started through it."""

    def __init__(self, build: str = "build", keep: bool = False) -> None:
        self.build = (ROOT / build).resolve()
        self.cli_bin = self.build / "bin" / "mxrtc"
        self.auth_bin = self.build / "bin" / "mxrtc-auth"
        for b in (self.cli_bin, self.auth_bin, LK_SERVER):
            if not b.exists():
                raise SystemExit(f"missing {b} (build targets mxrtc mxrtc-auth; scripts/livekit/install.sh)")
        self.keep = keep
        self.dir = Path(tempfile.mkdtemp(prefix="mxrtc-lkbench-"))
        self.logdir = self.dir / "logs"
        self.logdir.mkdir()
        self.procs: list[Proc] = []
        self.hs_env: dict[str, str] = {}
        self.auth_url = ""
        self.lk_url = ""
        self.lk_key = "benchkey"
        self.lk_secret = secrets.token_hex(24)

    # ---- services --------------------------------------------------------------------------

    def start(self) -> None:
        log(f"starting Synapse on 127.0.0.1 (state in {self.dir}/hs)")
        subprocess.run(["bash", str(ROOT / "scripts/synapse/start.sh"), str(self.dir / "hs")],
                       env={**os.environ, "MXRTC_SYNAPSE_VENV": str(ROOT / ".venv-synapse")},
                       check=True, stdout=subprocess.DEVNULL)
        for line in (self.dir / "hs" / "env").read_text().splitlines():
            k, _, v = line.partition("=")
            self.hs_env[k] = v
        self.hs_url = self.hs_env["MXRTC_SYNAPSE_URL"]
        self.server_name = self.hs_env["MXRTC_SYNAPSE_SERVER_NAME"]

        lk_port, lk_udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
        (self.dir / "livekit.yaml").write_text(
            f"port: {lk_port}\n"
            "bind_addresses: [127.0.0.1]\n"
            f"rtc: {{udp_port: {lk_udp}, tcp_port: 0, node_ip: 127.0.0.1, use_external_ip: false,"
            " enable_loopback_candidate: true, interfaces: {includes: [lo]}, ips: {includes: [127.0.0.1/32]}}\n"
            f"keys: {{{self.lk_key}: {self.lk_secret}}}\n"
            "room: {auto_create: false}\n"
            "logging: {level: info}\n")
        self.lk_url = f"ws://127.0.0.1:{lk_port}"
        log(f"starting livekit-server on {self.lk_url} (media on UDP {lk_udp})")
        self.lk = self.spawn("livekit", [str(LK_SERVER), "--config", str(self.dir / "livekit.yaml")])
        wait_until(lambda: self._http_ok(f"http://127.0.0.1:{lk_port}/"), 20, "livekit-server")

        port_file = self.dir / "auth.port"
        self.auth = self.spawn("mxrtc-auth", [str(self.auth_bin), "--port-file", str(port_file)], env={
            "LIVEKIT_URL": self.lk_url, "LIVEKIT_KEY": self.lk_key, "LIVEKIT_SECRET": self.lk_secret,
            "LIVEKIT_FULL_ACCESS_HOMESERVERS": "*", "LIVEKIT_JWT_BIND": "127.0.0.1:0",
            "LIVEKIT_CS_API_URL_OVERRIDES": f"{self.server_name}={self.hs_url}",
            "MXRTC_AUTH_HOMESERVER_URLS": f"{self.server_name}={self.hs_url}",
            "MXRTC_AUTH_RATE_LIMIT": "off"})
        wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 10, "mxrtc-auth")
        self.auth_url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        log(f"mxrtc-auth (JWT service) at {self.auth_url}")

    @staticmethod
    def _http_ok(url: str) -> bool:
        try:
            with _OPENER.open(url, timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def close(self) -> None:
        for p in reversed(self.procs):
            try:
                p.stop(signal.SIGTERM, grace=8)
            except Exception as e:  # keep cleaning up
                log(f"stopping {p.name}: {e}")
        self.procs.clear()
        subprocess.run(["bash", str(ROOT / "scripts/synapse/stop.sh"), str(self.dir / "hs")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.keep:
            log(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- processes -------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict | None = None, stdin: bool = False) -> Proc:
        p = Proc(name, argv, env=env, stdin=stdin, logdir=self.logdir)
        self.procs.append(p)
        return p

    def own_cpu_seconds(self) -> float:
        """CPU time of every process this stack runs (Synapse included)."""
        pids = [p.pid for p in self.procs if p.alive()]
        if self.hs_env.get("MXRTC_SYNAPSE_PID"):
            pids.append(int(self.hs_env["MXRTC_SYNAPSE_PID"]))
        total = 0.0
        for pid in pids:
            try:
                total += cpu_seconds(pid)
            except (OSError, ValueError):
                pass
        return total

    def forget(self, p: Proc) -> None:
        p.stop()
        if p in self.procs:
            self.procs.remove(p)

    def cli_argv(self, profile: str, *args: str) -> list[str]:
        return [str(self.cli_bin), "--profile", str(self.dir / "profiles" / profile), *args]

    def cli(self, profile: str, *args: str) -> str:
        r = subprocess.run(self.cli_argv(profile, *args), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"mxrtc {' '.join(args[:2])} failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def login(self, profile: str, user: str, register: bool = True) -> None:
        args = ["-q", "login", "--homeserver", self.hs_url, "--user", user, "--password", "bench-pw"]
        self.cli(profile, *(args + (["--register"] if register else [])))

    def register_js(self, user: str) -> dict:
        """A user (and device) for a matrix-js-sdk peer: {user_id, access_token, device_id}."""
        r = subprocess.run([self.hs_env["MXRTC_SYNAPSE_PYTHON"], self.hs_env["MXRTC_SYNAPSE_REGISTER"],
                            self.hs_env["MXRTC_SYNAPSE_STATE_DIR"], user, "bench-pw"],
                           capture_output=True, text=True, timeout=60, check=True)
        return json.loads(r.stdout)

    def user_id(self, user: str) -> str:
        return f"@{user}:{self.server_name}"

    def auth_log(self) -> list[dict]:
        """mxrtc-auth's JSON log lines (stderr, buffered: use their "ts", not the arrival time)."""
        return [j for _, j in self.auth.events(stream="err")]

    def lk_token(self, identity: str, room: str) -> str:
        """A LiveKit join token as mxrtc-auth issues it (tests/support/livekit_token.hpp)."""
        import base64
        import hashlib
        import hmac

        def b64(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        now = int(time.time())
        claims = {"iss": self.lk_key, "sub": identity, "nbf": now, "iat": now, "exp": now + 3600,
                  "video": {"roomJoin": True, "room": room, "canPublish": True, "canSubscribe": True,
                            "canUpdateOwnMetadata": True}}
        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.lk_secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(sig)}"


def lk_room_alias(room_id: str, slot: str = "m.call#ROOM") -> str:
    """The LiveKit room Element Call / mxrtc-auth use for a Matrix room's call slot."""
    import base64
    import hashlib

    digest = hashlib.sha256(json.dumps([room_id, slot], separators=(",", ":")).encode()).digest()
    return base64.b64encode(digest).rstrip(b"=").decode()


def percentile50(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
