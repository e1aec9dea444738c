#!/usr/bin/env bash
# The main job: a real three-party end-to-end encrypted call on the local stack.
#   scripts/demo.sh [--sfu] [mxrtc options, e.g. --json]
#   1. installs the dependencies and a pinned Synapse (venv), builds mxrtc (with GStreamer)
#   2. starts a throwaway Synapse on 127.0.0.1 (SQLite, delayed events on)
#      --sfu: also livekit-server v1.13.5 and mxrtc-auth (the JWT service) on 127.0.0.1
#   3. registers alice, bob and carol; alice creates a room and invites the others
#   4. alice joins the call sending a test tone and pattern; bob rings her and joins; carol joins.
#      Default: a full mesh (--focus mesh): each pair connects webrtcbin peers, signalled over
#      Olm-encrypted to-device messages. --sfu: every participant publishes to and subscribes from
#      the LiveKit SFU, with a JWT from mxrtc-auth. Either way every frame is encrypted with media
#      keys exchanged over Olm, and each participant prints what it decodes from each other one
#      every 2 s.
#   5. carol leaves: alice and bob rotate their keys (she gets none); then everyone leaves
#   6. prints the room's call history, read back from the homeserver
# Everything lives in a temporary directory that is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sfu=0
if [[ ${1:-} == --sfu ]]; then
  sfu=1
  shift
fi
t0=$(date +%s)
stage() { echo "== [$(($(date +%s) - t0)) s] $*"; }

stage "installing Debian packages if missing (first run on a fresh machine: several minutes)"
bash scripts/install-deps.sh | sed 's/^/   /'
stage "installing Synapse into .venv-synapse if missing (first run: about a minute)"
bash scripts/synapse/install.sh "$root/.venv-synapse" >/dev/null
targets=(mxrtc)
if ((sfu)); then
  stage "building livekit-server v1.13.5 if missing (first run: 2-4 minutes, Go module proxy)"
  bash scripts/livekit/install.sh | sed 's/^/   /'
  targets+=(mxrtc-auth)
fi
stage "building ${targets[*]} (first run: about 5 minutes on 2 cores)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build "${targets[@]}" >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  bash scripts/livekit/stop.sh "$work/sfu" >/dev/null 2>&1 || true
  bash scripts/synapse/stop.sh "$work/hs" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

stage "starting Synapse on 127.0.0.1"
MXRTC_SYNAPSE_VENV="$root/.venv-synapse" bash scripts/synapse/start.sh "$work/hs" >/dev/null
# shellcheck disable=SC1091
source "$work/hs/env"
mx() { local who=$1; shift; ./build/bin/mxrtc --profile "$work/$who" "$@"; }

focus=(--focus mesh)
if ((sfu)); then
  stage "starting livekit-server and mxrtc-auth (the MatrixRTC JWT service) on 127.0.0.1"
  bash scripts/livekit/start.sh "$work/sfu" ./build/bin/mxrtc-auth "$work/hs/env" | sed 's/^/   /'
  # shellcheck disable=SC1091
  source "$work/sfu/env"
  focus=(--focus "$MXRTC_AUTH_URL")
fi

stage "registering alice, bob and carol at $MXRTC_SYNAPSE_URL"
for who in alice bob carol; do
  mx "$who" -q login --register --homeserver "$MXRTC_SYNAPSE_URL" --user "$who" --password demo-pw "$@"
done
room=$(mx alice -q create-room --name "mxrtc demo" --invite "@bob:$MXRTC_SYNAPSE_SERVER_NAME" \
  --invite "@carol:$MXRTC_SYNAPSE_SERVER_NAME")
mx bob -q join-room "$room" >/dev/null
mx carol -q join-room "$room" >/dev/null
stage "room $room"

call() {  # who, seconds
  mx "$1" "${@:3}" join-call "$room" "${focus[@]}" --media test --e2ee --stats-interval 2 --duration "$2" 2>&1 |
    sed -u "s/^/   $(printf '%-5s' "$1") | /"
}
if ((sfu)); then
  stage "alice joins the call through the LiveKit SFU (E2EE, test tone + pattern)"
else
  stage "alice joins a mesh call (E2EE, test tone + pattern)"
fi
call alice 16 "$@" &
pids=($!)
sleep 2
stage "bob rings alice and joins"
mx bob -q "$@" ring "$room" --to "@alice:$MXRTC_SYNAPSE_SERVER_NAME" --lifetime 5000 | sed -u 's/^/   bob   | /'
call bob 12 "$@" &
pids+=($!)
sleep 1
stage "carol joins, and leaves after 6 s (the others rotate their media keys)"
call carol 6 "$@"
wait "${pids[@]}" || true
pids=()
echo
stage "call history of $room, as the homeserver has it"
mx alice -q "$@" history "$room"
