#!/usr/bin/env bash
# The main job: a real two-member MatrixRTC call on the local stack.
#   1. installs the dependencies and a pinned Synapse (venv), builds mxrtc
#   2. starts a throwaway Synapse on 127.0.0.1 (SQLite, delayed events on)
#   3. registers alice and bob, alice creates a room and invites bob
#   4. alice joins the call; bob joins, is seen by alice, rings, and leaves; alice leaves
#   5. prints the room's call history, read back from the homeserver
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
  [[ -n "${apid:-}" ]] && kill "$apid" 2>/dev/null || true
  bash scripts/synapse/stop.sh "$work/hs" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting Synapse on 127.0.0.1"
MXRTC_SYNAPSE_VENV="$root/.venv-synapse" bash scripts/synapse/start.sh "$work/hs" >/dev/null
# shellcheck disable=SC1091
source "$work/hs/env"
mx() { local who=$1; shift; ./build/bin/mxrtc --profile "$work/$who" "$@"; }

echo "== registering alice and bob at $MXRTC_SYNAPSE_URL"
mx alice -q login --register --homeserver "$MXRTC_SYNAPSE_URL" --user alice --password demo-pw "$@"
mx bob -q login --register --homeserver "$MXRTC_SYNAPSE_URL" --user bob --password demo-pw "$@"
room=$(mx alice -q create-room --name "mxrtc demo" --invite "@bob:$MXRTC_SYNAPSE_SERVER_NAME")
mx bob -q join-room "$room" >/dev/null
echo "== room $room"

echo "== alice joins the call (her view of it follows)"
mx alice "$@" join-call "$room" --duration 12 --focus "http://127.0.0.1:8090" 2>&1 | sed -u 's/^/   alice | /' &
apid=$!
sleep 2
echo "== bob rings alice, joins for 4 s, then leaves"
mx bob -q "$@" ring "$room" --to "@alice:$MXRTC_SYNAPSE_SERVER_NAME" --lifetime 5000 | sed -u 's/^/   bob   | /'
mx bob "$@" join-call "$room" --duration 4 2>&1 | sed -u 's/^/   bob   | /'
wait "$apid" || true
apid=
echo
echo "== call history of $room, as the homeserver has it"
mx alice -q "$@" history "$room"
