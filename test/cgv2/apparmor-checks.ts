// process.apparmorProfile applied for real: a small self-contained profile is
// loaded with apparmor_parser, and containers run with and without it show
// from inside (attr/current, a write the profile denies) and from outside
// (the process's label, exec, features) that the profile is the one the
// kernel enforces; a profile that cannot be applied fails the container and
// leaves nothing behind. This host runs no LSM, so run-checks.ts runs these
// in the VM (Debian's kernel has AppArmor on by default).
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { busyboxSpec, makeBundle, stateRoot, uniqueId } from '../helpers/runtime';
import type { Assert, Check } from './checks';
import { brief, ccrunT, cgroupDir, outDir, readOr, runDetached, T, until, withOut } from './container-checks';

const PROFILE = 'ccrun-test-deny-write';
const SECURITYFS = '/sys/kernel/security';

// Everything allowed but writes under /tmp; no includes, so it loads without
// the distribution's policy or abstractions. attach_disconnected: fds the
// process inherits from outside its root (stdio pipes) stay usable.
const PROFILE_TEXT = `abi <abi/3.0>,
profile ${PROFILE} flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
  deny /tmp/** w,
}
`;

/** What the container prints: its label, then whether a write under /tmp got through. */
const PROBE = 'cat /proc/self/attr/current; { echo x > /tmp/probe && echo write-ok; } 2>&1; true';

/** Why AppArmor cannot be exercised here, or undefined. */
function apparmorMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'loading a profile needs root';
  if (readOr('/sys/module/apparmor/parameters/enabled', 'N') !== 'Y') return 'the kernel does not run AppArmor (/sys/module/apparmor/parameters/enabled is not Y; boot with lsm=...,apparmor)';
  if (!existsSync(join(SECURITYFS, 'apparmor'))) return `securityfs is not mounted (mount -t securityfs securityfs ${SECURITYFS}; the VM's init does)`;
  if (spawnSync('sh', ['-c', 'command -v apparmor_parser'], { stdio: 'ignore' }).status !== 0) return 'apparmor_parser is not installed (apt-get install apparmor, as scripts/setup.sh does)';
  return undefined;
}

/** The test profile loaded (unloaded at teardown); false, with the reason reported, where it cannot be. */
function loadTestProfile(a: Assert): boolean {
  const why = apparmorMissing();
  if (why) {
    a.ok(false, `AppArmor cannot be exercised: ${why}`);
    return false;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-apparmor-'));
  a.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, PROFILE);
  writeFileSync(file, PROFILE_TEXT);
  const load = spawnSync('apparmor_parser', ['-r', file], { encoding: 'utf8' });
  a.ok(load.status === 0, `apparmor_parser -r loads the test profile (${load.status}: ${load.stderr.trim()})`);
  if (load.status !== 0) return false;
  a.teardown(() => spawnSync('apparmor_parser', ['-R', file]));
  const listed = readOr(join(SECURITYFS, 'apparmor', 'profiles'), '');
  a.ok(listed.split('\n').includes(`${PROFILE} (enforce)`), `the kernel lists it in enforce mode (${listed.trim().replace(/\n/g, ' / ')})`);
  return true;
}

/** Pids of ccrun-init helpers still alive: a failed create must leave none. */
function initHelpers(): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if (readOr(`/proc/${e}/cmdline`, '').includes('ccrun-init')) pids.push(Number(e));
  }
  return pids;
}

/** A failed create or run: nothing in the state root, no cgroup, no helper process. */
function nothingLeft(a: Assert, root: string, id: string, what: string): void {
  a.ok(readdirSync(root).length === 0, `${what}: no state left (${readdirSync(root).join(', ') || 'empty'})`);
  a.ok(!existsSync(cgroupDir(id)), `${what}: no cgroup left (${cgroupDir(id)})`);
  a.ok(initHelpers().length === 0, `${what}: no ccrun-init process left (${initHelpers().join(', ') || 'none'})`);
}

