// `ccrun exec` as a user (and podman/containerd) sees it: the new process is
// inside the container (namespaces, cgroup, root), gets the container's
// process settings unless the flags say otherwise, and returns its status.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { CCRUN, ccrun, stateRoot, busyboxSpec, makeBundle, uniqueId, waitFor, isAlive, type Tap } from '../helpers/runtime';
import type { Spec } from '../../src/runtime/config/types';

const root = stateRoot(t);

/** A running busybox container (sleeping), deleted at the end of the test. */
function runningContainer(t: Tap, mutate?: (s: Spec) => void): { id: string; pid: number } {
  const spec = busyboxSpec(['sleep', '300']);
  spec.process!.env!.push('FROM_CONFIG=yes');
  spec.process!.cwd = '/etc';
  mutate?.(spec);
  const bundle = makeBundle(t, spec);
  const id = uniqueId('ex');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const r = ccrun(root, ['run', '--detach', '--bundle', bundle, id], { files: true });
  if (r.code !== 0) throw new Error(`run --detach failed: ${r.stderr}`);
  return { id, pid: JSON.parse(ccrun(root, ['state', id]).stdout).pid };
}

function tmpDir(t: Tap): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-exec-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('exec runs in the container and returns the exit code', async (t) => {
  const { id } = runningContainer(t);
  const r = ccrun(root, ['exec', id, 'sh', '-c', 'hostname; pwd; echo $FROM_CONFIG; ps -o pid,comm; exit 7']);
  t.equal(r.code, 7, r.stderr);
  const lines = r.stdout.split('\n');
  t.equal(lines[0], 'box', 'the container hostname (uts namespace)');
  t.equal(lines[1], '/etc', 'the config cwd by default');
  t.equal(lines[2], 'yes', 'the config env by default');
  t.match(r.stdout, /^\s*1 sleep$/m, 'the init is pid 1 (pid namespace)');
  t.equal(ccrun(root, ['exec', id, 'true']).code, 0);
  t.equal(ccrun(root, ['exec', id, 'ls', '/work']).code, 1, 'the container root, not the host one');
});

t.test('flags override the container process: env, cwd, user, groups, caps, no_new_privs', async (t) => {
  const { id } = runningContainer(t, (s) => {
    s.process!.noNewPrivileges = false;
  });
  const r = ccrun(root, [
    'exec', '--env', 'FROM_CONFIG=no', '-e', 'EXTRA=1', '--cwd', '/tmp', '--user', '1000:1001', '--additional-gids', '5',
    '--cap', 'CAP_NET_ADMIN', '--no-new-privs', id,
    'sh', '-c', 'echo $FROM_CONFIG $EXTRA; pwd; id -u; id -g; id -G; grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status',
  ]);
  t.equal(r.code, 0, r.stderr);
  const [env, cwd, uid, gid, groups] = r.stdout.split('\n');
  t.equal(env, 'no 1');
  t.equal(cwd, '/tmp');
  t.equal(uid, '1000');
  t.equal(gid, '1001');
  t.match(groups, /\b5\b/);
  const bnd = BigInt('0x' + /CapBnd:\s+([0-9a-f]+)/.exec(r.stdout)![1]);
  t.ok((bnd >> 12n) & 1n, 'CAP_NET_ADMIN (12) added to the bounding set');
  t.ok((bnd >> 5n) & 1n, 'CAP_KILL (5) of the config kept');
  t.notOk((bnd >> 21n) & 1n, 'CAP_SYS_ADMIN not given');
  t.match(r.stdout, /NoNewPrivs:\s+1/);
  const plain = ccrun(root, ['exec', id, 'grep', 'NoNewPrivs', '/proc/self/status']);
  t.match(plain.stdout, /NoNewPrivs:\s+0/, 'the config value without the flag');
});

t.test('the container rlimits and capabilities apply to exec', async (t) => {
  const { id } = runningContainer(t, (s) => {
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
  });
  const r = ccrun(root, ['exec', id, 'sh', '-c', 'ulimit -n; ulimit -Hn; grep CapEff /proc/self/status']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^321\n654\n/);
  const eff = BigInt('0x' + /CapEff:\s+([0-9a-f]+)/.exec(r.stdout)![1]);
  t.equal(eff, (1n << 5n) | (1n << 10n) | (1n << 29n), 'CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE as in the config');
});

