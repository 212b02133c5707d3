// The behaviour checks of limits.test.ts (and the container-level ones) on
// real cgroup v2: this machine's controllers belong to cgroup v1, so they run
// in a QEMU VM with only cgroup v2 mounted (test/helpers/cgv2.ts), all in one
// boot. On a host that is pure v2 already, limits.test.ts covers v2 directly.
import t from 'tap';
import { detectCgroupMode } from '../../src/cgroups/index';
import { cgv2Unavailable, checkLines, compileForVm, runInCgv2Vm } from '../helpers/cgv2';

const hostMode = detectCgroupMode();
const why = hostMode === 'v2' ? 'this host is cgroup v2 already: limits.test.ts runs the checks on it' : cgv2Unavailable();

t.test('limits observed on real cgroup v2 (in a VM)', { skip: why ? `skipped: ${why}` : false }, async (t) => {
  const js = compileForVm(t, 'test/cgv2/run-checks.ts');
  const t0 = Date.now();
  // Below tap's 900 s per file, so a slow machine gets a report, not a kill.
  const r = runInCgv2Vm(['node', js], { timeoutS: 780 });
  t.comment(`VM run: ${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${r.code}`);
  for (const l of r.output.split('\n').filter((x) => /^# .*: \d+ ms$/.test(x))) t.comment(l.slice(2));
  t.match(r.output, /# cgroup mode: v2\b/, 'the checks ran on pure cgroup v2');
  const lines = checkLines(r.output);
  t.ok(lines.length >= 20, `the checks reported (${lines.length} results)`);
  for (const l of lines) t.ok(l.ok, l.text);
  t.match(r.output, /^\d+ passed, 0 failed$/m, 'none failed');
  t.equal(r.code, 0, 'the run exited 0');
  if (r.code !== 0) t.comment(r.output.split('\n').slice(-40).join('\n'));
});
