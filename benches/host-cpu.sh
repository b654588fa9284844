#!/usr/bin/env bash
# benches/host-cpu.sh — what a no-op re-run costs on the hosts themselves, and how it scales.
#
# For each host count N (default 1 3 10) it boots N test-bed hosts, installs host-prep plus one
# container service (busybox httpd under systemd + podman) with `foundry stack install`, then
# runs RUNS no-op `stack install`s with the release binary. It reports the median wall time
# and the CPU seconds spent *inside each host* per no-op run: the sum of the hosts' cgroup
# `cpuacct.usage` (sshd, the probe scripts, systemctl, dpkg-query, podman, ...) before and
# after the runs, minus what the same hosts spend idle over the same wall time, divided by
# RUNS × N. The hosts share this machine's cores with foundry, which is why host-side work
# shows up in the N-host wall time.
#
#   bash benches/host-cpu.sh [RUNS] [N...]     (root; default RUNS=10, N = 1 3 10)
#   FOUNDRY_BIN=/path/to/foundry bash benches/host-cpu.sh ...   (measure that binary)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}; shift || true
COUNTS=("$@"); [ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1 3 10)
BED=tests/bed/bed.sh
STATE=${FOUNDRY_BED_DIR:-/var/tmp/foundry-bed}
CG=/sys/fs/cgroup/cpuacct/foundry-bed

# FOUNDRY_BIN: measure another build (e.g. an older commit's) with the same hosts and stack.
if [ -z "${FOUNDRY_BIN:-}" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/foundry
else
  BIN=$FOUNDRY_BIN
fi
bash "$BED" prepare >&2
IMG=$(bash "$BED" image-busybox)

WORK=$(mktemp -d)
NAMES=()
cleanup() {
  for n in "${NAMES[@]}"; do bash "$BED" host-down "$n" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home
mkdir -p "$HOME/.ssh"
install -m 600 "$STATE/ssh/id_ed25519" "$HOME/.ssh/id_ed25519"

usage_ns() {  # total cpuacct.usage of the current hosts, in ns
  local t=0 n
  for n in "${NAMES[@]}"; do t=$((t + $(cat "$CG/$n/cpuacct.usage"))); done
  echo "$t"
}
now() { date +%s.%N; }

printf '%-8s %-16s %-22s %s\n' hosts "median no-op" "host CPU/host/no-op" "host CPU idle/host/s"
for N in "${COUNTS[@]}"; do
  for n in "${NAMES[@]}"; do bash "$BED" host-down "$n" >/dev/null 2>&1 || true; done
  NAMES=(); : > "$HOME/.ssh/known_hosts"
  {
    echo "cluster: {name: bench, domain: bench.test, vip: 10.214.0.250}"
    echo "network: {cidr: 10.214.0.0/24}"
    echo "images: {registry: \"${IMG%%/*}\", insecure: true}"
    echo "hosts:"
  } > "$WORK/stack.yaml"
  for i in $(seq 1 "$N"); do
    n=cpu-$i; idx=$((200 + i)); ip=10.214.0.$idx
    NAMES+=("$n")
    bash "$BED" host-up "$n" "$idx" >&2
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
  "$BIN" --config "$WORK/stack.yaml" -q stack install >/dev/null   # warm: caches on the hosts
  sleep 2
  # Idle baseline over a few seconds (journald, timers, the httpd): subtracted below.
  c0=$(usage_ns); t0=$(now); sleep 5; c1=$(usage_ns); t1=$(now)
  idle=$(awk -v c="$((c1 - c0))" -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN{printf "%.6f", c / 1e9 / (b - a) / n}')
  times=()
  c0=$(usage_ns); T0=$(now)
  for _ in $(seq "$RUNS"); do
    a=$(now)
    out=$("$BIN" --config "$WORK/stack.yaml" stack install 2>/dev/null)
    b=$(now)
    grep -q 'No changes.' <<<"$out" || { echo "not a no-op:" >&2; echo "$out" >&2; exit 1; }
    times+=("$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.4f", b - a}')")
  done
  c1=$(usage_ns); T1=$(now)
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  per=$(awk -v c="$((c1 - c0))" -v i="$idle" -v w="$(awk -v a="$T0" -v b="$T1" 'BEGIN{print b-a}')" -v n="$N" -v r="$RUNS" \
    'BEGIN{printf "%.3f", (c / 1e9 - i * w * n) / (r * n)}')
  printf '%-8s %-16s %-22s %s\n' "$N" "${med}s" "${per} CPU-s" "$idle"
done