export const apparmorChecks: Check[] = [
  {
    name: 'apparmor: a loaded profile confines the container (inside, outside, exec, features)',
    async run(a) {
      if (!loadTestProfile(a)) return;
      const root = stateRoot(a);

      // The control: the same probe without a profile runs unconfined and writes.
      const free = ccrunT(root, ['run', '--bundle', makeBundle(a, busyboxSpec(['sh', '-c', PROBE])), uniqueId('aa-free')], T);
      const freeLines = free.stdout.trim().split('\n');
      a.ok(free.code === 0 && freeLines[0] === 'unconfined', `without a profile: inside reads "unconfined" (${brief(free)}: ${freeLines.join(' / ')})`);
      a.ok(freeLines.includes('write-ok'), 'without a profile: the write under /tmp succeeds');

      // The confined container stays up so it can be looked at from outside.
      const out = outDir(a);
      const spec = busyboxSpec(['sh', '-c', `(${PROBE}) > /out/probe; exec sleep 1000`]);
      withOut(spec, out);
      spec.process!.apparmorProfile = PROFILE;
      const id = uniqueId('aa');
      const run = runDetached(a, root, makeBundle(a, spec), id);
      a.ok(run.code === 0, `run --detach with apparmorProfile ${PROFILE} (${brief(run)})`);
      if (run.code !== 0) return;
      a.ok(await until(() => readOr(join(out, 'probe'), '').split('\n').length >= 2, 60_000), 'the container reported its probe');
      const inside = readOr(join(out, 'probe'), '').split('\n');
      a.ok(inside[0] === `${PROFILE} (enforce)`, `inside: /proc/self/attr/current reads "${PROFILE} (enforce)" (${inside[0]})`);
      a.ok(!inside.includes('write-ok') && /Permission denied/.test(inside.join(' ')), `inside: the write under /tmp is denied (${inside.slice(1).join(' / ')})`);

      const st = ccrunT(root, ['state', id], T);
      let pid = 0;
      try {
        pid = (JSON.parse(st.stdout) as { pid: number }).pid;
      } catch {
        /* checked below */
      }
      a.ok(pid > 0, `state gives the container's pid (${brief(st)})`);
      const outside = readOr(`/proc/${pid}/attr/current`, '(unreadable)');
      a.ok(outside === `${PROFILE} (enforce)`, `outside: /proc/${pid}/attr/current of the container's process reads "${PROFILE} (enforce)" (${outside})`);

      // exec takes the container's process spec, profile included (as runc).
      const ex = ccrunT(root, ['exec', id, 'sh', '-c', PROBE], T);
      const exLines = ex.stdout.trim().split('\n');
      a.ok(ex.code === 0 && exLines[0] === `${PROFILE} (enforce)`, `exec: the new process runs under the profile too (${brief(ex)}: ${ex.stdout.trim().replace(/\n/g, ' / ')})`);
      a.ok(!exLines.includes('write-ok'), 'exec: its write under /tmp is denied too');

      const del = ccrunT(root, ['delete', '--force', id], T);
      a.ok(del.code === 0, `delete --force (${brief(del)})`);

      const f = ccrunT(root, ['features'], T);
      let enabled: unknown;
      try {
        enabled = (JSON.parse(f.stdout) as { linux: { apparmor: { enabled: boolean } } }).linux.apparmor.enabled;
      } catch {
        /* checked below */
      }
      a.ok(enabled === true, `features: linux.apparmor.enabled is true on a host running AppArmor (${String(enabled)})`);
    },
  },
  {
    name: 'apparmor: a profile that cannot be applied fails the container and leaves nothing behind',
    async run(a) {
      if (!loadTestProfile(a)) return;
      const root = stateRoot(a);

      // Not loaded: refused by create before anything is made.
      const missing = 'ccrun-test-not-loaded';
      const spec = busyboxSpec(['true']);
      spec.process!.apparmorProfile = missing;
      const id = uniqueId('aa-missing');
      const r = ccrunT(root, ['create', '--bundle', makeBundle(a, spec), id], T);
      a.ok(r.code === 1, `create with an unloaded profile exits 1 (${brief(r)})`);
      a.ok(r.stderr.includes(`AppArmor profile "${missing}"`) && /is not loaded on this host.*apparmor_parser -r/.test(r.stderr), `the error names the profile and the fix (${r.stderr.trim()})`);
      nothingLeft(a, root, id, 'unloaded profile');

      // A name the listing cannot vouch for (a policy namespace that does not
      // exist) gets through to the init, whose write is refused by the
      // kernel: the container fails there, and run removes it all the same.
      const nsSpec = busyboxSpec(['true']);
      nsSpec.process!.apparmorProfile = `:ccrun-test-no-such-ns:${PROFILE}`;
      const nsId = uniqueId('aa-ns');
      const n = ccrunT(root, ['run', '--bundle', makeBundle(a, nsSpec), nsId], T);
      a.ok(n.code !== 0, `run with a profile the kernel refuses fails (${brief(n)})`);
      a.ok(/apply AppArmor profile ":ccrun-test-no-such-ns:/.test(n.stderr), `the error comes from applying the profile (${n.stderr.trim()})`);
      nothingLeft(a, root, nsId, 'refused profile');
    },
  },
];
