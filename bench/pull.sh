#!/usr/bin/env bash
# Pull benchmark: ccrun pull vs skopeo copy + umoci unpack vs podman pull,
# cold and warm, against one local docker-registry. Not part of the test suite.
#
# Images (built once, cached under $BENCH_CACHE, default /var/tmp/ccrun-bench):
#   debian  one layer assembled from the installed files (dpkg -L) of a set of
#           Debian packages (libc, coreutils, bash, perl, python stdlib, ...):
#           thousands of files, tens of MB compressed. No network needed.
#   many    40 small layers (60 files of 1-8 kB each).
#   small / large / huge  one layer of 1, 128 and 512 MB (random bytes), for peak RSS of ccrun pull.
# Usage: bench/pull.sh            (BENCH_RUNS=5 by default, BENCH_WARM_RUNS=25 for the
#                                 warm pull against node -e 0; needs root, built dist/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
RUNS=${BENCH_RUNS:-5}
WARM_RUNS=${BENCH_WARM_RUNS:-25}
CACHE=${BENCH_CACHE:-/var/tmp/ccrun-bench}
WORK=$(mktemp -d /var/tmp/ccrun-bench-run.XXXXXX)
REG_PID=
cleanup() {
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null || true
  umount -R "$WORK"/podman/root/overlay 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for tool in docker-registry skopeo umoci podman zstd /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "bench/pull.sh: $tool is needed" >&2; exit 1; }
done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "bench/pull.sh: build first (npx tsc -p .)" >&2; exit 1; }
CCRUN="$ROOT/bin/ccrun"

# ---- an OCI image layout from layer tarballs: mklayout DIR LAYER.tar.gz... ----
mklayout() {
  python3 - "$@" <<'PY'
import hashlib, json, os, sys, gzip, shutil
out, layers = sys.argv[1], sys.argv[2:]
blobs = os.path.join(out, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
def put(path=None, data=None):
    h = hashlib.sha256(); size = 0
    if data is None:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk); size += len(chunk)
        shutil.copyfile(path, os.path.join(blobs, h.hexdigest()))
    else:
        h.update(data); size = len(data)
        open(os.path.join(blobs, h.hexdigest()), "wb").write(data)
    return "sha256:" + h.hexdigest(), size
descs, diffs = [], []
for l in layers:
    d, s = put(l)
    h = hashlib.sha256()
    with gzip.open(l, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
    diffs.append("sha256:" + h.hexdigest())
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                  "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cs = put(data=cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": descs}).encode()
md, ms = put(data=man)
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
           "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, open(os.path.join(out, "index.json"), "w"))
PY
}

