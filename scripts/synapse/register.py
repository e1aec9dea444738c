#!/usr/bin/env python3
"""Registers a user on the test Synapse started by start.sh, or logs in if it exists.

usage: register.py STATE_DIR USERNAME PASSWORD [--admin]

Reads STATE_DIR/env (MXRTC_SYNAPSE_URL, MXRTC_SYNAPSE_SHARED_SECRET), registers through the
shared-secret admin API (GET then POST /_synapse/admin/v1/register, HMAC-SHA1 mac) and prints one
JSON line: {"user_id": ..., "access_token": ..., "device_id": ..., "home_server": ...}.
If the user exists (M_USER_IN_USE) it logs in with m.login.password instead (a new device each
time) and prints the same shape. Errors: one line on stderr, exit 1 (2 for usage).
Standard library only.
"""

import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 30
# Loopback only: never send these requests through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fail(msg: str, code: int = 1) -> "None":
    print(f"register.py: error: {msg}", file=sys.stderr)
    sys.exit(code)


def read_env(state_dir: str) -> dict:
    path = os.path.join(state_dir, "env")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(f"cannot read {path} ({e.strerror}); is Synapse started (scripts/synapse/start.sh)?")
    env = {}
    for line in lines:
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    for key in ("MXRTC_SYNAPSE_URL", "MXRTC_SYNAPSE_SHARED_SECRET"):
        if not env.get(key):
            fail(f"{path} has no {key}")
    return env


def request(method: str, url: str, body: "dict | None" = None) -> "tuple[int, dict]":
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(req, timeout=TIMEOUT_S) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"{}")
        except ValueError:
            return e.code, {"errcode": "M_UNKNOWN", "error": raw.decode(errors="replace")[:200]}
    except (urllib.error.URLError, OSError) as e:
        fail(f"{method} {url}: {getattr(e, 'reason', e)}")
    except ValueError as e:
        fail(f"{method} {url}: response is not JSON ({e})")
    raise AssertionError("unreachable")


def describe(status: int, body: dict) -> str:
    return f"HTTP {status} {body.get('errcode', '')}: {body.get('error', json.dumps(body))}"


def register(base: str, secret: str, user: str, password: str, admin: bool) -> "tuple[int, dict]":
    url = f"{base}/_synapse/admin/v1/register"
    status, body = request("GET", url)
    if status != 200 or "nonce" not in body:
        fail(f"GET {url}: {describe(status, body)}")
    nonce = body["nonce"]
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(nonce.encode() + b"\x00" + user.encode() + b"\x00" + password.encode() + b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    return request(
        "POST",
        url,
        {
            "nonce": nonce,
            "username": user,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        },
    )


def login(base: str, user: str, password: str) -> dict:
    url = f"{base}/_matrix/client/v3/login"
    status, body = request(
        "POST",
        url,
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        },
    )
    if status != 200:
        fail(f"user {user} exists and login failed: {describe(status, body)}")
    return body


def main(argv: "list[str]") -> None:
    args = [a for a in argv if a != "--admin"]
    admin = len(args) != len(argv)
    if len(args) != 3 or any(a.startswith("-") for a in args):
        fail("usage: register.py STATE_DIR USERNAME PASSWORD [--admin]", 2)
    state_dir, user, password = args
    env = read_env(state_dir)
    base = env["MXRTC_SYNAPSE_URL"].rstrip("/")

    status, body = register(base, env["MXRTC_SYNAPSE_SHARED_SECRET"], user, password, admin)
    if status != 200:
        if body.get("errcode") == "M_USER_IN_USE":
            body = login(base, user, password)
        else:
            fail(f"register {user}: {describe(status, body)}")
    server = env.get("MXRTC_SYNAPSE_SERVER_NAME") or body["user_id"].split(":", 1)[1]
    out = {
        "user_id": body["user_id"],
        "access_token": body["access_token"],
        "device_id": body["device_id"],
        "home_server": body.get("home_server", server),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
