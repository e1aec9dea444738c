#!/usr/bin/env bash
# Builds the API reference of the public headers with Doxygen (HTML in BUILD_DIR/docs/html).
# Warnings are errors: a broken reference, a bad @param name or malformed markup fails the run.
# Only configures BUILD_DIR (nothing is compiled).
#
#   usage: scripts/docs.sh [BUILD_DIR]     (default: build-docs)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-docs}
command -v doxygen >/dev/null || { echo "docs: doxygen is not installed (scripts/install-deps.sh)" >&2; exit 1; }
cmake -S "$root" -B "$build" -G Ninja -DMXRTC_BUILD_TESTS=OFF -DMXRTC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target docs
echo "docs: $build/docs/html/index.html ($(find "$build/docs/html" -name '*.html' | wc -l) pages, no warnings)"