build_images() {
  mkdir -p "$CACHE"
  if [ ! -f "$CACHE/debian/index.json" ]; then
    echo "building the debian-sized image in $CACHE/debian ..."
    local pkgs="libc6 libc-bin bash coreutils dash grep sed findutils tar gzip util-linux perl-base perl-modules-5.36 libperl5.36 libpython3.11-minimal libpython3.11-stdlib python3.11-minimal libssl3 openssl dpkg apt libapt-pkg6.0 libstdc++6 libgcc-s1 zlib1g libzstd1 liblzma5 libbz2-1.0 ncurses-base libncursesw6 libtinfo6 login passwd"
    # dpkg -L lists every path a package installed; keep those present, in order.
    # Paths under a merged-/usr symlink (/bin -> usr/bin) are dropped: a real layer never writes through one.
    dpkg -L $pkgs 2>/dev/null | python3 -c '
import os, sys
for p in sorted(set(l.strip() for l in sys.stdin if l.startswith("/"))):
    parent = os.path.dirname(p)
    if os.path.realpath(parent) == parent and os.path.lexists(p) and p != "/":
        print(p[1:])
' > "$WORK/files"
    tar -C / --no-recursion -cf - -T "$WORK/files" | gzip -6 > "$WORK/debian.tar.gz"
    mklayout "$CACHE/debian.tmp" "$WORK/debian.tar.gz" && mv "$CACHE/debian.tmp" "$CACHE/debian"
  fi
  if [ ! -f "$CACHE/many/index.json" ]; then
    echo "building the 40-layer image ..."
    local ls=()
    for i in $(seq 1 40); do
      mkdir -p "$WORK/many/$i/layer$i"
      for f in $(seq 1 60); do head -c $(( (f * 131 % 8) * 1024 + 512 )) /dev/urandom | base64 > "$WORK/many/$i/layer$i/f$f"; done
      tar -C "$WORK/many/$i" -czf "$WORK/many/$i.tar.gz" "layer$i"
      ls+=("$WORK/many/$i.tar.gz")
    done
    mklayout "$CACHE/many.tmp" "${ls[@]}" && mv "$CACHE/many.tmp" "$CACHE/many"
  fi
  for kind in small:1 large:128 huge:512; do
    local name=${kind%%:*} mb=${kind##*:}
    if [ ! -f "$CACHE/$name/index.json" ]; then
      echo "building the $name image ($mb MB layer) ..."
      mkdir -p "$WORK/$name"
      head -c $((mb * 1024 * 1024)) /dev/urandom > "$WORK/$name/blob"
      tar -C "$WORK/$name" -czf "$WORK/$name.tar.gz" blob
      mklayout "$CACHE/$name.tmp" "$WORK/$name.tar.gz" && mv "$CACHE/$name.tmp" "$CACHE/$name"
    fi
  done
}


now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# time_ms CMD...: wall time of one run in ms (output discarded; failures abort)
time_ms() { local s e; s=$(now_ms); "$@" >/dev/null 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; exit 1; }; e=$(now_ms); echo $((e - s)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

ccrun_cold() { rm -rf "$WORK/store"; "$CCRUN" --store "$WORK/store" pull -q "$REG/bench/$1"; }
ccrun_warm() { "$CCRUN" --store "$WORK/store" pull -q "$REG/bench/$1"; }
skopeo_umoci() {
  rm -rf "$WORK/oci" "$WORK/bundle"
  skopeo copy -q --src-tls-verify=false "docker://$REG/bench/$1" "oci:$WORK/oci:latest" && umoci unpack --image "$WORK/oci:latest" "$WORK/bundle"
}
skopeo_umoci_warm() { rm -rf "$WORK/bundle"; skopeo copy -q --src-tls-verify=false "docker://$REG/bench/$1" "oci:$WORK/oci:latest" && umoci unpack --image "$WORK/oci:latest" "$WORK/bundle"; }
PODMAN_DRIVER=overlay
podman_pull() { podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver "$PODMAN_DRIVER" pull -q --tls-verify=false "$REG/bench/$1"; }
podman_cold() { podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver "$PODMAN_DRIVER" system reset -f >/dev/null 2>&1 || true; rm -rf "$WORK/podman"; podman_pull "$1"; }

build_images
start_registry
for img in debian many small large huge; do
  skopeo copy -q --dest-tls-verify=false "oci:$CACHE/$img:latest" "docker://$REG/bench/$img:latest"
done
if ! podman_cold many >/dev/null 2>&1; then PODMAN_DRIVER=vfs; fi
echo "registry $REG; podman storage driver: $PODMAN_DRIVER; $RUNS runs each; times in ms (median)"
echo "debian image: $(du -sh "$CACHE/debian/blobs" | cut -f1) compressed, $(tar -tzf "$(ls -S "$CACHE"/debian/blobs/sha256/* | head -1)" | wc -l) entries"

printf '%-8s %-6s %10s %14s %10s %12s %12s\n' image mode ccrun skopeo+umoci podman 'ccrun/podman' 'ccrun/skopeo'
for img in debian many; do
  c=$(for _ in $(seq "$RUNS"); do time_ms ccrun_cold "$img"; done | median)
  s=$(for _ in $(seq "$RUNS"); do time_ms skopeo_umoci "$img"; done | median)
  p=$(for _ in $(seq "$RUNS"); do time_ms podman_cold "$img"; done | median)
  printf '%-8s %-6s %10s %14s %10s %12.2f %12.2f\n' "$img" cold "$c" "$s" "$p" "$(echo "$c / $p" | bc -l)" "$(echo "$c / $s" | bc -l)"
  sw=$(for _ in $(seq "$RUNS"); do time_ms skopeo_umoci_warm "$img"; done | median)
  pw=$(for _ in $(seq "$RUNS"); do time_ms podman_pull "$img"; done | median)
  # ccrun's warm pull, node -e 0 and the floor (one HEAD of the manifest with
  # Node's http and nothing else: bench/http-floor.js) alternate round by round,
  # so a machine loaded by others slows all three alike.
  for _ in $(seq "$WARM_RUNS"); do
    echo "base $(time_ms env -u NODE_EXTRA_CA_CERTS node -e 0)"
    echo "ccrun $(time_ms ccrun_warm "$img")"
    echo "floor $(time_ms env -u NODE_EXTRA_CA_CERTS node bench/http-floor.js "http://$REG/v2/bench/$img/manifests/latest")"
  done > "$WORK/warm.txt"
  wb=$(awk '$1 == "base" {print $2}' "$WORK/warm.txt" | median)
  cw=$(awk '$1 == "ccrun" {print $2}' "$WORK/warm.txt" | median)
  hf=$(awk '$1 == "floor" {print $2}' "$WORK/warm.txt" | median)
  printf '%-8s %-6s %10s %14s %10s %12.2f %12.2f\n' "$img" warm "$cw" "$sw" "$pw" "$(echo "$cw / $pw" | bc -l)" "$(echo "$cw / $sw" | bc -l)"
  over=$(echo "$cw - $wb" | bc)
  echo "         warm ccrun pull - node -e 0 ($wb ms), $WARM_RUNS alternating rounds: $over ms (issue 12 target <= 20: $([ "$(echo "$over <= 20" | bc)" = 1 ] && echo met || echo NOT MET))"
  echo "         floor, a bare Node http HEAD of the manifest - node -e 0: $(echo "$hf - $wb" | bc) ms; ccrun above the floor: $(echo "$cw - $hf" | bc) ms"
done
for img in small large huge; do
  rm -rf "$WORK/store"
  /usr/bin/time -v "$CCRUN" --store "$WORK/store" pull -q "$REG/bench/$img" >/dev/null 2>"$WORK/time.txt"
  echo "peak RSS of cold ccrun pull, $img layer: $(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time.txt") kB"
done
