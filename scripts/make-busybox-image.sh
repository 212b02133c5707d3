#!/bin/sh
# Build an OCI archive of a "busybox:latest" image from Debian's busybox-static,
# offline and reproducibly (fixed mtimes, numeric owners, sorted names, gzip -n),
# so `ccrun load -i busybox.tar` gives the default image for `ccrun run busybox`.
# Usage: scripts/make-busybox-image.sh OUT.tar [NAME]   (NAME default docker.io/library/busybox:latest)
set -eu
out=${1:?usage: make-busybox-image.sh OUT.tar [NAME]}
name=${2:-docker.io/library/busybox:latest}
tag=${name##*:}
here=$(cd "$(dirname "$0")" && pwd)
# 2024-01-01T00:00:00Z unless SOURCE_DATE_EPOCH says otherwise.
epoch=${SOURCE_DATE_EPOCH:-1704067200}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
  amd64 | x86_64) arch=amd64 variant= ;;
  arm64 | aarch64) arch=arm64 variant=v8 ;;
  armhf | armv7l) arch=arm variant=v7 ;;
  armel) arch=arm variant=v5 ;;
  i386 | i686) arch=386 variant= ;;
  ppc64el | ppc64le) arch=ppc64le variant= ;;
  s390x) arch=s390x variant= ;;
  riscv64) arch=riscv64 variant= ;;
  *) echo "make-busybox-image: unknown architecture" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
# A layer is a tar of the tree with numeric owners and fixed times, entries in name order.
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$epoch" --clamp-mtime \
  --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$work/rootfs" -cf "$work/layer.tar" .
diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -6 "$work/layer.tar"
layer_hex=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar.gz")

mkdir -p "$work/oci/blobs/sha256"
mv "$work/layer.tar.gz" "$work/oci/blobs/sha256/$layer_hex"

# Writes stdin to a blob; prints "<hex> <size>".
put_blob() {
  cat > "$work/blob"
  hex=$(sha256sum "$work/blob" | cut -d' ' -f1)
  mv "$work/blob" "$work/oci/blobs/sha256/$hex"
  echo "$hex $(stat -c %s "$work/oci/blobs/sha256/$hex")"
}

variant_json=
[ -n "$variant" ] && variant_json=",\"variant\":\"$variant\""
set -- $(printf '%s' "{\"created\":\"$created\",\"architecture\":\"$arch\"$variant_json,\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"$diff_id\"]},\"history\":[{\"created\":\"$created\",\"created_by\":\"scripts/make-busybox-image.sh (Debian busybox-static)\"}]}" | put_blob)
config_hex=$1 config_size=$2
set -- $(printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_hex\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$layer_hex\",\"size\":$layer_size}]}" | put_blob)
manifest_hex=$1 manifest_size=$2
printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_hex\",\"size\":$manifest_size,\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"$tag\"},\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"$variant_json}}]}" > "$work/oci/index.json"

tar --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$epoch" --format=ustar -C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "busybox image ($name, $arch) written to $out: manifest sha256:$manifest_hex"
