#!/usr/bin/env bash
# install.sh [DIR]: builds livekit-server v1.13.5 with `go install` through the Go module proxy
# (spec real-peers.md §3: the only route; v1.13.5 has no `replace` directives) and installs it as
# DIR/livekit-server (default: $HOME/.cache/mxrtc/livekit/bin, outside the repository).
# Needs Go >= 1.24 (go.mod says `go 1.26`; GOTOOLCHAIN may fetch it). ~2 min on 2 cores, warm proxy.
# Idempotent: does nothing when DIR/livekit-server already reports the version.
set -euo pipefail
version="${MXRTC_LIVEKIT_VERSION:-v1.13.5}"
dir="${1:-$HOME/.cache/mxrtc/livekit/bin}"
mkdir -p "$dir"
if [[ -x "$dir/livekit-server" ]] && "$dir/livekit-server" --version 2>/dev/null | grep -q "${version#v}"; then
    echo "livekit-server ${version} already in $dir"
    exit 0
fi
command -v go >/dev/null || { echo "install.sh: go not found" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
CGO_ENABLED=0 GOBIN="$tmp" go install "github.com/livekit/livekit-server/cmd/server@${version}"
mv "$tmp/server" "$dir/livekit-server"
echo "livekit-server ${version} installed in $dir ($(( $(date +%s) - start )) s)"
