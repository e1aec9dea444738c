#!/usr/bin/env bash
# Installs a build tree's SDK to a temporary prefix and uses it the way an application does:
#   1. cmake --install BUILD --prefix TMP   (headers, static libs, CMake package, .pc, the programs);
#      the installed headers must not include a private dependency (GStreamer, libolm, Beast, …)
#   2. tests/consumer (a separate CMake project) configured with -DCMAKE_PREFIX_PATH=TMP and built;
#      it must not see the source tree's headers
#   3. a one-file program compiled with `pkg-config --cflags --libs mxrtc` (PKG_CONFIG_PATH=TMP/…)
#   4. a throwaway Synapse on 127.0.0.1 (scripts/synapse/start.sh), a registered user, and the
#      consumer logging in, creating a room and joining its call for a few seconds (full-mesh focus
#      with test media and E2EE when the SDK has media, membership only otherwise), then leaving.
#
#   usage: tests/consumer/run.sh [BUILD_DIR]     (default: build; it is built if needed)
# Needs the Synapse venv (scripts/setup-peers.sh). MXRTC_CONSUMER_KEEP=1 keeps the temporary dir.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tmp=$(mktemp -d /tmp/mxrtc-consumer.XXXXXX)
t0=$(date +%s)
passed=0
step() { echo "=== consumer [$(( $(date +%s) - t0 ))s] $*"; }
ok() { passed=$((passed + 1)); echo "consumer: ok: $*"; }
cleanup() {
  local rc=$?
  if [[ -f "$tmp/synapse/env" ]]; then
    bash "$root/scripts/synapse/stop.sh" "$tmp/synapse" >/dev/null 2>&1 || true
  fi
  if ((rc != 0)); then
    [[ -f "$tmp/synapse/homeserver.log" ]] && { echo "--- last Synapse log lines"; tail -n 15 "$tmp/synapse/homeserver.log"; }
    echo "consumer: $passed passed, 1 failed"
  fi
  if [[ "${MXRTC_CONSUMER_KEEP:-0}" == 1 ]]; then echo "consumer: kept $tmp"; else rm -rf "$tmp"; fi
  exit $rc
}
trap cleanup EXIT

step "install $build to $tmp/prefix"
cmake --build "$build" --target mxrtc_call mxrtc mxrtc-auth >/dev/null
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/mxrtc/call/call.hpp include/mxrtc/version.hpp bin/mxrtc bin/mxrtc-auth; do
  [[ -e "$tmp/prefix/$f" ]] || { echo "consumer: $f was not installed" >&2; exit 1; }
done
# The installed headers include what their public interface needs (Asio, nlohmann-json) and no
# private dependency.
if leaks=$(grep -rEn '#include <(gst/|glib|olm/|sqlite3|spdlog/|boost/beast|google/protobuf|openssl/)' \
             "$tmp/prefix/include"); then
  echo "consumer: private dependencies in installed headers:" >&2
  echo "$leaks" >&2
  exit 1
fi
[[ ! -e "$tmp/prefix/include/mxrtc/auth" ]] || { echo "consumer: the daemon's headers were installed" >&2; exit 1; }
config=$(find "$tmp/prefix" -name mxrtcConfig.cmake)
pc=$(find "$tmp/prefix" -name mxrtc.pc)
echo "$(find "$tmp/prefix" -type f | wc -l) files; $(find "$tmp/prefix" -name 'libmxrtc_*.a' | wc -l) libraries; ${config#$tmp/prefix/}; ${pc#$tmp/prefix/}"
ok "install"

step "configure and build tests/consumer against the installed tree"
launcher=()
cxx=(g++)
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cxx=(ccache g++)
  export CCACHE_BASEDIR="$tmp" CCACHE_NOHASHDIR=true  # hits across runs despite the random $tmp
fi
cmake -S "$root/tests/consumer" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${launcher[@]}" >"$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build"
if grep -q -e "-I$root/include" -e "-isystem $root/include" "$tmp/build/compile_commands.json"; then
  echo "consumer: the consumer build uses the source tree's headers, not the installed ones" >&2
  exit 1
fi
ok "find_package(mxrtc) + mxrtc::call"

step "pkg-config --cflags --libs mxrtc"
cat >"$tmp/pc_check.cpp" <<'CPP'
#include <boost/asio/io_context.hpp>
#include <iostream>

#include "mxrtc/call/call.hpp"
#include "mxrtc/version.hpp"

int main() {
    boost::asio::io_context io;
    mxrtc::matrix::Client client(io.get_executor(), "http://127.0.0.1:1");  // net, OpenSSL
    const mxrtc::call::CallEvent event = mxrtc::call::Warning{};
    std::cout << "mxrtc " << mxrtc::kVersion << " " << mxrtc::call::eventName(event) << "\n";
    return client.hasAccessToken() ? 1 : 0;
}
CPP
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs mxrtc)
"${cxx[@]}" -std=c++20 -Wall -Wextra -Wno-mismatched-new-delete "$tmp/pc_check.cpp" -o "$tmp/pc_check" $flags
"$tmp/pc_check"
ok "pkg-config"

step "Synapse on 127.0.0.1"
bash "$root/scripts/synapse/start.sh" "$tmp/synapse" >"$tmp/synapse-start.log" 2>&1 \
  || { cat "$tmp/synapse-start.log"; exit 1; }
# shellcheck disable=SC1091
source "$tmp/synapse/env"
"$MXRTC_SYNAPSE_PYTHON" "$MXRTC_SYNAPSE_REGISTER" "$MXRTC_SYNAPSE_STATE_DIR" consumer consumer-password >/dev/null

args=(--seconds 3)
if [[ -f "$(dirname "$config")/mxrtcTargets.cmake" ]] && grep -q 'mxrtc::rtc' "$(dirname "$config")/mxrtcTargets.cmake"; then
  mkdir -p "$tmp/profile"  # the Olm account (E2EE) lives here
  args+=(--media test --e2ee "$tmp/profile")  # the SDK has media: a mesh call with test media, E2EE
fi
step "mxrtc_consumer $MXRTC_SYNAPSE_URL consumer … ${args[*]}"
"$tmp/build/mxrtc_consumer" "$MXRTC_SYNAPSE_URL" consumer consumer-password "${args[@]}"
ok "joined and left a call"

echo "consumer: $passed passed, 0 failed ($(( $(date +%s) - t0 )) s)"
