#!/usr/bin/env bash
# Builds the Debian packages (CPack) from a Release build and checks them:
#   libmxrtc-dev  the C++ SDK: static libraries, headers, mxrtcConfig.cmake, mxrtc.pc
#   mxrtc         the command-line client
#   mxrtc-auth    the authorization daemon + systemd unit (dynamic user) + environment file example
# Checks: each package's control data and file list (dpkg-deb --info/--contents) hold what they
# must; the packaged programs print `--version`; the systemd unit passes `systemd-analyze verify`
# (when systemd-analyze exists); tests/consumer builds against the unpacked libmxrtc-dev; apt can
# resolve every package's Depends (apt-get -s, nothing is installed); lintian's findings are
# printed (informational) when lintian is installed (MXRTC_SKIP_LINTIAN=1 skips it).
#
#   usage: scripts/package.sh [BUILD_DIR]    (default: build-deb; packages in BUILD_DIR/packages)
# MXRTC_PACKAGE_REUSE=1: package BUILD_DIR as it is (no reconfigure, no Release rebuild); it must
# have been configured with -DCMAKE_INSTALL_PREFIX=/usr. CI packages its main build this way, so
# the packages cost seconds instead of a second full compile.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-deb}
mkdir -p "$build" && build=$(cd "$build" && pwd)
out="$build/packages"
t0=$(date +%s)
step() { echo "=== package [$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "package: FAILED: $*" >&2; exit 1; }

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
if [[ "${MXRTC_PACKAGE_REUSE:-0}" == 1 ]]; then
  prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
  [[ "$prefix" == /usr ]] || fail "MXRTC_PACKAGE_REUSE: $build is configured with prefix '${prefix:-?}', not /usr"
  step "build (reusing $build as configured)"
  cmake --build "$build" --target mxrtc mxrtc-auth mxrtc_call >/dev/null
else
  step "configure + build (Release, prefix /usr) in $build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DMXRTC_BUILD_TESTS=OFF -DMXRTC_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  cmake --build "$build"
fi

step "cpack -G DEB"
rm -rf "$out"
(cd "$build" && cpack -G DEB -B "$out" >/dev/null)
version=$(sed -n 's/^project(mxrtc VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb() { echo "$out/$1_${version}-1_${arch}.deb"; }
for p in libmxrtc-dev mxrtc mxrtc-auth; do
  [[ -f "$(deb "$p")" ]] || fail "no $(basename "$(deb "$p")") in $out ($(ls "$out" | tr '\n' ' '))"
done

# contains PACKAGE PATTERN...: every pattern (grep -E) matches a path in the package.
contains() {
  local p=$1 list
  shift
  list=$(dpkg-deb --contents "$(deb "$p")" | awk '{print $6}')
  for pattern in "$@"; do
    grep -Eq "$pattern" <<<"$list" || fail "$p has no file matching $pattern"
  done
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
contains libmxrtc-dev "^\./usr/include/mxrtc/call/call\.hpp$" "^\./usr/include/mxrtc/version\.hpp$" \
  "^\./usr/lib/$multiarch/libmxrtc_call\.a$" "^\./usr/lib/$multiarch/libmxrtc_common\.a$" \
  "^\./usr/lib/$multiarch/cmake/mxrtc/mxrtcConfig\.cmake$" "^\./usr/lib/$multiarch/pkgconfig/mxrtc\.pc$"
contains mxrtc "^\./usr/bin/mxrtc$"
contains mxrtc-auth "^\./usr/bin/mxrtc-auth$" "^\./usr/lib/systemd/system/mxrtc-auth\.service$" \
  "^\./usr/share/doc/mxrtc-auth/examples/mxrtc-auth\.env\.example$"
if dpkg-deb --contents "$(deb libmxrtc-dev)" | awk '{print $6}' | grep -q '/mxrtc/auth/'; then
  fail "libmxrtc-dev ships the daemon's headers (include/mxrtc/auth)"
fi

for p in libmxrtc-dev mxrtc mxrtc-auth; do
  step "$p"
  dpkg-deb --info "$(deb "$p")" | sed -n '/^ Package:/,$p'
  echo "  files: $(dpkg-deb --contents "$(deb "$p")" | grep -vc '/$'), installed size $(dpkg-deb -f "$(deb "$p")" Installed-Size) KiB"
done

step "the packaged programs and unit"
tmp=$(mktemp -d /tmp/mxrtc-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for p in mxrtc mxrtc-auth; do dpkg-deb -x "$(deb "$p")" "$tmp/root"; done
got=$("$tmp/root/usr/bin/mxrtc" --version)
[[ "$got" == "mxrtc $version" ]] || fail "mxrtc --version printed '$got', not 'mxrtc $version'"
echo "$got"
got=$("$tmp/root/usr/bin/mxrtc-auth" --version)
[[ "$got" == "mxrtc-auth $version"* ]] || fail "mxrtc-auth --version printed '$got'"
echo "$got"
unit="$tmp/root/usr/lib/systemd/system/mxrtc-auth.service"
grep -q '^DynamicUser=yes$' "$unit" || fail "mxrtc-auth.service does not run as its own (dynamic) user"
grep -q '^ExecStart=/usr/bin/mxrtc-auth$' "$unit" || fail "mxrtc-auth.service does not start /usr/bin/mxrtc-auth"
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart to exist: check a copy that points at the extracted binary.
  sed "s|^ExecStart=.*|ExecStart=$tmp/root/usr/bin/mxrtc-auth|; s|^EnvironmentFile=|EnvironmentFile=-|" "$unit" \
    >"$tmp/mxrtc-auth.service"
  verify=$(systemd-analyze verify "$tmp/mxrtc-auth.service" 2>&1 | grep -v 'Failed to .* bus\|No such file or directory' || true)
  [[ -z "$verify" ]] || fail "systemd-analyze verify mxrtc-auth.service: $verify"
  echo "systemd-analyze verify mxrtc-auth.service: ok"
fi

step "tests/consumer builds against the unpacked libmxrtc-dev"
dpkg-deb -x "$(deb libmxrtc-dev)" "$tmp/dev"
cmake -S "$root/tests/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/dev/usr" "${launcher[@]}" >"$tmp/consumer.log" || { cat "$tmp/consumer.log"; fail "consumer configure"; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" || { cat "$tmp/consumer.log"; fail "consumer build"; }
got=$("$tmp/consumer/mxrtc_consumer" 2>/dev/null || true)  # no arguments: prints its version, usage
[[ "$got" == "mxrtc $version consumer" ]] || fail "the consumer printed '$got'"
echo "mxrtc_consumer built with find_package(mxrtc) from the package: ok"

step "dependencies resolvable (apt-get install --simulate, installs nothing)"
for p in libmxrtc-dev mxrtc mxrtc-auth; do
  if ! apt-get install -s -qq "$(deb "$p")" >"$tmp/apt.log" 2>&1; then
    cat "$tmp/apt.log"
    fail "apt cannot install $p"
  fi
  echo "$p: Depends: $(dpkg-deb -f "$(deb "$p")" Depends)"
done

if command -v lintian >/dev/null && [[ "${MXRTC_SKIP_LINTIAN:-0}" != 1 ]]; then
  step "lintian (informational)"
  lintian --no-tag-display-limit "$out"/*.deb || true
fi

step "done: $(ls "$out"/*.deb | xargs -n1 basename | tr '\n' ' ')"
