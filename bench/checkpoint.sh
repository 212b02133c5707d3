#!/usr/bin/env bash
# Checkpoint and restore time of a process with 256 MB resident: ccrun against
# runc on the same bundle, in the same run, side by side. Prints each run and
# the medians.
#   bench/checkpoint.sh [RUNS]      (as root; default 3 runs)
# CRIU has to work on the kernel: where `criu check` fails (this project's
# 6.18 host: "Unexpected rt vDSO area bounds"), the script runs itself in the
# cgroup v2 VM (test/cgv2/run-in-vm.sh, Debian's kernel) with CRIU's modules
# loaded. That VM is software-emulated: compare the two columns, not the
# absolute times.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
MB=256
if [ -z "${CCRUN_BENCH_IN_VM:-}" ] && ! criu check >/dev/null 2>&1; then
  echo "# criu check fails on this kernel ($(uname -r)): running in the cgroup v2 VM" >&2
  [ -f dist/cli/main.js ] || npm run build
  work=$(mktemp -d /var/tmp/ccrun-bench-ckpt.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  CCRUN_BENCH_IN_VM=1 CCRUN_BENCH_WORK=$work test/cgv2/run-in-vm.sh --mem 2048 --timeout 1500 bench/checkpoint.sh "$RUNS"
  exit $?
fi
work=${CCRUN_BENCH_WORK:-$(mktemp -d /var/tmp/ccrun-bench-ckpt.XXXXXX)}
if [ -n "${CCRUN_BENCH_IN_VM:-}" ]; then
  # What criu check needs in the VM (test/cgv2/criu-checks.ts does the same).
  kroot=/var/tmp/cgv2-vm/kroot
  for m in $(grep -v '^#' test/cgv2/criu-modules); do
    [ -d "/sys/module/$(basename "$m" | tr - _)" ] || busybox insmod "$kroot/lib/modules/$(cat $kroot/KVER)/kernel/$m.ko"
  done
  ip link set lo up
  work=/run/ccrun-bench-ckpt; mkdir -p $work   # the guest's tmpfs: images in memory, as on a host's /run
fi
CCRUN=$PWD/bin/ccrun

# The process: 256 MB touched (resident), then it waits.
bundle=$work/bundle
mkdir -p "$bundle"
scripts/make-busybox-rootfs.sh "$bundle/rootfs" >/dev/null
cat > "$work/hog.c" <<'C'
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
  size_t n = (size_t)atoi(argv[1]) << 20;
  char *p = malloc(n);
  for (size_t i = 0; i < n; i += 4096) p[i] = (char)(i >> 12);
  close(open("/ready", O_CREAT | O_WRONLY, 0644));
  for (;;) pause();
}
C
gcc -O2 -static -o "$bundle/rootfs/hog" "$work/hog.c"
(cd "$bundle" && "$CCRUN" spec >/dev/null)
python3 - "$bundle/config.json" "$MB" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c['process']['terminal'] = False
c['process']['args'] = ['/hog', sys.argv[2]]
c['root']['readonly'] = False
json.dump(c, open(sys.argv[1], 'w'), indent=1)
PY

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# one RUNTIME: run, wait until resident, checkpoint, restore, delete; prints
# "dump_ms restore_ms rss_kb state_ms" (state: the runtime's fixed cost of one
# call, for ccrun mostly node's start-up, which emulation makes seconds)
one() {
  local rt=$1 id=bench-ckpt-$1-$$ img=$work/img-$1 t0 t1 t2 t3 t4 pid rss
  rm -rf "$img" "$bundle/rootfs/ready"
  case $rt in
    ccrun) "$CCRUN" run -d -b "$bundle" "$id" </dev/null >/dev/null 2>&1 ;;
    runc) runc run -d -b "$bundle" "$id" </dev/null >/dev/null 2>&1 ;;
  esac
  for _ in $(seq 1 600); do [ -e "$bundle/rootfs/ready" ] && break; sleep 0.1; done
  pid=$($rt state "$id" | grep '"pid"' | tr -dc 0-9)
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  t0=$(now)
  $rt checkpoint --image-path "$img" "$id"
  t1=$(now)
  $rt restore -d --image-path "$img" -b "$bundle" "$id" </dev/null >/dev/null 2>&1
  t2=$(now)
  [ "$($rt state "$id" | grep -c running)" = 1 ] || { echo "$rt: the restored container is not running" >&2; exit 1; }
  t3=$(now)
  $rt state "$id" >/dev/null
  t4=$(now)
  $rt delete -f "$id"
  rm -rf "$img"
  echo "$(ms "$t0" "$t1") $(ms "$t1" "$t2") $rss $(ms "$t3" "$t4")"
}
# ccrun's own state/checkpoint go through bin/ccrun; runc through runc.
ccrun() { "$CCRUN" "$@"; }

echo "# checkpoint + restore of a ${MB} MB-resident process, $RUNS runs each (ms); kernel $(uname -r), $(criu --version | head -1)"
printf '%-6s %-5s %10s %10s %10s %10s\n' runtime run dump restore rss_kb state
: > "$work/ccrun.txt"; : > "$work/runc.txt"
for i in $(seq 1 "$RUNS"); do
  for rt in ccrun runc; do
    r=$(one $rt)
    echo "$r" >> "$work/$rt.txt"
    printf '%-6s %-5s %10s %10s %10s %10s\n' "$rt" "$i" $r
  done
done
for rt in ccrun runc; do
  printf '%-6s %-5s %10s %10s %10s %10s\n' "$rt" median "$(cut -d' ' -f1 "$work/$rt.txt" | median)" "$(cut -d' ' -f2 "$work/$rt.txt" | median)" - "$(cut -d' ' -f4 "$work/$rt.txt" | median)"
done
