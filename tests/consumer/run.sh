#!/usr/bin/env bash
# Installs a build tree's SDK to a temporary prefix and uses it the way an application does:
#   1. cmake --install BUILD --prefix TMP   (headers, static libs, CMake package, .pc, the programs);
#      the installed headers must not include a private dependency (GStreamer, libolm, Beast, …)
#   2. tests/consumer (a separate CMake project) configured with -DCMAKE_PREFIX_PATH=TMP and built;
#      it must not see the source tree's headers
#   3. a one-file program compiled with `pkg-config --cflags --libs mxrtc` (PKG_CONFIG_PATH=TMP/…)
#   4. a throwaway Synapse on 127.0.0.1 (scripts/synapse/start.sh), a registered user, and the
#      consumer logging in, creating a room and joining its call for a few seconds (full-mesh focus
#      with test media and E2EE when the SDK has media, membership only otherwise), then leaving
#   5. examples/ built the same way and run: record_bot records a participant who leaves and
#      comes back and leaves on SIGTERM, in a mesh call and through a LiveKit SFU (livekit-server
#      and the installed mxrtc-auth, scripts/livekit/start.sh); player plays a file once, ringer
#      reports a decline
#
#   usage: tests/consumer/run.sh [BUILD_DIR]     (default: build; it is built if needed)
# Needs the Synapse venv and livekit-server (scripts/setup-peers.sh). MXRTC_CONSUMER_KEEP=1 keeps the temporary dir.
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
  bash "$root/scripts/livekit/stop.sh" "$tmp/sfu" >/dev/null 2>&1 || true
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

# The examples (issue 13 item 4), built against the installed tree and run against this Synapse
# with the installed CLI as the other participants (full-mesh calls, E2EE).
step "examples/: record_bot, player, ringer against the installed tree"
cmake -S "$root/examples" -B "$tmp/examples" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "${launcher[@]}" >"$tmp/examples-configure.log" \
  || { cat "$tmp/examples-configure.log"; exit 1; }
cmake --build "$tmp/examples"
ex="$tmp/examples"
mx() { local who=$1; shift; "$tmp/prefix/bin/mxrtc" --profile "$tmp/p-$who" "$@"; }
for who in recorder speaker player listener ringer callee; do
  "$MXRTC_SYNAPSE_PYTHON" "$MXRTC_SYNAPSE_REGISTER" "$MXRTC_SYNAPSE_STATE_DIR" "$who" pw >/dev/null
  mx "$who" -q login --homeserver "$MXRTC_SYNAPSE_URL" --user "$who" --password pw
done
sn="$MXRTC_SYNAPSE_SERVER_NAME"
room=$(mx speaker -q create-room --invite "@recorder:$sn" --invite "@player:$sn" --invite "@listener:$sn" \
  --invite "@ringer:$sn" --invite "@callee:$sn")
for who in recorder player listener ringer callee; do mx "$who" -q join-room "$room" >/dev/null; done

