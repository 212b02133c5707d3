// The checks that need a kernel set-up this machine does not have, all in one
// boot of the QEMU VM (test/helpers/cgv2.ts):
//  - the behaviour checks of limits.test.ts (and the container-level ones) on
//    real cgroup v2: this machine's controllers belong to cgroup v1. On a
//    host that is pure v2 already, limits.test.ts covers v2 directly and the
//    VM runs only the AppArmor checks.
//  - process.apparmorProfile applied for real (test/cgv2/apparmor-checks.ts):
//    this machine runs no LSM, Debian's kernel in the VM runs AppArmor.
import t from 'tap';
import { detectCgroupMode } from '../../src/cgroups/index';
import { cgv2Unavailable, checkLines, compileForVm, reportVmRun, runInCgv2Vm } from '../helpers/cgv2';

const APPARMOR = 'apparmor:';
const cgroupsOnHost = detectCgroupMode() === 'v2';
const why = cgv2Unavailable();

t.test('in a VM: limits on real cgroup v2, AppArmor applied for real', { skip: why ? `skipped: the VM cannot be used here: ${why}` : false }, async (t) => {
  const js = compileForVm(t, 'test/cgv2/run-checks.ts');
  const t0 = Date.now();
  // Below tap's 900 s per file, so a slow machine gets a report, not a kill.
  const r = runInCgv2Vm(['node', js, ...(cgroupsOnHost ? [APPARMOR] : [])], { timeoutS: 780 });
  const tail = reportVmRun(t, r, t0, 780);
  const lines = checkLines(r.output);

  t.test('limits observed on real cgroup v2', { skip: cgroupsOnHost ? 'this host is cgroup v2 already: limits.test.ts runs the checks on it' : false }, async (t) => {
    t.match(r.output, /# cgroup mode: v2\b/, 'the checks ran on pure cgroup v2');
    const cgroupLines = lines.filter((l) => !l.text.startsWith(APPARMOR));
    t.ok(cgroupLines.length >= 20, `the checks reported (${cgroupLines.length} results)`);
    for (const l of cgroupLines) t.ok(l.ok, l.text);
  });

  t.test('process.apparmorProfile applied by a kernel running AppArmor', async (t) => {
    const apparmorLines = lines.filter((l) => l.text.startsWith(APPARMOR));
    t.ok(apparmorLines.length >= 20, `the checks reported (${apparmorLines.length} results)`);
    for (const l of apparmorLines) t.ok(l.ok, l.text);
  });

  t.match(r.output, /^\d+ passed, 0 failed$/m, 'none failed');
  t.equal(r.code, 0, 'the run exited 0');
  if (r.code !== 0 && r.code !== 124 && r.code !== 125) t.comment(tail);
});
