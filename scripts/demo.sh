#!/usr/bin/env bash
# The main job: a real three-party end-to-end encrypted mesh call on the local stack.
#   1. installs the dependencies and a pinned Synapse (venv), builds mxrtc (with GStreamer)
#   2. starts a throwaway Synapse on 127.0.0.1 (SQLite, delayed events on)
#   3. registers alice, bob and carol; alice creates a room and invites the others
#   4. alice joins a full-mesh call (--focus mesh) sending a test tone and pattern; bob rings her
#      and joins; carol joins. Each pair connects webrtcbin peers on 127.0.0.1, signalled over
#      Olm-encrypted to-device messages; every frame is encrypted with media keys exchanged
#      over Olm. Each participant prints what it decodes from each other one every 2 s.
#   5. carol leaves: alice and bob rotate their keys (she gets none); then everyone leaves
#   6. prints the room's call history, read back from the homeserver
# Everything lives in a temporary directory that is removed at the end. Extra arguments go to
# every mxrtc invocation (e.g. --json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh >/dev/null
bash scripts/synapse/install.sh "$root/.venv-synapse" >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build mxrtc >/dev/null

work=$(mktemp -d)
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  bash scripts/synapse/stop.sh "$work/hs" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting Synapse on 127.0.0.1"
MXRTC_SYNAPSE_VENV="$root/.venv-synapse" bash scripts/synapse/start.sh "$work/hs" >/dev/null
# shellcheck disable=SC1091
source "$work/hs/env"
mx() { local who=$1; shift; ./build/bin/mxrtc --profile "$work/$who" "$@"; }

echo "== registering alice, bob and carol at $MXRTC_SYNAPSE_URL"
for who in alice bob carol; do
  mx "$who" -q login --register --homeserver "$MXRTC_SYNAPSE_URL" --user "$who" --password demo-pw "$@"
done
room=$(mx alice -q create-room --name "mxrtc demo" --invite "@bob:$MXRTC_SYNAPSE_SERVER_NAME" \
  --invite "@carol:$MXRTC_SYNAPSE_SERVER_NAME")
mx bob -q join-room "$room" >/dev/null
mx carol -q join-room "$room" >/dev/null
echo "== room $room"

call() {  # who, seconds
  mx "$1" "${@:3}" join-call "$room" --focus mesh --media test --e2ee --stats-interval 2 --duration "$2" 2>&1 |
    sed -u "s/^/   $(printf '%-5s' "$1") | /"
}
echo "== alice joins a mesh call (E2EE, test tone + pattern)"
call alice 16 "$@" &
pids=($!)
sleep 2
echo "== bob rings alice and joins"
mx bob -q "$@" ring "$room" --to "@alice:$MXRTC_SYNAPSE_SERVER_NAME" --lifetime 5000 | sed -u 's/^/   bob   | /'
call bob 12 "$@" &
pids+=($!)
sleep 1
echo "== carol joins, and leaves after 6 s (the others rotate their media keys)"
call carol 6 "$@"
wait "${pids[@]}" || true
pids=()
echo
echo "== call history of $room, as the homeserver has it"
mx alice -q "$@" history "$room"