t.test('a detached exec writes its pid file and lives in the container cgroup', async (t) => {
  const { id, pid } = runningContainer(t);
  const dir = tmpDir(t);
  const pidFile = path.join(dir, 'exec.pid');
  const r = ccrun(root, ['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '100'], { files: true });
  t.equal(r.code, 0, r.stderr);
  const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(isAlive(execPid), 'the process runs after ccrun returned');
  const cg = (p: number): string => fs.readFileSync(`/proc/${p}/cgroup`, 'utf8');
  t.equal(cg(execPid), cg(pid), 'same cgroups as the init');
  t.not(cg(execPid), cg(process.pid), 'not the caller cgroups');
  for (const ns of ['mnt', 'pid', 'uts', 'ipc', 'net']) {
    t.equal(fs.readlinkSync(`/proc/${execPid}/ns/${ns}`), fs.readlinkSync(`/proc/${pid}/ns/${ns}`), `${ns} namespace of the container`);
  }
  const ps = ccrun(root, ['exec', id, 'ps', '-o', 'comm']);
  t.match(ps.stdout, /sleep\nsleep/, 'both sleeps visible inside');
  t.equal(ccrun(root, ['delete', '--force', id]).code, 0);
  t.ok(await waitFor(() => !isAlive(execPid)), 'delete --force ends the exec process too');
});

t.test('--process FILE as podman and containerd pass it', async (t) => {
  const { id } = runningContainer(t);
  const dir = tmpDir(t);
  const file = path.join(dir, 'process.json');
  fs.writeFileSync(file, JSON.stringify({
    terminal: false,
    user: { uid: 7, gid: 8 },
    args: ['sh', '-c', 'echo $ONLY; id -u; id -g; pwd; exit 3'],
    env: ['PATH=/bin', 'ONLY=this'],
    cwd: '/dev',
  }));
  const r = ccrun(root, ['exec', '--process', file, id]);
  t.equal(r.code, 3, r.stderr);
  t.equal(r.stdout, 'this\n7\n8\n/dev\n');
  const bad = ccrun(root, ['exec', '--process', path.join(dir, 'missing.json'), id]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /--process .*missing\.json/);
});

t.test('stdin through a pipe, and preserved fds', async (t) => {
  const { id } = runningContainer(t);
  const r = ccrun(root, ['exec', id, 'sh', '-c', 'tr a-z A-Z'], { input: 'piped text\n' });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'PIPED TEXT\n');
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'extra'), 'from fd 3\n');
  const extra = fs.openSync(path.join(dir, 'extra'), 'r');
  t.teardown(() => fs.closeSync(extra));
  const p = spawnSync(CCRUN, ['--root', root, 'exec', '--preserve-fds', '1', id, 'sh', '-c', 'cat <&3'], { stdio: ['ignore', 'pipe', 'pipe', extra], encoding: 'utf8' });
  t.equal(p.status, 0, p.stderr);
  t.equal(p.stdout, 'from fd 3\n');
  const q = spawnSync(CCRUN, ['--root', root, 'exec', id, 'sh', '-c', 'cat <&3'], { stdio: ['ignore', 'pipe', 'pipe', extra], encoding: 'utf8' });
  t.not(q.status, 0, 'fd 3 is not passed without --preserve-fds');
});

t.test('a foreground exec killed by signal N gives 128+N; signals are forwarded', async (t) => {
  const { id } = runningContainer(t);
  t.equal(ccrun(root, ['exec', id, 'sh', '-c', 'kill -9 $$']).code, 128 + 9);
  const child = spawn(CCRUN, ['--root', root, 'exec', id, 'sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.ok(await waitFor(() => out.includes('ready')), 'exec started');
  child.kill('SIGTERM');
  t.equal(await code, 42);
  t.match(out, /got TERM/);
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'running', 'the container itself is untouched');
});

t.test('exec into a missing, stopped or paused container fails clearly and changes nothing', async (t) => {
  const missing = ccrun(root, ['exec', 'no-such-container', 'true']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /does not exist/);

  const { id } = runningContainer(t);
  t.equal(ccrun(root, ['pause', id]).code, 0);
  const paused = ccrun(root, ['exec', id, 'true'], { timeout: 10_000 });
  t.equal(paused.code, 1);
  t.match(paused.stderr, /paused/);
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'paused', 'still paused');
  t.equal(ccrun(root, ['resume', id]).code, 0);
  t.equal(ccrun(root, ['exec', id, 'true']).code, 0, 'exec works once resumed');

  t.equal(ccrun(root, ['kill', id, 'KILL']).code, 0);
  t.ok(await waitFor(() => JSON.parse(ccrun(root, ['state', id]).stdout).status === 'stopped'), 'stopped');
  const stopped = ccrun(root, ['exec', id, 'true']);
  t.equal(stopped.code, 1);
  t.match(stopped.stderr, /container not running/);
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'stopped');
});

t.test('bad exec arguments say what is wrong', async (t) => {
  const { id } = runningContainer(t);
  const noCmd = ccrun(root, ['exec', id]);
  t.equal(noCmd.code, 1);
  t.match(noCmd.stderr, /command|--process/);
  const user = ccrun(root, ['exec', '--user', 'nobody', id, 'true']);
  t.match(user.stderr, /numeric UID/);
  const notFound = ccrun(root, ['exec', id, 'no-such-binary']);
  t.equal(notFound.code, 1);
  t.match(notFound.stderr, /no-such-binary.*not found/);
  const detachTty = ccrun(root, ['exec', '--detach', '--tty', id, 'sh'], { files: true });
  t.equal(detachTty.code, 1);
  t.match(detachTty.stderr, /--console-socket/);
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'running');
});

t.test('exec joins the container user namespace: root inside, the mapped uid on the host', async (t) => {
  const { id } = runningContainer(t, (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  const r = ccrun(root, ['exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^0\n\s*0\s+100000\s+65536\n$/);
  const dir = tmpDir(t);
  const pidFile = path.join(dir, 'p');
  t.equal(ccrun(root, ['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30'], { files: true }).code, 0);
  const status = fs.readFileSync(`/proc/${fs.readFileSync(pidFile, 'utf8')}/status`, 'utf8');
  t.match(status, /^Uid:\s+100000\s+100000\s+100000\s+100000$/m, 'the host sees the mapped uid');
});
