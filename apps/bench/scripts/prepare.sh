#!/usr/bin/env bash
# Runs before every `pnpm bench` (the bench script calls it): makes the pipeline measure what it
# claims to measure on a fresh machine, so the main job needs no manual setup step.
#   1. the optional OpenBLAS kernels (@dgm-js/kernels-native): built when missing, with
#      packages/kernels-native/scripts/setup.sh (which apt-installs libopenblas-dev when run as
#      root); without them the suites run on the TypeScript kernels, 3-4x slower;
#   2. the PyTorch peer (Debian's python3-torch, scripts/install-peer.sh) when root or passwordless
#      sudo can install it; without it the suites write `peer: null`.
# Never fails the pipeline: each step says what it did or why it did not.
# Opt out of both with DGM_BENCH_SETUP=0 (e.g. on a machine you do not want apt to touch).
set -u
cd "$(dirname "$0")/.." || exit 0
say() { printf '[bench setup] %s\n' "$*" >&2; }
if [ "${DGM_BENCH_SETUP:-1}" = 0 ]; then
  say "DGM_BENCH_SETUP=0: no native-kernel build, no peer install"
  exit 0
fi
t0=$(date +%s)

addon=../../packages/kernels-native/native/build/Release/dgm_kernels.node
if [ -f "$addon" ] && node -e "require('$addon').info()" >/dev/null 2>&1; then
  say "native kernels: already built"
elif [ "${DGM_NATIVE:-1}" = 0 ]; then
  say "native kernels: DGM_NATIVE=0, not built"
else
  say "native kernels: building (packages/kernels-native/scripts/setup.sh)"
  bash ../../packages/kernels-native/scripts/setup.sh >&2 || true
fi

py="${DGM_PEER_PYTHON:-/usr/bin/python3}"
if [ -x "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1; then
  say "PyTorch peer: present"
elif [ "$(id -u)" = 0 ] || sudo -n true >/dev/null 2>&1; then
  say "PyTorch peer: installing Debian's python3-torch (scripts/install-peer.sh)"
  log="${TMPDIR:-/tmp}/bench-install-peer.log"
  if bash scripts/install-peer.sh >"$log" 2>&1; then
    say "PyTorch peer: $(tail -n 1 "$log")"
  else
    say "PyTorch peer: install failed (log: $log); peer columns will be empty"
  fi
else
  say "PyTorch peer: absent and cannot install (needs root or sudo); peer columns will be empty"
fi
say "done in $(($(date +%s) - t0)) s"
exit 0
