// Runs the behaviour checks without tap, printing "ok - ..." / "not ok - ..."
// lines and "N passed, N failed": the form used inside the cgroup v2 VM, where
// software emulation makes loading tap and TypeScript take minutes.
// Built to plain JS by test/helpers/cgv2.ts (compileForVm).
import { checks as libraryChecks, cannotRun, type Check } from './checks';
import { detectCgroupMode } from '../../src/cgroups/index';
import { containerChecks } from './container-checks';
import { apparmorChecks } from './apparmor-checks';
import { criuChecks, podmanCriuChecks } from './criu-checks';

async function main(): Promise<void> {
  let pass = 0;
  let fail = 0;
  const only = process.argv.slice(2);
  console.log(`# cgroup mode: ${detectCgroupMode()}`);
  const why = cannotRun();
  if (why) {
    console.log(`not ok - checks cannot run: ${why}`);
    console.log(`0 passed, 1 failed`);
    process.exit(1);
  }
  // CRIU's checks load kernel modules first: only when asked for ("criu:", checkpoint-vm.test.ts).
  const all: Check[] = only.some((o) => o.startsWith('criu')) ? [...criuChecks, ...podmanCriuChecks] : [...libraryChecks, ...containerChecks, ...apparmorChecks];
  for (const c of all) {
    if (only.length && !only.some((o) => c.name.includes(o))) continue;
    const teardowns: (() => unknown)[] = [];
    const t0 = Date.now();
    try {
      await c.run({
        ok(cond, msg) {
          if (cond) pass++;
          else fail++;
          console.log(`${cond ? 'ok' : 'not ok'} - ${c.name}: ${msg}`);
        },
        teardown(fn) {
          teardowns.push(fn);
        },
      });
    } catch (e) {
      fail++;
      console.log(`not ok - ${c.name}: threw ${(e as Error).stack ?? String(e)}`.replace(/\n/g, '\n#   '));
    }
    for (const fn of teardowns.reverse()) {
      try {
        await fn();
      } catch (e) {
        fail++;
        console.log(`not ok - ${c.name}: cleanup failed: ${(e as Error).message}`);
      }
    }
    console.log(`# ${c.name}: ${Date.now() - t0} ms`);
  }
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(fail ? 1 : 0);
}

void main();
