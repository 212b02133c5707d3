// Times ccrun and runc in one run: `run` of /bin/true, create+start+delete,
// and ccrun's start-up (--version, state) against `node -e 0`; measures the
// resident memory of a created container's parked init. Medians of N runs.
'use strict';
const { spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const RUNS = Number(process.argv[2] || 30);
const repo = path.resolve(__dirname, '..');
const ccrun = path.join(repo, 'bin', 'ccrun');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-bench-'));
const rootfs = path.join(work, 'rootfs');
execFileSync(path.join(repo, 'scripts', 'make-busybox-rootfs.sh'), [rootfs], { stdio: 'ignore' });
const { defaultSpec } = require(path.join(repo, 'dist', 'runtime', 'config', 'default-spec.js'));
const spec = defaultSpec();
spec.process.terminal = false;
spec.process.args = ['/bin/true'];
spec.root = { path: 'rootfs', readonly: true };
fs.writeFileSync(path.join(work, 'config.json'), JSON.stringify(spec, null, 2));
const roots = { ccrun: path.join(work, 'state-ccrun'), runc: path.join(work, 'state-runc') };
const bins = { ccrun, runc: 'runc' };

// stderr goes to a file: a created container inherits it, and a pipe would
// keep spawnSync waiting until the container exits.
const errFile = path.join(work, 'stderr');
function time(cmd, args) {
  const err = fs.openSync(errFile, 'w');
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', err] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  fs.closeSync(err);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${fs.readFileSync(errFile, 'utf8')}`);
  return ms;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function bench(label, fn) {
  fn(0); // warm the page cache
  const xs = [];
  for (let i = 1; i <= RUNS; i++) xs.push(fn(i));
  const m = median(xs);
  console.log(`${label.padEnd(44)} median ${m.toFixed(1).padStart(7)} ms  (min ${Math.min(...xs).toFixed(1)})`);
  return m;
}
let n = 0;
const id = (tool) => `bench-${tool}-${process.pid}-${n++}`;
const results = {};
try {
  results.node = bench('node -e 0', () => time(process.execPath, ['-e', '0']));
  results.version = bench('ccrun --version', () => time(ccrun, ['--version']));
  for (const tool of ['ccrun', 'runc']) {
    const b = bins[tool];
    const r = roots[tool];
    results[`${tool}.run`] = bench(`${tool} run /bin/true`, () => time(b, ['--root', r, 'run', '--bundle', work, id(tool)]));
    results[`${tool}.csd`] = bench(`${tool} create+start+delete /bin/true`, () => {
      const i = id(tool);
      return time(b, ['--root', r, 'create', '--bundle', work, i]) + time(b, ['--root', r, 'start', i]) + time(b, ['--root', r, 'delete', '--force', i]);
    });
  }
  // state of a created container, and the memory its parked init holds.
  const rss = {};
  for (const tool of ['ccrun', 'runc']) {
    const b = bins[tool];
    const r = roots[tool];
    const i = id(tool);
    const pidFile = path.join(work, `${i}.pid`);
    spawnSync(b, ['--root', r, 'create', '--bundle', work, '--pid-file', pidFile, i], { stdio: 'ignore' });
    if (tool === 'ccrun') results.state = bench('ccrun state (created container)', () => time(b, ['--root', r, 'state', i]));
    const pid = fs.readFileSync(pidFile, 'utf8').trim();
    rss[tool] = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    console.log(`${(tool + ' parked init resident memory').padEnd(44)} ${String(rss[tool]).padStart(14)} kB`);
    spawnSync(b, ['--root', r, 'delete', '--force', i], { stdio: 'ignore' });
  }
  console.log('');
  const ratio = (a, b) => (a / b).toFixed(2);
  console.log(`run:                 ccrun/runc ${ratio(results['ccrun.run'], results['runc.run'])}; ccrun - node -e 0 = ${(results['ccrun.run'] - results.node).toFixed(1)} ms (target <= 15)`);
  console.log(`create+start+delete: ccrun/runc ${ratio(results['ccrun.csd'], results['runc.csd'])}`);
  console.log(`--version:           ccrun - node -e 0 = ${(results.version - results.node).toFixed(1)} ms`);
  console.log(`state:               ccrun - node -e 0 = ${(results.state - results.node).toFixed(1)} ms (target <= 10)`);
  console.log(`parked init memory:  ccrun/runc ${ratio(rss.ccrun, rss.runc)} (target <= 1)`);
} finally {
  for (const tool of ['ccrun', 'runc']) {
    const r = roots[tool];
    for (const c of fs.existsSync(r) ? fs.readdirSync(r) : []) spawnSync(bins[tool], ['--root', r, 'delete', '--force', c], { stdio: 'ignore' });
  }
  fs.rmSync(work, { recursive: true, force: true });
}
