#!/usr/bin/env bash
# Runs every fuzz_* binary in BUILD_DIR for SECONDS each over a scratch copy of its seed corpus
# (fuzz/corpus/<name>/), so new inputs never land in the repo. Fails on the first crash.
# Usage: scripts/fuzz.sh BUILD_DIR [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-60}
shopt -s nullglob
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
count=0
for bin in "$build"/fuzz_*; do
  [[ -x "$bin" && -f "$bin" ]] || continue
  name=${bin##*/fuzz_}
  mkdir -p "$scratch/$name"
  seeds=()
  [[ -d "$root/fuzz/corpus/$name" ]] && seeds=("$root/fuzz/corpus/$name")
  echo "fuzz: $name for ${seconds}s"
  (cd "$scratch" && "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$scratch/$name-" \
      "$scratch/$name" "${seeds[@]}" 2>"$scratch/$name.log") || {
    tail -n 60 "$scratch/$name.log"
    echo "fuzz: $name FAILED (artifacts above)"
    exit 1
  }
  grep -E 'stat::number_of_executed_units' "$scratch/$name.log" | sed "s/^/fuzz: $name /"
  count=$((count + 1))
done
echo "fuzz: $count targets ran clean"
