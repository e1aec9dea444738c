#!/usr/bin/env bash
# The main job: sets up the build and runs the call demo.
# Today: `mxrtc inspect` reads the call-member events of a demo room (a finished two-person call,
# and a running call with a multi-SFU member, a sticky MSC4143 member, a member whose client
# crashed and whose membership expired, and an invalid event) and prints the sessions, members,
# focus and call history. Pass --json for machine-readable output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build mxrtc >/dev/null
exec ./build/bin/mxrtc "$@" inspect tests/vectors/rooms/demo_room.json
