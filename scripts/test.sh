#!/usr/bin/env bash
# The test command: bash scripts/test.sh [extra `cargo test` args...]
#
# Runs as root on a Debian 12 machine (see docs/testing.md): checks formatting, prepares the
# test bed (installs missing apt packages, builds the host rootfs once, brings up the bridge and
# the registry), builds the images the tests pull, runs every unit and integration test, and
# tears the bed down again however the run ends (success, failure, Ctrl-C, SIGTERM).
# Nothing is skipped: a bed that cannot be built fails the run.
set -Eeuo pipefail

T0=$(date +%s.%N)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BED=$ROOT/tests/bed/bed.sh
cd "$ROOT"

say() { printf '[test.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { s = b - a; printf "%dm%04.1fs", s / 60, s % 60 }'; }

[ "$(id -u)" = 0 ] || { say "must run as root: the test bed creates a bridge, mounts and cgroups"; exit 1; }
command -v cargo >/dev/null 2>&1 \
  || { say "cargo not found: install Rust first (https://rustup.rs), then re-run"; exit 1; }
cargo fmt --version >/dev/null 2>&1 \
  || { say "rustfmt missing: rustup component add rustfmt"; exit 1; }

BUILD_PID= BUILD_LOG= FUZZ_PID= FUZZ_LOG=
finish() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "$BUILD_PID" "$FUZZ_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || true   # cargo and its rustc children
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$BUILD_LOG" "$FUZZ_LOG"
  say "tearing down the test bed"
  if ! bash "$BED" down; then
    say "ERROR: bed.sh down failed (see above); check 'ip link', mounts and cgroups by hand"
    [ "$rc" != 0 ] || rc=1
  fi
  if [ "$rc" = 0 ]; then say "PASSED; total wall time $(elapsed)"; else say "FAILED (exit $rc); total wall time $(elapsed)"; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "cargo fmt --check"
cargo fmt --check

# Compiling (CPU) and preparing the bed (mostly download and disk) overlap: on a fresh CI
# machine that saves minutes. The compile runs in its own process group: a Ctrl-C reaches
# this script (which stops it in finish), not rustc in the middle of a crate.
BUILD_LOG=$(mktemp /tmp/foundry-test-build.XXXXXX)
say "compiling the tests in the background (log: $BUILD_LOG)"
setsid cargo test --all-targets --no-run "$@" > "$BUILD_LOG" 2>&1 < /dev/null &
BUILD_PID=$!

say "preparing the test bed"
bash "$BED" prepare
bash "$BED" image-openbao
bash "$BED" image-busybox

say "waiting for the compile"
if ! wait "$BUILD_PID"; then
  BUILD_PID=
  cat "$BUILD_LOG" >&2
  say "compiling the tests failed"
  exit 1
fi
BUILD_PID=
rm -f "$BUILD_LOG"

# Short fuzz runs of the parsers of untrusted text (fuzz/, its own workspace; the long runs
# and their figures are in docs/testing.md#fuzzing). cargo-fuzz needs nightly features:
# RUSTC_BOOTSTRAP=1 lets the stable toolchain build it. Its build is cached in fuzz/target.
# Installing cargo-fuzz and building the targets (minutes on a fresh machine) runs in the
# background while the test suite runs (which mostly waits on the bed's hosts); the smoke runs
# themselves (~20 s) come after the tests.
FUZZ_RUNS=${FOUNDRY_FUZZ_RUNS:-10000}
# The smoke build is unoptimised and without AddressSanitizer (coverage instrumentation stays):
# the release + ASAN build of every dependency took 25-36 min on 2 cores and made CI miss its
# 30 minutes; this one takes ~6 min, and 10,000 executions still run in well under a minute.
# The long runs (docs/testing.md#fuzzing) use -O with ASAN.
export FUZZ_FLAGS="--dev -s none"
fuzz_build() {
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)"
    cargo install cargo-fuzz --locked || return 1
  fi
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build $FUZZ_FLAGS) || return 1
}
fuzz_smoke() {
  local t0 t
  t0=$(date +%s)
  for t in stack_yaml secret_ref foundryvars; do
    say "fuzz smoke: $t, $FUZZ_RUNS executions"
    # From the committed seeds only, in a fresh directory: a corpus grown by long runs would
    # make the smoke slower every time.
    rm -rf "fuzz/corpus/smoke-$t" && mkdir -p "fuzz/corpus/smoke-$t" && cp fuzz/seeds/"$t"/* "fuzz/corpus/smoke-$t/" \
      || return 1
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $FUZZ_FLAGS "$t" "corpus/smoke-$t" -- \
      -runs="$FUZZ_RUNS" -timeout=10 -print_final_stats=1 2>&1 | tail -n 12) \
      || { say "fuzz smoke: $t FAILED (crash input under fuzz/artifacts/$t/)"; return 1; }
  done
  say "fuzz smoke took $(( $(date +%s) - t0 ))s"
}

FUZZ_LOG=$(mktemp /tmp/foundry-fuzz-build.XXXXXX)
say "building the fuzz targets in the background (log: $FUZZ_LOG)"
export -f fuzz_build
setsid bash -c fuzz_build > "$FUZZ_LOG" 2>&1 < /dev/null &
FUZZ_PID=$!

say "cargo test --all-targets --no-fail-fast $*"
# --no-fail-fast: every test binary runs, so one failure does not hide the others
rc=0
cargo test --all-targets --no-fail-fast "$@" || rc=$?
# The fuzz smoke runs whatever the tests did; either failing fails the run.
say "waiting for the fuzz build"
if wait "$FUZZ_PID"; then
  FUZZ_PID=
  fuzz_smoke || { [ "$rc" != 0 ] || rc=1; }
else
  FUZZ_PID=
  tail -n 30 "$FUZZ_LOG" >&2
  say "building the fuzz targets failed"
  [ "$rc" != 0 ] || rc=1
fi
exit "$rc"
