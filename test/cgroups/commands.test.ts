// The cgroup commands' command line: states they refuse, flags they refuse,
// output formats. (Limits observed working: limits.test.ts.)
import t, { type Test } from 'tap';
import { spawnSync } from 'child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { busyboxSpec, ccrun, makeBundle, stateRoot, uniqueId, CCRUN } from '../helpers/runtime';

const root = stateRoot(t);
const skip = process.getuid?.() !== 0 ? 'skipped: containers need root' : false;

function detached(t: Test, args: string[]): string {
  const id = uniqueId('cmd');
  const bundle = makeBundle(t, busyboxSpec(args));
  // No pipes: the container keeps the stdio it inherits, and a pipe would keep spawnSync waiting.
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const err = openSync(join(dir, 'stderr'), 'w');
  const r = spawnSync(CCRUN, ['--root', root, 'run', '--detach', '--bundle', bundle, id], { stdio: ['ignore', 'ignore', err], timeout: 60_000 });
  closeSync(err);
  t.equal(r.status, 0, `run --detach ${readFileSync(join(dir, 'stderr'), 'utf8')}`);
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  return id;
}

t.test('pause and resume refuse the wrong states with runc\'s words', { skip }, async (t) => {
  const id = detached(t, ['sleep', '100']);
  const r1 = ccrun(root, ['resume', id]);
  t.not(r1.code, 0);
  t.match(r1.stderr, /container not paused/);
  t.equal(ccrun(root, ['pause', id]).code, 0);
  const r2 = ccrun(root, ['pause', id]);
  t.not(r2.code, 0, 'pausing a paused container fails');
  t.match(r2.stderr, /container not running \(it is paused\)/);
  t.match(ccrun(root, ['state', id]).stdout, /"status": "paused"/);
  const k = ccrun(root, ['kill', id, 'KILL']);
  t.equal(k.code, 0, 'a paused container can be killed');
  const gone = ccrun(root, ['pause', id]);
  for (let i = 0; i < 50 && !/stopped/.test(ccrun(root, ['state', id]).stdout); i++) await new Promise((r) => setTimeout(r, 100));
  const p = ccrun(root, ['pause', id]);
  t.match(p.stderr, /container not running \(it is stopped\)/, `pause of a stopped container (${gone.stderr.trim()})`);
  t.match(ccrun(root, ['events', '--stats', id]).stderr, /container not running/);
  t.match(ccrun(root, ['update', '--memory', '1g', id]).stderr, /container not running/);
  t.match(ccrun(root, ['pause', 'no-such-ctr']).stderr, /does not exist/);
});

t.test('update: flags checked before anything is applied', { skip }, async (t) => {
  const id = detached(t, ['sleep', '100']);
  const cases: [string[], RegExp][] = [
    [[], /nothing to change/],
    [['--memory', 'lots'], /--memory: "lots" is not a size/],
    [['--kernel-memory', '1m'], /kernel memory limits are not supported/],
    [['--cpu-quota', 'x'], /--cpu-quota: "x" is not a whole number/],
    [['--blkio-weight', '2000'], /--blkio-weight: 2000 is not in 10\.\.1000/],
    [['--l3-cache-schema', 'L3:0=f'], /Intel RDT is not supported/],
  ];
  for (const [flags, re] of cases) {
    const r = ccrun(root, ['update', ...flags, id]);
    t.not(r.code, 0, flags.join(' ') || '(no flags)');
    t.match(r.stderr, re);
  }
  const bad = ccrun(root, ['update', '--resources', '-', id], { input: '{"memory":{"limit":"1g"}}' });
  t.match(bad.stderr, /linux\.resources\.memory\.limit: must be a number/);
  const ok = ccrun(root, ['update', '--resources', '-', id], { input: '{"pids":{"limit":64}}' });
  t.equal(ok.code, 0, ok.stderr);
  const ok2 = ccrun(root, ['update', '--pids-limit', '65', '--cpu-share', '512', id]);
  t.equal(ok2.code, 0, ok2.stderr);
  const ev = JSON.parse(ccrun(root, ['events', '--stats', id]).stdout) as { data: { pids: { limit?: number } } };
  t.equal(ev.data.pids.limit, 65, 'the new pids limit shows in events --stats');
});

t.test('ps: table with ps options, json pids, bad format', { skip }, async (t) => {
  const id = detached(t, ['sh', '-c', 'sleep 100 & sleep 100; true']);
  await new Promise((r) => setTimeout(r, 300));
  const j = ccrun(root, ['ps', '--format', 'json', id]);
  const pids = JSON.parse(j.stdout) as number[];
  t.equal(pids.length, 3, `three processes: ${j.stdout.trim()}`);
  const tab = ccrun(root, ['ps', id, '--', '-o', 'pid,comm']);
  t.match(tab.stdout, /^\s*PID COMMAND\n/);
  t.equal(tab.stdout.trim().split('\n').length, 4, 'header + one line per process');
  t.match(tab.stdout, /sleep/);
  const noPid = ccrun(root, ['ps', id, '--', '-o', 'comm']);
  t.match(noPid.stderr, /no PID column/);
  t.match(ccrun(root, ['ps', '--format', 'yaml', id]).stderr, /--format: "yaml" is not table or json/);
  t.match(ccrun(root, ['ps', '--format', 'json', id, '--', '-ef']).stderr, /cannot be used with --format json/);
  t.match(ccrun(root, ['events', '--interval', 'soon', id]).stderr, /--interval: "soon" is not a duration/);
});
