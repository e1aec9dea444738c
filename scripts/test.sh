#!/usr/bin/env bash
# Sets up everything on a fresh Debian bookworm machine and runs the whole test suite:
#   1. the unit suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   2. a short smoke run of every libFuzzer target over its seed corpus (build-fuzz/, clang)
#   3. everything in a normal build (build/, prefix /usr): the installed SDK built and run by a separate
#      project (tests/consumer), the API reference (Doxygen, warnings fail), then ctest: unit,
#      integration (real Synapse on 127.0.0.1), interop (reference implementations from npm and
#      PyPI) and livekit (a real livekit-server, the LiveKit Python SDK) — the ctest summary is
#      the last line.
# Environment: MXRTC_FUZZ_SECONDS (default 5) per fuzzer; MXRTC_SKIP_ASAN=1 / MXRTC_SKIP_FUZZ=1
# to skip stages 1/2 while iterating locally.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
t0=$(date +%s)
stage() { echo; echo "=== [$(( $(date +%s) - t0 ))s] $*"; }
# ccache (outside the clone, ~/.cache/ccache) makes a re-run on the same machine fast; the three
# build trees share it (hash_dir off: same sources, same flags, different build directories).
launcher=()

stage "dependencies"
bash scripts/install-deps.sh
bash scripts/setup-peers.sh
if command -v ccache >/dev/null; then
  ccache -o hash_dir=false >/dev/null 2>&1 || true
  export CCACHE_BASEDIR="$PWD"  # relative paths in the hash: another clone of the same tree hits too
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  stage "format check (clang-format, .clang-format)"
  git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format --dry-run -Werror
fi

if [[ "${MXRTC_SKIP_ASAN:-0}" != 1 ]]; then
  stage "unit suite under ASan/UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMXRTC_SANITIZE=ON -DMXRTC_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  ninja -C build-asan unit_tests  # the unit binaries only: programs and integration tests run in the full suite
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"
fi

if [[ "${MXRTC_SKIP_FUZZ:-0}" != 1 ]]; then
  stage "fuzz smoke (${MXRTC_FUZZ_SECONDS:-5}s per target)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXRTC_BUILD_FUZZERS=ON "${launcher[@]}" >/dev/null
  ninja -C build-fuzz
  bash scripts/fuzz.sh build-fuzz "${MXRTC_FUZZ_SECONDS:-5}"
fi

stage "full suite (unit + integration + interop)"
# Prefix /usr: the Debian packages below are made from this very build.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DMXRTC_REQUIRE_SYNAPSE=ON "${launcher[@]}" >/dev/null
ninja -C build
stage "installed SDK: tests/consumer (find_package + pkg-config) against a local Synapse"
bash tests/consumer/run.sh build
stage "Debian packages (CPack, from the build above) and their checks"
MXRTC_PACKAGE_REUSE=1 MXRTC_SKIP_LINTIAN=1 bash scripts/package.sh build
stage "API reference (Doxygen, warnings are errors)"
bash scripts/docs.sh build-docs
stage "ctest"
ctest --test-dir build --output-on-failure -j"$jobs" --repeat until-pass:2
