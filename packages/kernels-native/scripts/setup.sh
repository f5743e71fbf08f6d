#!/usr/bin/env bash
# Installs what the @dgm-js/kernels-native addon needs (Debian/Ubuntu: libopenblas-dev, plus make,
# g++ and python3 for node-gyp) with apt-get when missing and running as root, then builds the
# addon. Always exits 0: without the addon dgm.js falls back to its TypeScript kernels, so a
# failure here costs only speed; the reason is printed.
# Usage: packages/kernels-native/scripts/setup.sh (from anywhere).
set -u
cd "$(dirname "$0")/.." || exit 0
LOG="${TMPDIR:-/tmp}/kernels-native-setup.log"
: >"$LOG"

say() { printf '[kernels-native] %s\n' "$*"; }

have_openblas() {
  local inc=0 lib=0 f
  for f in /usr/include/cblas.h /usr/include/*/cblas.h /usr/include/openblas/cblas.h \
    /usr/local/include/cblas.h /opt/homebrew/opt/openblas/include/cblas.h; do
    [ -f "$f" ] && inc=1
  done
  for f in /usr/lib/libopenblas.so /usr/lib/*/libopenblas.so /usr/lib64/libopenblas.so \
    /usr/local/lib/libopenblas.so /opt/homebrew/opt/openblas/lib/libopenblas.dylib; do
    [ -e "$f" ] && lib=1
  done
  [ "$inc" = 1 ] && [ "$lib" = 1 ]
}

missing=()
have_openblas || missing+=(libopenblas-dev)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; then
      # A fresh machine may have no package lists yet.
      apt-get update -qq >>"$LOG" 2>&1
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 ||
        say "apt-get install failed (log: $LOG)"
    fi
  else
    say "missing ${missing[*]} and cannot install (needs apt-get and root)"
  fi
fi

if ! have_openblas; then
  say "OpenBLAS (libopenblas-dev) not available: addon not built; dgm.js uses its TypeScript kernels"
  exit 0
fi
for tool in make g++ python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "'$tool' not available (node-gyp needs it): addon not built; dgm.js uses its TypeScript kernels"
    exit 0
  fi
done

if ! node scripts/build-native.mjs >>"$LOG" 2>&1; then
  say "addon build failed; dgm.js uses its TypeScript kernels. Last lines of $LOG:"
  tail -n 15 "$LOG" | sed 's/^/[kernels-native]   /'
  exit 0
fi
addon=./native/build/Release/dgm_kernels.node
if info=$(node -e "const i=require('$addon').info();console.log(i.config+' (kernel '+i.corename+')')" 2>&1); then
  say "addon built: $info"
else
  say "addon built but does not load: $(printf '%s' "$info" | head -n 1)"
fi
exit 0
