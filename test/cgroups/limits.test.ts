// Limits observed working on this machine's cgroups (v1 or hybrid here; on a
// pure v2 host, v2): OOM kill, pids.max, cpu throttling, freeze, devices,
// live update, kill-all and destroy. The same checks run on real cgroup v2 in
// a VM from cgv2-vm.test.ts.
import t from 'tap';
import { checks, cannotRun } from '../cgv2/checks';
import { containerChecks } from '../cgv2/container-checks';
import { detectCgroupMode } from '../../src/cgroups/index';

const why = cannotRun();
t.comment(`cgroup mode: ${detectCgroupMode()}`);
for (const c of [...checks, ...containerChecks]) {
  t.test(c.name, { skip: why ? `skipped: ${why}` : false }, async (t) => {
    await c.run({ ok: (cond, msg) => t.ok(cond, msg), teardown: (fn) => t.teardown(fn) });
  });
}
