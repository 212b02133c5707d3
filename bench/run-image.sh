#!/usr/bin/env bash
# Start-up benchmark of `ccrun run IMAGE`: not part of the test suite.
#  1. `ccrun run --rm IMAGE true` with the image local, against
#     `podman --runtime runc run --rm IMAGE true` (same image pulled by both
#     from one local docker-registry; podman in its own --root/--runroot).
#  2. 50 containers started (-d) from one image, in one go, both tools.
#  3. the same `run --rm IMAGE true` from a ~5 MB image and a ~500 MB image:
#     with an overlay root, the cost must not depend on the image's size.
# Usage: bench/run-image.sh    (needs root, built dist/ and build/; BENCH_RUNS=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
RUNS=${BENCH_RUNS:-10}
MANY=${BENCH_MANY:-50}
BIG_MB=${BENCH_BIG_MB:-500}
WORK=$(mktemp -d /var/tmp/ccrun-bench-run-image.XXXXXX)
CCRUN="$ROOT/bin/ccrun"
CC=("$CCRUN" --store "$WORK/store" --root "$WORK/state")
PM=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --runtime runc --cgroup-manager cgroupfs --events-backend file)
REG_PID=
cleanup() {
  "${CC[@]}" ps -a --format json 2>/dev/null | python3 -c 'import sys, json; [print(json.loads(l)["ID"]) for l in sys.stdin if l.strip()]' | xargs -r "${CC[@]}" rm -f >/dev/null 2>&1 || true
  "${PM[@]}" rm -af >/dev/null 2>&1 || true
  "${PM[@]}" system reset -f >/dev/null 2>&1 || true
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null || true
  umount -R "$WORK"/podman/root/overlay 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for tool in docker-registry skopeo podman runc python3 bc curl; do
  command -v "$tool" >/dev/null || { echo "bench/run-image.sh: $tool is needed" >&2; exit 1; }
done
[ -f "$ROOT/dist/frontend/run.js" ] || { echo "bench/run-image.sh: build first (npx tsc -p .)" >&2; exit 1; }

start_registry

echo "building the images (busybox, and busybox + a ${BIG_MB} MB layer) ..."
scripts/make-busybox-image.sh "$WORK/busybox.tar" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci-archive:$WORK/busybox.tar" "docker://$REG/bench/busybox:latest"
# The big image: the busybox layer plus one layer of random bytes (plain tar: gzip of 500 MB costs minutes).
mkdir -p "$WORK/big/data" "$WORK/bb"
tar -xf "$WORK/busybox.tar" -C "$WORK/bb"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom > "$WORK/big/data/blob"
tar -C "$WORK/big" -cf "$WORK/big.tar" data
rm -rf "$WORK/big"
python3 - "$WORK/bb" "$WORK/big.tar" <<'PY'
import hashlib, json, os, shutil, sys
lay, extra = sys.argv[1], sys.argv[2]
blobs = os.path.join(lay, "blobs", "sha256")
def blob(d): return os.path.join(blobs, d[7:])
def put_bytes(b):
    d = "sha256:" + hashlib.sha256(b).hexdigest(); open(blob(d), "wb").write(b); return d, len(b)
idx = json.load(open(os.path.join(lay, "index.json")))
man = json.load(open(blob(idx["manifests"][0]["digest"])))
cfg = json.load(open(blob(man["config"]["digest"])))
h = hashlib.sha256()
with open(extra, "rb") as f:
    for c in iter(lambda: f.read(1 << 20), b""): h.update(c)
d = "sha256:" + h.hexdigest()
shutil.move(extra, blob(d))
man["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": os.path.getsize(blob(d))})
cfg["rootfs"]["diff_ids"].append(d)
cd, cs = put_bytes(json.dumps(cfg).encode())
man["config"]["digest"], man["config"]["size"] = cd, cs
md, ms = put_bytes(json.dumps(man).encode())
idx["manifests"] = [{"mediaType": man.get("mediaType", "application/vnd.oci.image.manifest.v1+json"), "digest": md, "size": ms,
                     "annotations": {"org.opencontainers.image.ref.name": "latest"}}]
