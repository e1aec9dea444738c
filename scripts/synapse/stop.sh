#!/usr/bin/env bash
# Stops the Synapse started by start.sh from STATE_DIR: SIGTERM, wait up to 10 s, then SIGKILL.
#   usage: scripts/synapse/stop.sh STATE_DIR
# Idempotent: exits 0 when nothing runs. Removes STATE_DIR/env (it no longer describes a server).
# Only signals processes whose command line names STATE_DIR/hs.yaml, so a stale pid file can never
# hit an unrelated process.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 STATE_DIR" >&2
  exit 2
fi
if [[ ! -d "$1" ]]; then
  echo "synapse-stop: $1 does not exist, nothing to stop"
  exit 0
fi
state=$(cd "$1" && pwd)

ours() { # ours PID: is PID a live Synapse started with $state/hs.yaml?
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$state/hs.yaml"
}

pids=()
for f in hs.pid launcher.pid; do
  if [[ -s "$state/$f" ]]; then
    p=$(tr -dc '0-9' <"$state/$f")
    if [[ -n $p ]] && ours "$p"; then pids+=("$p"); fi
  fi
done
if [[ -s "$state/env" ]]; then
  p=$(sed -n 's/^MXRTC_SYNAPSE_PID=//p' "$state/env" | tr -dc '0-9')
  if [[ -n $p ]] && ours "$p"; then pids+=("$p"); fi
fi

# also any Synapse started on this state dir whose pid files were lost
for f in /proc/[0-9]*/cmdline; do
  p=${f#/proc/}; p=${p%/cmdline}
  if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "-m synapse.app.homeserver -c $state/hs.yaml"; then
    pids+=("$p")
  fi
done

if ((${#pids[@]} == 0)); then
  echo "synapse-stop: no Synapse running for $state"
  rm -f "$state/hs.pid" "$state/launcher.pid" "$state/env"
  exit 0
fi
mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -u)

echo "synapse-stop: SIGTERM ${pids[*]}"
kill -TERM "${pids[@]}" 2>/dev/null || true
for _ in $(seq 1 100); do
  alive=()
  for p in "${pids[@]}"; do ours "$p" && alive+=("$p"); done
  ((${#alive[@]} == 0)) && break
  sleep 0.1
done
alive=()
for p in "${pids[@]}"; do ours "$p" && alive+=("$p"); done
if ((${#alive[@]} > 0)); then
  echo "synapse-stop: still running after 10 s, SIGKILL ${alive[*]}"
  kill -KILL "${alive[@]}" 2>/dev/null || true
  sleep 0.2
fi
rm -f "$state/hs.pid" "$state/launcher.pid" "$state/env"
echo "synapse-stop: stopped"
