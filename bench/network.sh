#!/usr/bin/env bash
# Networking benchmark (root; podman with netavark installed): not part of the
# test suite. Everything runs in a network namespace of its own (nsenter
# --net), so neither tool's bridge or NAT rules touch this machine's network.
#  1. `run --rm busybox true` on each tool's default network (ccrun: the CNI
#     bridge; podman: netavark's "podman"), alternating, and the same with
#     --network none: the added cost of networking for both.
#  2. 50 detached containers with -p started, then removed: totals.
# Usage: bench/network.sh   (BENCH_RUNS=10 BENCH_MANY=50)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
export CCRUN_NETWORK=bridge       # this script's own namespace: the default network is the point
RUNS=${BENCH_RUNS:-10}
MANY=${BENCH_MANY:-50}
WORK=$(mktemp -d /var/tmp/ccrun-bench-network.XXXXXX)
NS=ccbench-$$
ip netns add "$NS"
IN=(nsenter --net=/run/netns/"$NS")
"${IN[@]}" ip link set lo up
CC=("${IN[@]}" "$ROOT/bin/ccrun" --store "$WORK/store" --root "$WORK/state")
PM=("${IN[@]}" podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --runtime runc --cgroup-manager cgroupfs --events-backend file)
cleanup() {
  "${CC[@]}" ps -a --format json 2>/dev/null | python3 -c 'import sys, json; [print(json.loads(l)["ID"]) for l in sys.stdin if l.strip()]' | xargs -r "${CC[@]}" rm -f >/dev/null 2>&1 || true
  "${PM[@]}" rm -af >/dev/null 2>&1 || true
  "${PM[@]}" system reset -f >/dev/null 2>&1 || true
  umount -R "$WORK"/podman/root/overlay 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
time_ms() { local s e; s=$(now_ms); "$@" >/dev/null 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; exit 1; }; e=$(now_ms); echo $((e - s)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

"$ROOT/scripts/make-busybox-image.sh" "$WORK/busybox.tar" >/dev/null
"${CC[@]}" load -i "$WORK/busybox.tar" >/dev/null
"${PM[@]}" load -i "$WORK/busybox.tar" >/dev/null
IMG=docker.io/library/busybox:latest
PMRUN=(run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# Warm-ups: each tool makes its default network's bridge and chains once.
"${CC[@]}" run --rm -p 80 "$IMG" true
"${PM[@]}" "${PMRUN[@]}" -p 80 "$IMG" true

echo "$RUNS runs each, alternating; median wall time in ms (in namespace $NS)"
for f in cc pm ccnone pmnone; do : > "$WORK/$f.ms"; done
for _ in $(seq "$RUNS"); do
  time_ms "${CC[@]}" run --rm "$IMG" true >> "$WORK/cc.ms"
  time_ms "${PM[@]}" "${PMRUN[@]}" "$IMG" true >> "$WORK/pm.ms"
  time_ms "${CC[@]}" run --rm --network none "$IMG" true >> "$WORK/ccnone.ms"
  time_ms "${PM[@]}" "${PMRUN[@]}" --network none "$IMG" true >> "$WORK/pmnone.ms"
done
c=$(median < "$WORK/cc.ms"); p=$(median < "$WORK/pm.ms")
cn=$(median < "$WORK/ccnone.ms"); pn=$(median < "$WORK/pmnone.ms")
printf '%-40s %8s %8s %14s\n' '' ccrun podman ccrun/podman
printf '%-40s %8s %8s %14s\n' 'run --rm busybox true (default network)' "$c" "$p" "$(ratio "$c" "$p")"
printf '%-40s %8s %8s %14s\n' 'run --rm --network none busybox true' "$cn" "$pn" "$(ratio "$cn" "$pn")"
printf '%-40s %8s %8s\n' 'added by networking' "$((${c%.*} - ${cn%.*}))" "$((${p%.*} - ${pn%.*}))"

s=$(now_ms)
for i in $(seq "$MANY"); do "${CC[@]}" run -d --name "b$i" -p 80 "$IMG" sleep 600 >/dev/null; done
for i in $(seq "$MANY"); do "${CC[@]}" rm -f "b$i" >/dev/null; done
cm=$(( $(now_ms) - s ))
s=$(now_ms)
for i in $(seq "$MANY"); do "${PM[@]}" run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name "b$i" -p 80 "$IMG" sleep 600 >/dev/null; done
for i in $(seq "$MANY"); do "${PM[@]}" rm -f -t 0 "b$i" >/dev/null; done
pm=$(( $(now_ms) - s ))
printf '%-40s %8s %8s %14s\n' "$MANY x (run -d -p 80, then rm -f), total" "$cm" "$pm" "$(ratio "$cm" "$pm")"