json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
PY
skopeo copy -q --dest-tls-verify=false "oci:$WORK/bb:latest" "docker://$REG/bench/big:latest"
rm -rf "$WORK/bb"

for img in busybox big; do
  "${CC[@]}" pull -q "$REG/bench/$img" >/dev/null
  "${PM[@]}" pull -q --tls-verify=false "$REG/bench/$img" >/dev/null
done

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
time_ms() { local s e; s=$(now_ms); "$@" >/dev/null 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; exit 1; }; e=$(now_ms); echo $((e - s)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

# One warm-up each (page cache, podman's first-run set-up).
"${CC[@]}" run --rm "$REG/bench/busybox" true
"${PM[@]}" run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$REG/bench/busybox" true

echo "image local; $RUNS runs each, alternating (so that a noisy machine slows both alike); median wall time in ms"
: > "$WORK/cc.ms"; : > "$WORK/pm.ms"
for _ in $(seq "$RUNS"); do
  time_ms "${CC[@]}" run --rm "$REG/bench/busybox" true >> "$WORK/cc.ms"
  time_ms "${PM[@]}" run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$REG/bench/busybox" true >> "$WORK/pm.ms"
done
c=$(median < "$WORK/cc.ms")
p=$(median < "$WORK/pm.ms")
printf '%-36s %8s %8s %14s\n' 'run --rm busybox true' ccrun podman ccrun/podman
printf '%-36s %8s %8s %14s\n' '' "$c" "$p" "$(ratio "$c" "$p")"
met() { [ "$(echo "$1" | bc -l)" = 1 ] && echo met || echo 'NOT MET'; }
echo "issue 12 target: run --rm busybox true <= 0.4 of podman's: $(ratio "$c" "$p") ($(met "$c <= 0.4 * $p"))"

# `ccrun pull` of an image that is present and unchanged on the registry, against node -e 0.
: > "$WORK/pull.ms"; : > "$WORK/node.ms"
for _ in $(seq "$RUNS"); do
  time_ms "${CC[@]}" pull -q "$REG/bench/busybox" >> "$WORK/pull.ms"
  # without NODE_EXTRA_CA_CERTS, as bin/ccrun starts node (see bench/runtime.js)
  time_ms env -u NODE_EXTRA_CA_CERTS node -e 0 >> "$WORK/node.ms"
done
pl=$(median < "$WORK/pull.ms")
nd=$(median < "$WORK/node.ms")
echo "issue 12 target: pull (present, unchanged) - node -e 0 <= 20 ms: $pl - $nd = $(echo "$pl - $nd" | bc -l) ms ($(met "$pl - $nd <= 20"))"

start_many() {
  local s e
  s=$(now_ms)
  for i in $(seq "$MANY"); do "$@" "$i" >/dev/null; done
  e=$(now_ms)
  echo $((e - s))
}
cc_one() { "${CC[@]}" run -d --name "many$1" "$REG/bench/busybox" sleep 600; }
pm_one() { "${PM[@]}" run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name "many$1" "$REG/bench/busybox" sleep 600; }
cm=$(start_many cc_one)
for i in $(seq "$MANY"); do "${CC[@]}" rm -f "many$i" >/dev/null; done
pmm=$(start_many pm_one)
"${PM[@]}" rm -af -t 0 >/dev/null 2>&1 || true
printf '%-36s %8s %8s %14s\n' "start $MANY containers (-d), total" "$cm" "$pmm" "$(ratio "$cm" "$pmm")"

: > "$WORK/small.ms"; : > "$WORK/big.ms"
for _ in $(seq "$RUNS"); do
  time_ms "${CC[@]}" run --rm "$REG/bench/busybox" true >> "$WORK/small.ms"
  time_ms "${CC[@]}" run --rm "$REG/bench/big" true >> "$WORK/big.ms"
done
small=$(median < "$WORK/small.ms")
big=$(median < "$WORK/big.ms")
printf '%-36s %8s %8s %14s\n' 'ccrun run --rm IMAGE true' '~5 MB' "~$BIG_MB MB" 'big/small'
printf '%-36s %8s %8s %14s\n' '' "$small" "$big" "$(ratio "$big" "$small")"