# record_bot: records the speaker, who leaves and comes back; leaves the call on SIGTERM.
#   record_with FOCUS OUT_DIR MIN_FILES   (FOCUS: mesh, or the JWT service URL of a LiveKit focus)
record_with() {
  local focus=$1 out=$2 min_files=$3 bot recordings=0 f chain packets stays
  "$ex/record_bot" "$MXRTC_SYNAPSE_URL" recorder pw "$room" "$out" "$focus" >"$out.bot.out" 2>&1 &
  bot=$!
  sleep 2
  mx speaker -q join-call "$room" --focus "$focus" --media test --e2ee --duration 4 >"$out.speaker1.out" 2>&1
  mx speaker -q join-call "$room" --focus "$focus" --media test --e2ee --duration 4 >"$out.speaker2.out" 2>&1
  kill -TERM "$bot"
  wait "$bot" || { cat "$out.bot.out" >&2; echo "consumer: record_bot ($focus) did not leave cleanly" >&2; exit 1; }
  for f in "$out"/*.opus.ogg "$out"/*.vp8.webm; do
    [[ -s "$f" && $(stat -c %s "$f") -gt 4000 ]] || continue
    case "$f" in *.ogg) chain="oggdemux ! opusdec" ;; *) chain="matroskademux ! vp8dec" ;; esac
    timeout 20 gst-launch-1.0 -q filesrc location="$f" ! $chain ! fakesink || { echo "consumer: $f does not decode" >&2; exit 1; }
    recordings=$((recordings + 1))
  done
  # Both 4 s stays are in the recordings: each stay starts new files (a new peer call in a mesh, new
  # tracks through the SFU; nothing is overwritten), so at least two audio files must hold >= 1 s
  # (50 Opus packets of 20 ms, counted from the Ogg pages).
  read -r packets stays < <(python3 - "$out" <<'PY'
import pathlib, sys
total, stays = 0, 0
for f in pathlib.Path(sys.argv[1]).glob("*.opus.ogg"):
    d, pos, k = f.read_bytes(), 0, 0
    while pos + 27 <= len(d) and d[pos:pos + 4] == b"OggS":
        segs = d[pos + 26]
        lacing = d[pos + 27:pos + 27 + segs]
        k += sum(1 for l in lacing if l < 255)
        pos += 27 + segs + sum(lacing)
    k = max(k - 2, 0)
    total += k
    stays += k >= 50
print(total, stays)
PY
)
  ((recordings >= min_files && stays >= 2)) || { ls -l "$out" >&2; cat "$out.bot.out" "$out.speaker1.out" >&2; echo "consumer: record_bot ($focus) wrote $recordings decodable recordings, $stays audio files of >= 1 s ($packets Opus packets); expected >= $min_files files and both stays" >&2; exit 1; }
  echo "$recordings files, $((packets / 50)) s of audio"
}
n=$(record_with mesh "$tmp/rec" 4)
ok "record_bot recorded both of the speaker's stays in a mesh call ($n) and left on SIGTERM"

# The same through a LiveKit SFU (how Element Call calls carry media): livekit-server and the
# installed mxrtc-auth on 127.0.0.1.
step "record_bot through livekit-server + the installed mxrtc-auth"
bash "$root/scripts/livekit/start.sh" "$tmp/sfu" "$tmp/prefix/bin/mxrtc-auth" "$tmp/synapse/env"
# shellcheck disable=SC1091
source "$tmp/sfu/env"
n=$(record_with "$MXRTC_AUTH_URL" "$tmp/rec-sfu" 4)
ok "record_bot recorded both of the speaker's stays through the SFU ($n) and left on SIGTERM"

# player: a 3 s tone at 523 Hz played once; the listener hears 523 Hz; the player leaves by itself.
gst-launch-1.0 -q audiotestsrc freq=523 num-buffers=150 ! audioconvert ! audioresample ! opusenc ! oggmux \
  ! filesink location="$tmp/tone.ogg"
mx listener --json join-call "$room" --focus mesh --media receive --e2ee --stats-interval 0.5 --duration 25 \
  >"$tmp/listener.out" 2>"$tmp/listener.err" &
listener=$!
sleep 2
(cd "$tmp" && timeout 40 "$ex/player" "$MXRTC_SYNAPSE_URL" player pw "$room" "$tmp/tone.ogg" mesh) >"$tmp/player.out" 2>&1 \
  || { cat "$tmp/player.out"; echo "consumer: player failed" >&2; exit 1; }
kill -INT "$listener"; wait "$listener" || true
grep -q "^played" "$tmp/player.out" || { cat "$tmp/player.out"; exit 1; }
python3 - "$tmp/listener.out" <<'PY' || { tail -n 5 "$tmp/listener.out"; echo "consumer: the listener did not hear the file" >&2; exit 1; }
import json, sys
hz = [json.loads(l).get("audio_hz", 0) for l in open(sys.argv[1]) if '"event":"media"' in l and '"@player:' in l]
sys.exit(0 if any(abs(h - 523) <= 5 for h in hz) else 1)
PY
ok "player played the file once (the listener heard 523 Hz) and left when it ended"

# ringer: the callee declines -> "declined", exit 3.
mx callee -q decline "$room" --timeout 30 >"$tmp/callee.out" 2>&1 &
decliner=$!
sleep 2
set +e
"$ex/ringer" "$MXRTC_SYNAPSE_URL" ringer pw "$room" "@callee:$sn" 20 >"$tmp/ringer.out" 2>&1
rang=$?
set -e
wait "$decliner" || true
[[ $rang == 3 ]] && grep -q "^declined by @callee:" "$tmp/ringer.out" \
  || { cat "$tmp/ringer.out"; echo "consumer: ringer exit $rang, expected 3 (declined)" >&2; exit 1; }
ok "ringer reported the decline"

echo "consumer: $passed passed, 0 failed ($(( $(date +%s) - t0 )) s)"
