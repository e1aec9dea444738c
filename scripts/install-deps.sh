#!/usr/bin/env bash
# Installs every Debian package mxrtc needs to build and test. Idempotent: a second run does nothing
# but check. Needs root (or sudo) on Debian bookworm.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl ccache
  libboost1.81-dev libssl-dev nlohmann-json3-dev libolm-dev libsqlite3-dev
  libcli11-dev libspdlog-dev libfmt-dev protobuf-compiler libprotobuf-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang clang-format libclang-rt-14-dev llvm
  python3 python3-venv doxygen file
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice gstreamer1.0-tools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
