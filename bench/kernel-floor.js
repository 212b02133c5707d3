// The kernel's own part of `run` and create+start+delete of /bin/true, for
// bench/runtime.js where crun cannot manage this host's cgroups (a hybrid
// host: crun 1.8 refuses the empty cgroup2 mount). Run inside a mount
// namespace of its own without that mount, it times crun with cgroups
// disabled, round by round beside `node -e 0` and beside `crun --version`:
// crun's own start (two execs, as it re-executes a sealed copy of itself,
// and the dynamic linking of its libraries), which the caller subtracts. What
// is left is what any runtime pays for the namespaces, mounts, pivot_root and
// the exec of /bin/true, less the cgroup work (so a lower bound). Prints one
// JSON line of medians.
//   unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && node bench/kernel-floor.js BUNDLE RUNS'
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { commandTimer, median } = require('./timing');

const [bundle, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg || 30);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-floor-'));
const bareEnv = { ...process.env };
delete bareEnv.NODE_EXTRA_CA_CERTS;

const time = commandTimer(path.join(root, 'stderr'));
const crun = (...args) => time('crun', ['--cgroup-manager=disabled', '--root', root, ...args]);

const xs = { node: [], run: [], csd: [], start: [] };
let n = 0;
try {
  for (let round = 0; round <= RUNS; round++) {
    const node = time(process.execPath, ['-e', '0'], bareEnv);
    const run = crun('run', '--bundle', bundle, `floor-${n++}`);
    const id = `floor-${n++}`;
    const csd = crun('create', '--bundle', bundle, id) + crun('start', id) + crun('delete', '--force', id);
    // crun's own start (exec, dynamic linking of its libraries): not the kernel's container work.
    const start = time('crun', ['--version']);
    if (round === 0) continue; // warms the page cache, as bench/runtime.js's rounds do
    xs.node.push(node);
    xs.run.push(run);
    xs.csd.push(csd);
    xs.start.push(start);
  }
  console.log(JSON.stringify(Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, median(v)]))));
} finally {
  for (const id of fs.readdirSync(root).filter((f) => f !== 'stderr')) spawnSync('crun', ['--cgroup-manager=disabled', '--root', root, 'delete', '--force', id], { stdio: 'ignore' });
  fs.rmSync(root, { recursive: true, force: true });
}
