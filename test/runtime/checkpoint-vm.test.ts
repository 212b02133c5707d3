// checkpoint and restore with CRIU, for real, in one boot of the cgroup v2 VM
// (test/helpers/cgv2.ts): Debian's criu 3.17 cannot initialise on this
// machine's kernel ("Unexpected rt vDSO area bounds"), Debian's own kernel in
// the VM runs it. The checks are test/cgv2/criu-checks.ts. Where CRIU works on
// the host itself the same checks could run here; they are kept in the VM so
// one set of checks runs everywhere the same way.
import t from 'tap';
import { join } from 'path';
import { busyboxRootfs } from '../helpers/runtime';
import { CGV2_HOME, REPO, cgv2Unavailable, checkLines, compileForVm, reportVmRun, runInCgv2Vm } from '../helpers/cgv2';

const why = cgv2Unavailable();

t.test('in the VM: checkpoint and restore through CRIU', { skip: why ? `skipped: the VM cannot be used here: ${why}` : false }, async (t) => {
  busyboxRootfs(); // built here: writes in the guest are thrown away
  const js = compileForVm(t, 'test/cgv2/run-checks.ts');
  const t0 = Date.now();
  // "criu": the runtime's checks (criu:) and podman's (criu-podman:), one boot.
  const r = runInCgv2Vm(['node', js, 'criu'], {
    timeoutS: 780,
    memMB: 1536,
    env: { CCRUN_CRIU_MODULES: join(REPO, 'test', 'cgv2', 'criu-modules'), CCRUN_CGV2_KROOT: join(CGV2_HOME, 'kroot') },
  });
  const tail = reportVmRun(t, r, t0, 780);
  const lines = checkLines(r.output);
  t.ok(lines.length >= 40, `the checks reported (${lines.length} results)`);
  for (const l of lines) t.ok(l.ok, l.text);
  t.match(r.output, /^\d+ passed, 0 failed$/m, 'none failed');
  t.equal(r.code, 0, 'the run exited 0');
  if (r.code !== 0) t.comment(tail);
});
