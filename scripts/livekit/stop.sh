#!/usr/bin/env bash
# Stops what scripts/livekit/start.sh started from STATE_DIR (SIGTERM, then SIGKILL after 5 s).
#   usage: scripts/livekit/stop.sh STATE_DIR      (idempotent)
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[[ -s "$1/pids" ]] || exit 0
pids=$(sed -n 's/^MXRTC_[A-Z]*_PID=//p' "$1/pids" | tr -dc '0-9\n')
for p in $pids; do kill "$p" 2>/dev/null || true; done
for _ in $(seq 50); do
  alive=0
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  ((alive)) || break
  sleep 0.1
done
for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
rm -f "$1/pids" "$1/env"
