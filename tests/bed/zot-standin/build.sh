#!/usr/bin/env bash
# Build and push the Zot stand-in image to the test bed's registry; prints its reference.
#
#   bash tests/bed/zot-standin/build.sh [VERSION]     (default v2.1.22, foundry's default)
#
# Image: 10.214.0.1:5000/project-zot/zot-linux-amd64:<VERSION>, i.e. what foundry runs for
# `components.zot.version: VERSION` with `images.registry: 10.214.0.1:5000` on an amd64 host.
# Contents: the bed's busybox image (`bed.sh image-busybox`) + this machine's
# /usr/bin/docker-registry (Debian package docker-registry, installed by `bed.sh prepare`) and
# the shared libraries `ldd` lists for it + the `zot` entrypoint script beside this file.
# Rebuilt only when this recipe changes (a `standin-<hash>` tag marks what was pushed).
# Run as root (podman via bed.sh).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BED=$HERE/../bed.sh
VERSION=${1:-v2.1.22}
REG=10.214.0.1:5000
REPO=project-zot/zot-linux-amd64
IMG=$REG/$REPO:$VERSION
REGISTRY_BIN=/usr/bin/docker-registry

log() { printf '[zot-standin] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN missing: run 'bash tests/bed/bed.sh prepare' (installs docker-registry)"

tagged() {  # TAG: is REPO:TAG in the bed registry?
  curl -fsS -o /dev/null --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG/v2/$REPO/manifests/$1" 2>/dev/null
}

recipe=$( { cat "$HERE/Containerfile" "$HERE/zot"; sha256sum "$REGISTRY_BIN"; echo "$VERSION"; } | sha256sum | cut -c1-16)
if tagged "$VERSION" && tagged "standin-$recipe"; then
  echo "$IMG"
  exit 0
fi

base=$(bash "$BED" image-busybox | tail -n1)
[ -n "$base" ] || die "bed.sh image-busybox printed no image"

ctx=$(mktemp -d /var/tmp/zot-standin.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/usr/bin" "$ctx/root/var/lib/registry" "$ctx/root/etc/zot"
cp "$HERE/Containerfile" "$ctx/Containerfile"
install -m 755 "$HERE/zot" "$ctx/root/usr/bin/zot"
install -m 755 "$REGISTRY_BIN" "$ctx/root/usr/bin/docker-registry"
# dynamically linked (libc + loader): copy exactly what ldd resolves, at the same paths
for lib in $(ldd "$REGISTRY_BIN" | grep -o '/[^ ]*'); do
  cp --parents -L "$lib" "$ctx/root/"
done

log "building $IMG from $base"
bash "$BED" podman build --build-arg "BASE=$base" -t "$IMG" -t "$REG/$REPO:standin-$recipe" \
  -f "$ctx/Containerfile" "$ctx" >&2 || die "podman build failed"
for t in "$VERSION" "standin-$recipe"; do
  bash "$BED" podman push --tls-verify=false "$REG/$REPO:$t" >&2 || die "podman push $REG/$REPO:$t failed"
done
echo "$IMG"
