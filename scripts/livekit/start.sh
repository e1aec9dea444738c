#!/usr/bin/env bash
# Starts a throwaway LiveKit SFU stack on 127.0.0.1 next to a running Synapse: livekit-server
# v1.13.5 (scripts/livekit/install.sh) and mxrtc-auth (the MatrixRTC JWT service), both on free
# ports, state and logs in STATE_DIR.
#   usage: scripts/livekit/start.sh STATE_DIR MXRTC_AUTH_BINARY SYNAPSE_ENV_FILE
#   (SYNAPSE_ENV_FILE: the env file scripts/synapse/start.sh wrote; mxrtc-auth verifies OpenID
#   tokens against that homeserver)
# Writes STATE_DIR/env: MXRTC_LIVEKIT_URL (ws://), MXRTC_AUTH_URL (the focus URL for join-call
# --focus) and the two pids. Stop with scripts/livekit/stop.sh STATE_DIR.
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 STATE_DIR MXRTC_AUTH_BINARY SYNAPSE_ENV_FILE" >&2
  exit 2
fi
[[ -s "$3" ]] || { echo "livekit-start: $3 (Synapse env file) missing: is Synapse running?" >&2; exit 1; }
# shellcheck disable=SC1090
source "$3"
: "${MXRTC_SYNAPSE_SERVER_NAME:?not in $3}" "${MXRTC_SYNAPSE_URL:?not in $3}"
mkdir -p "$1"
state=$(cd "$1" && pwd)
auth_bin=$2
lk_bin="${MXRTC_LIVEKIT_BIN:-$HOME/.cache/mxrtc/livekit/bin/livekit-server}"
[[ -x "$lk_bin" ]] || { echo "livekit-start: $lk_bin missing (run scripts/livekit/install.sh)" >&2; exit 1; }
[[ -x "$auth_bin" ]] || { echo "livekit-start: $auth_bin is not an executable" >&2; exit 1; }

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
lk_port=$(free_port 1)
lk_udp=$(free_port 2)
secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
cat >"$state/livekit.yaml" <<YAML
port: $lk_port
bind_addresses: [127.0.0.1]
rtc: {udp_port: $lk_udp, tcp_port: 0, node_ip: 127.0.0.1, use_external_ip: false, enable_loopback_candidate: true}
keys: {localkey: $secret}
room: {auto_create: false}
YAML
chmod 600 "$state/livekit.yaml"
"$lk_bin" --config "$state/livekit.yaml" >"$state/livekit.log" 2>&1 &
lk_pid=$!
rm -f "$state/auth.port"
LIVEKIT_URL="ws://127.0.0.1:$lk_port" LIVEKIT_KEY=localkey LIVEKIT_SECRET="$secret" \
  LIVEKIT_FULL_ACCESS_HOMESERVERS='*' LIVEKIT_JWT_BIND=127.0.0.1:0 \
  LIVEKIT_CS_API_URL_OVERRIDES="$MXRTC_SYNAPSE_SERVER_NAME=$MXRTC_SYNAPSE_URL" \
  MXRTC_AUTH_HOMESERVER_URLS="$MXRTC_SYNAPSE_SERVER_NAME=$MXRTC_SYNAPSE_URL" \
  "$auth_bin" --port-file "$state/auth.port" >"$state/auth.log" 2>&1 &
auth_pid=$!
printf 'MXRTC_LIVEKIT_PID=%s\nMXRTC_AUTH_PID=%s\n' "$lk_pid" "$auth_pid" >"$state/pids"
fail() {
  echo "livekit-start: $1" >&2
  tail -n 20 "$2" >&2 || true
  kill "$lk_pid" "$auth_pid" 2>/dev/null || true
  exit 1
}
for _ in $(seq 200); do [[ -s "$state/auth.port" ]] && break; sleep 0.05; done
[[ -s "$state/auth.port" ]] || fail "mxrtc-auth did not start within 10 s" "$state/auth.log"
# livekit-server answers plain HTTP on its signal port once it is up.
for _ in $(seq 200); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$lk_port" \
    2>/dev/null && break
  kill -0 "$lk_pid" 2>/dev/null || fail "livekit-server exited" "$state/livekit.log"
  sleep 0.05
done
cat >"$state/env" <<ENV
MXRTC_LIVEKIT_URL=ws://127.0.0.1:$lk_port
MXRTC_AUTH_URL=http://127.0.0.1:$(cat "$state/auth.port")
MXRTC_LIVEKIT_PID=$lk_pid
MXRTC_AUTH_PID=$auth_pid
ENV
echo "livekit-server ws://127.0.0.1:$lk_port (UDP $lk_udp), mxrtc-auth http://127.0.0.1:$(cat "$state/auth.port")"
