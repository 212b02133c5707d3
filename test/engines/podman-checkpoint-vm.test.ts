// podman container checkpoint/restore with ccrun as its runtime. CRIU cannot
// initialise on this machine's kernel, so podman's checkpoint runs in the
// cgroup v2 VM (Debian's kernel), in a boot of its own: podman and conmon
// under software emulation take minutes, which the runtime's own checks
// (test/runtime/checkpoint-vm.test.ts) should not wait for.
import t from 'tap';
import { join } from 'path';
import { busyboxRootfs } from '../helpers/runtime';
import { missingBinary } from '../helpers/engines';
import { CGV2_HOME, REPO, cgv2Unavailable, checkLines, compileForVm, reportVmRun, runInCgv2Vm } from '../helpers/cgv2';

const missing = missingBinary(['podman', 'conmon']);
const why = missing ? `${missing} is not installed (scripts/setup.sh installs podman and conmon)` : cgv2Unavailable();

t.test('in the VM: podman checkpoint and restore with ccrun', { skip: why ? `skipped: ${why}` : false }, async (t) => {
  busyboxRootfs();
  const js = compileForVm(t, 'test/cgv2/run-checks.ts');
  const t0 = Date.now();
  const r = runInCgv2Vm(['node', js, 'criu: the guest runs CRIU', 'criu-podman:'], {
    timeoutS: 780,
    memMB: 1536,
    env: { CCRUN_CRIU_MODULES: join(REPO, 'test', 'cgv2', 'criu-modules'), CCRUN_CGV2_KROOT: join(CGV2_HOME, 'kroot') },
  });
  const tail = reportVmRun(t, r, t0, 780);
  const lines = checkLines(r.output);
  t.ok(lines.length >= 10, `the checks reported (${lines.length} results)`);
  for (const l of lines) t.ok(l.ok, l.text);
  t.match(r.output, /^\d+ passed, 0 failed$/m, 'none failed');
  t.equal(r.code, 0, 'the run exited 0');
  if (r.code !== 0) t.comment(tail);
});
