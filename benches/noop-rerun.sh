#!/usr/bin/env bash
# benches/noop-rerun.sh — how long a no-op re-run takes, measured on real test-bed hosts.
#
# Boots 3 hosts on the test bed (tests/bed/bed.sh), installs host-prep plus one container
# service (busybox httpd under systemd + podman) with `foundry stack install`, then times
# RUNS further `stack install` runs (each must report "No changes.") and RUNS `stack status`
# runs, with the release binary. Prints min / median / max and the peak RSS of one run.
# Bar (DEVELOPERS.md): a no-op re-run of host-prep + one service on 3 hosts under 0.4 s.
#
#   bash benches/noop-rerun.sh [RUNS]      (root; default RUNS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
BED=tests/bed/bed.sh
STATE=${FOUNDRY_BED_DIR:-/var/tmp/foundry-bed}
NAMES=(bench-1 bench-2 bench-3)
IDX=(241 242 243)

if [ -z "${FOUNDRY_BIN:-}" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/foundry
else
  BIN=$FOUNDRY_BIN   # measure another build with the same hosts and stack
fi
bash "$BED" prepare >&2
IMG=$(bash "$BED" image-busybox)

WORK=$(mktemp -d)
cleanup() {
  for n in "${NAMES[@]}"; do bash "$BED" host-down "$n" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home
mkdir -p "$HOME/.ssh"
install -m 600 "$STATE/ssh/id_ed25519" "$HOME/.ssh/id_ed25519"
{
  echo "cluster: {name: bench, domain: bench.test, vip: 10.214.0.250}"
  echo "network: {cidr: 10.214.0.0/24}"
  echo "images: {registry: \"${IMG%%/*}\", insecure: true}"
  echo "hosts:"
} > "$WORK/stack.yaml"
for i in 0 1 2; do
  n=${NAMES[$i]}; ip=10.214.0.${IDX[$i]}
  bash "$BED" host-up "$n" "${IDX[$i]}" >&2
  echo "$ip $(bash "$BED" hostkey "$n")" >> "$HOME/.ssh/known_hosts"
  echo "  - {hostname: $n, address: $ip, roles: [cluster-control-plane]}" >> "$WORK/stack.yaml"
done
cat >> "$WORK/stack.yaml" <<'YAML'
components:
  services:
    - name: web
      image: library/busybox:stable
      args: [httpd, -f, -p, "8088", -h, /www]
      volumes: ["/srv/web:/www:ro"]
      files: {/srv/web/index.html: "bench\n"}
YAML

"$BIN" --config "$WORK/stack.yaml" -q stack install >/dev/null

stats() {  # label, then one duration (s) per line on stdin
  sort -n | awk -v l="$1" '{a[NR]=$1} END {printf "%-28s n=%d  min %.3fs  median %.3fs  max %.3fs\n", l, NR, a[1], a[int((NR+1)/2)], a[NR]}'
}
time_runs() {  # label, args...
  local label=$1; shift
  for _ in $(seq "$RUNS"); do
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$("$BIN" --config "$WORK/stack.yaml" "$@" 2>/dev/null) || { echo "run failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    if [ "$1" = stack ] && [ "$2" = install ]; then
      grep -q 'No changes.' <<<"$out" || { echo "not a no-op:" >&2; echo "$out" >&2; exit 1; }
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f\n", b-a}'
  done | stats "$label"
}

echo "foundry $("$BIN" --version | cut -d' ' -f2), 3 hosts, host-prep + 1 container service, $RUNS runs each"
time_runs "stack install (no-op)" stack install
time_runs "stack status" stack status
time_runs "stack plan" stack plan
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f 'peak RSS of one no-op install: %M KiB' "$BIN" --config "$WORK/stack.yaml" -q stack install >/dev/null
fi
echo "mutating remote commands in the last no-op run log: $(grep -c '"mutating":true' "$(ls -t "$HOME"/.foundry/logs/*.log | head -1)" || true)"
