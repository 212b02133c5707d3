// The cgroup v2 rig: boots Debian's stock kernel in a throw-away QEMU VM whose
// only cgroup hierarchy is v2 and whose LSM is AppArmor (Debian's default),
// with the host's / shared read-only (so the built project and node run there
// at the same paths), and runs one command.
// Scripts live in test/cgv2/ (from shared/tools/cgv2-vm); kernel and
// initramfs in $CGV2_HOME (default /var/tmp/cgv2-vm).
//
//   const why = cgv2Unavailable();          // a skip reason, or undefined (sets the rig up once)
//   const js = compileForVm(t, 'test/cgv2/run-checks.ts');   // TypeScript -> plain JS in a temp dir
//   const r = runInCgv2Vm(['node', js], { timeoutS: 600 }); // { code, output }
//
// Each boot takes 3-11 s plus the command; node itself starts in ~5 s under
// emulation, so batch everything a test needs into one boot.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..', '..');
export const RIG = path.join(REPO, 'test', 'cgv2');
export const CGV2_HOME = process.env.CGV2_HOME || '/var/tmp/cgv2-vm';

/** Set in the VM's environment so tests there know not to boot another VM. */
export const IN_VM_ENV = 'CCRUN_IN_CGV2_VM';

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function rigReady(): boolean {
  try {
    const kver = fs.readFileSync(path.join(CGV2_HOME, 'kroot', 'KVER'), 'utf8').trim();
    return fs.existsSync(path.join(CGV2_HOME, 'kroot', 'boot', `vmlinux-${kver}`)) && fs.existsSync(path.join(CGV2_HOME, 'out', 'initramfs.cpio.gz'));
  } catch {
    return false;
  }
}

/**
 * Why the VM cannot be used here (a skip message), or undefined when it can.
 * Fetches the kernel (apt-get download, not installed) and builds the
 * initramfs on first use: test/cgv2/setup-host.sh, about 30 s.
 */
export function cgv2Unavailable(): string | undefined {
  if (process.env[IN_VM_ENV]) return 'already inside the cgroup v2 VM';
  if (process.getuid?.() !== 0) return 'the cgroup v2 VM rig needs root';
  if (!have('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (apt-get install --no-install-recommends qemu-system-x86, as scripts/setup.sh does)';
  if (!rigReady()) {
    const r = spawnSync(path.join(RIG, 'setup-host.sh'), [], { encoding: 'utf8', env: { ...process.env, CGV2_HOME }, timeout: 600_000 });
    if (r.status !== 0 || !rigReady()) return `test/cgv2/setup-host.sh failed (kernel download via apt): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' / ')}`;
  }
  return undefined;
}

export interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Compiles a TypeScript entry (and what it imports from src/) to plain JS in
 * a temp dir, so the VM runs it without loading TypeScript.
 */
export function compileForVm(t: Teardown, entry: string): string {
  // Not under /tmp: the guest mounts its own tmpfs there. CGV2_HOME is on the shared root.
  fs.mkdirSync(CGV2_HOME, { recursive: true });
  const out = fs.mkdtempSync(path.join(CGV2_HOME, 'js-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const tsc = path.join(REPO, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(
    tsc,
    ['--outDir', out, '--rootDir', REPO, '--module', 'commonjs', '--target', 'ES2022', '--strict', '--esModuleInterop', '--skipLibCheck', '--resolveJsonModule', '--types', 'node', path.join(REPO, entry)],
    { encoding: 'utf8', cwd: REPO },
  );
  if (r.status !== 0) throw new Error(`tsc for the VM failed: ${r.stdout}${r.stderr}`);
  // Helpers find the repository from their own location (bin/ccrun, scripts/,
  // build/, test/fixtures/): link those in so the compiled copy finds them.
  for (const e of fs.readdirSync(REPO)) {
    if (e !== 'src' && e !== 'test' && !fs.existsSync(path.join(out, e))) fs.symlinkSync(path.join(REPO, e), path.join(out, e));
  }
  fs.mkdirSync(path.join(out, 'test'), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'test', 'fixtures'), path.join(out, 'test', 'fixtures'));
  return path.join(out, entry.replace(/\.ts$/, '.js'));
}

export interface VmResult {
  code: number;
  output: string;
}

/** The environment the guest gets: ours, without tap's loaders (TypeScript under emulation takes minutes). */
function vmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('TAP') || k.startsWith('_TAP') || k.startsWith('TS_NODE')) continue;
    env[k] = v;
  }
  return env;
}

/**
 * Runs argv as root in the VM (cwd: the repository). Exit 124: timed out; 125: the guest failed.
 * firstOutputS: a boot whose command has printed nothing by then counts as
 * stalled and is tried again (run-in-vm.sh's watchdog); run-checks.js prints
 * its first line as soon as node is up, ~15 s after the boot starts here.
 */
export function runInCgv2Vm(argv: string[], opts: { timeoutS?: number; firstOutputS?: number; memMB?: number; env?: Record<string, string> } = {}): VmResult {
  const timeoutS = opts.timeoutS ?? 600;
  const watchdog = ['--first-output', String(opts.firstOutputS ?? 240)];
  const r = spawnSync(path.join(RIG, 'run-in-vm.sh'), ['--timeout', String(timeoutS), ...watchdog, '--mem', String(opts.memMB ?? 1024), '--', ...argv], {
    encoding: 'utf8',
    cwd: REPO,
    env: { ...vmEnv(), ...opts.env, CGV2_HOME, [IN_VM_ENV]: '1' },
    timeout: (timeoutS + 60) * 1000,
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? 124, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The "ok - ..." / "not ok - ..." lines of a run-checks.js output. */
export function checkLines(output: string): { ok: boolean; text: string }[] {
  return output
    .split('\n')
    .map((l) => /^(ok|not ok) - (.*)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ ok: m[1] === 'ok', text: m[2] }));
}

export interface Reporter {
  comment(m: string): void;
  fail(m: string): void;
}

/**
 * Says how a VM run went in the test's output: its time and exit, a boot or
 * timeout failure with the guest's last lines, the per-check times; returns
 * the last lines of its output for a failure message.
 */
export function reportVmRun(t: Reporter, r: VmResult, startedAt: number, timeoutS: number): string {
  t.comment(`VM run: ${((Date.now() - startedAt) / 1000).toFixed(1)} s, exit ${r.code}`);
  const tail = r.output.split('\n').slice(-40).join('\n');
  if (r.code === 125) t.fail(`the VM did not boot, or its init failed (test/cgv2/run-in-vm.sh exit 125); its console:\n${tail}`);
  if (r.code === 124) t.fail(`the VM run timed out after ${timeoutS} s; its last output:\n${tail}`);
  for (const l of r.output.split('\n').filter((x) => /^# .*: \d+ ms$/.test(x))) t.comment(l.slice(2));
  return tail;
}
