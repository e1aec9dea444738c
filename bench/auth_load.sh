#!/usr/bin/env bash
# auth_load.sh [BUILD_DIR]: end-to-end load on mxrtc-auth over loopback with the OpenID cache warm.
#
#   * a stub homeserver (python3, 127.0.0.1) answers the one userinfo lookup that warms the cache;
#   * mxrtc-auth runs pinned to ONE core (taskset -c $SERVER_CPU), access log on (info) unless
#     LOG_LEVEL says otherwise, rate limiting off;
#   * wrk (apt: wrk) runs on the other core(s) with keep-alive connections, POSTing the same
#     /sfu/get (then /get_token) body: every request is parsed, authorised from the cache, gets a
#     freshly signed JWT and is logged.
# Prints wrk's summary (req/s, latency percentiles) for each endpoint.
#
# Env: DURATION (s, default 10), CONNECTIONS (default 32), SERVER_CPU (0), CLIENT_CPUS (1),
#      LOG_LEVEL (info), WRK (wrk), RUNS (runs per endpoint, default 1; on a shared machine take
#      several and read the best: other tenants' load only ever makes the numbers worse).
set -euo pipefail
build="${1:-build}"
bin="$build/bin/mxrtc-auth"
[[ -x "$bin" ]] || { echo "auth_load.sh: $bin not found (build target mxrtc-auth)" >&2; exit 1; }
wrk="${WRK:-wrk}"
command -v "$wrk" >/dev/null || { echo "auth_load.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
duration="${DURATION:-10}"
conns="${CONNECTIONS:-32}"
server_cpu="${SERVER_CPU:-0}"
client_cpus="${CLIENT_CPUS:-1}"
level="${LOG_LEVEL:-info}"

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Stub homeserver: GET /_matrix/federation/v1/openid/userinfo -> {"sub": "@bench:bench.localhost"}.
cat > "$tmp/hs.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"sub": "@bench:bench.localhost"}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$tmp/hs.py" "$tmp/hs.port" & pids+=($!)
for _ in $(seq 100); do [[ -s "$tmp/hs.port" ]] && break; sleep 0.05; done
hs_port="$(cat "$tmp/hs.port")"

LIVEKIT_URL=wss://sfu.bench.localhost LIVEKIT_KEY=benchkey LIVEKIT_SECRET=bench-secret-bench-secret-bench-secret \
LIVEKIT_FULL_ACCESS_HOMESERVERS=other.localhost LIVEKIT_JWT_BIND=127.0.0.1:0 \
MXRTC_AUTH_HOMESERVER_URLS="bench.localhost=http://127.0.0.1:$hs_port" MXRTC_AUTH_RATE_LIMIT=off \
    taskset -c "$server_cpu" "$bin" --log-level "$level" --port-file "$tmp/auth.port" 2> "$tmp/auth.log" & pids+=($!)
for _ in $(seq 100); do [[ -s "$tmp/auth.port" ]] && break; sleep 0.05; done
port="$(cat "$tmp/auth.port")"

token='{"access_token":"bench-openid-token-0123456789","token_type":"Bearer","matrix_server_name":"bench.localhost","expires_in":3600}'
legacy="{\"room\":\"!room:bench.localhost\",\"openid_token\":$token,\"device_id\":\"BENCHDEV\"}"
current="{\"room_id\":\"!room:bench.localhost\",\"slot_id\":\"m.call#ROOM\",\"openid_token\":$token,\"member\":{\"id\":\"8f6c1b2a-0d7e-4c55-9a3e-2b1f0e9d4c11\",\"claimed_user_id\":\"@bench:bench.localhost\",\"claimed_device_id\":\"BENCHDEV\"}}"

for endpoint in sfu/get get_token; do
    body="$legacy"; [[ "$endpoint" == get_token ]] && body="$current"
    printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' "$body" > "$tmp/post.lua"
    # Warm the cache (one real userinfo lookup) and check the answer.
    code="$(curl -s -o "$tmp/warm.json" -w '%{http_code}' -X POST --data-binary "$body" "http://127.0.0.1:$port/$endpoint")"
    [[ "$code" == 200 ]] || { echo "warm-up /$endpoint failed: HTTP $code $(cat "$tmp/warm.json")" >&2; cat "$tmp/auth.log" >&2; exit 1; }
    echo "== POST /$endpoint: mxrtc-auth on CPU $server_cpu (log level $level), wrk on CPU $client_cpus, $conns connections, ${duration}s"
    for run in $(seq "${RUNS:-1}"); do
        echo "-- run $run (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        taskset -c "$client_cpus" "$wrk" -t1 -c"$conns" -d"${duration}s" --latency -s "$tmp/post.lua" \
            "http://127.0.0.1:$port/$endpoint" | grep -E 'Latency  |50%|90%|99%|Requests/sec|requests in|Socket errors|Non-2xx'
    done
done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^mxrtc_auth_(openid_cache_(hits|misses)_total|openid_verifications_total|requests_total\{endpoint="(sfu_get|get_token)")'
