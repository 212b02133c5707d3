// containerd (its runc shim, io.containerd.runc.v2) with ccrun as the runc
// binary, driven with ctr: the shim passes --root, --log and --log-format
// json, numeric signals, `exec --process --detach --pid-file`, `ps --format
// json`, `kill --all`, `delete --force`, pause and resume. The instance is
// private to this file (own config, directories and socket).
// ctr 1.6 has no --user or --hostname for `run`: the user is tested through
// `ctr task exec --user`, the hostname with podman.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { Containerd, missingBinary, onPty } from '../helpers/engines';
import { waitFor } from '../helpers/runtime';

const missing = missingBinary(['containerd', 'ctr', 'containerd-shim-runc-v2']);
if (missing) {
  t.plan(0, `${missing} is not installed (apt-get install containerd)`);
} else {
  t.test('containerd with ccrun', async (t) => {
    const cd = await Containerd.start(t);
    await scenarios(t, cd);
  });
}

type T = Test;

async function scenarios(t: T, cd: Containerd): Promise<void> {
  const img = cd.image;
  const flags = cd.runFlags();
  let n = 0;
  const newId = (): string => `c${n++}`;
  const taskStatus = (id: string): string => {
    const line = cd.ctr(['task', 'ls']).stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
    return line ? line.trim().split(/\s+/)[2] : 'NONE';
  };
  const remove = (id: string): void => {
    cd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    cd.ctr(['task', 'delete', '--force', id]);
    cd.ctr(['container', 'rm', id]);
  };
  const detached = (args: string[]): string => {
    const id = newId();
    const r = cd.ctr(['run', '-d', ...flags, img, id, ...args]);
    if (r.code !== 0) throw new Error(`ctr run -d failed: ${r.stderr}`);
    t.teardown(() => remove(id));
    return id;
  };

  t.test('run prints the output and returns the exit code', async (t) => {
    const r = cd.ctr(['run', '--rm', ...flags, img, newId(), 'sh', '-c', 'echo hello; exit 3']);
    t.equal(r.stdout, 'hello\n', r.stderr);
    t.equal(r.code, 3);
  });

  t.test('env, workdir and a read-only root', async (t) => {
    const r = cd.ctr(['run', '--rm', ...flags, '--env', 'FOO=bar', '--cwd', '/etc', '--read-only', img, newId(), 'sh', '-c', 'echo $FOO; pwd; touch /x 2>&1; echo status $?']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^bar\n\/etc\n/);
    t.match(r.stdout, /Read-only file system/);
    t.match(r.stdout, /status 1/);
  });

  t.test('ctr --seccomp: the default profile applies to the task and its exec', async (t) => {
    const id = newId();
    const r = cd.ctr(['run', '-d', '--seccomp', ...flags, img, id, 'sleep', '100']);
    t.equal(r.code, 0, r.stderr);
    t.teardown(() => remove(id));
    const e = cd.ctr(['task', 'exec', '--exec-id', 'sec', id, 'grep', '^Seccomp:', '/proc/self/status']);
    t.match(e.stdout, /Seccomp:\s+2/, e.stderr);
    const plain = cd.ctr(['run', '--rm', ...flags, img, newId(), 'grep', '^Seccomp:', '/proc/self/status']);
    t.match(plain.stdout, /Seccomp:\s+0/, 'none without --seccomp');
  });

  t.test('stdin through a pipe', async (t) => {
    // ctr 1.6 never closes a piped stdin, so the container reads one line.
    const r = cd.ctr(['run', '--rm', ...flags, img, newId(), 'sh', '-c', 'read x; echo "got $x"'], { input: 'piped\n' });
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'got piped\n');
  });

  t.test('a memory limit is set on the container cgroup', async (t) => {
    const id = newId();
    const r = cd.ctr(['run', '-d', ...flags, '--memory-limit', String(64 * 1024 * 1024), img, id, 'sleep', '100']);
    t.equal(r.code, 0, r.stderr);
    t.teardown(() => remove(id));
    const pid = Number(cd.ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id + ' '))?.trim().split(/\s+/)[1]);
    t.ok(pid > 0, 'task pid');
    const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const v1 = /^\d+:[^:]*\bmemory\b[^:]*:(.*)$/m.exec(cg);
    const v2 = /^0::(.*)$/m.exec(cg);
    const limit = v1
      ? fs.readFileSync(`/sys/fs/cgroup/memory${v1[1]}/memory.limit_in_bytes`, 'utf8')
      : fs.readFileSync(`/sys/fs/cgroup${v2![1]}/memory.max`, 'utf8');
    t.equal(limit.trim(), String(64 * 1024 * 1024));
  });

  t.test('a detached container: exec (user, cwd, exit code), ps, trapped signal, pause and resume, kill', async (t) => {
    const id = detached(['sh', '-c', 'trap "echo trapped > /trapped" USR1; while :; do sleep 0.2; done']);
    t.equal(taskStatus(id), 'RUNNING');
    const ex = cd.ctr(['task', 'exec', '--exec-id', 'e1', '--user', '1000', '--cwd', '/etc', id, 'sh', '-c', 'id -u; pwd; exit 6']);
    t.equal(ex.code, 6, ex.stderr);
    t.equal(ex.stdout, '1000\n/etc\n');
    const ps = cd.ctr(['task', 'ps', id]);
    t.equal(ps.code, 0, ps.stderr);
    t.ok(ps.stdout.trim().split('\n').length >= 2, `ctr task ps lists the processes (ccrun ps --format json): ${ps.stdout}`);

    t.equal(cd.ctr(['task', 'kill', '-s', 'SIGUSR1', id]).code, 0);
    t.ok(
      await waitFor(() => cd.ctr(['task', 'exec', '--exec-id', `e${n++}`, id, 'cat', '/trapped']).stdout === 'trapped\n', 10_000),
      'the container trapped SIGUSR1',
    );

    t.equal(cd.ctr(['task', 'pause', id]).code, 0);
    t.equal(taskStatus(id), 'PAUSED');
    const paused = cd.ctr(['task', 'exec', '--exec-id', 'ep', id, 'true']);
    t.not(paused.code, 0, 'no exec into a paused container');
    t.equal(cd.ctr(['task', 'resume', id]).code, 0);
    t.equal(taskStatus(id), 'RUNNING');

    // sh as pid 1 ignores SIGTERM: still running; SIGKILL ends it (what `stop` does).
    t.equal(cd.ctr(['task', 'kill', id]).code, 0);
    await new Promise((r) => setTimeout(r, 1000));
    t.equal(taskStatus(id), 'RUNNING', 'SIGTERM ignored by the init');
    t.equal(cd.ctr(['task', 'kill', '-s', 'SIGKILL', id]).code, 0);
    t.ok(await waitFor(() => taskStatus(id) === 'STOPPED', 10_000), 'stopped by SIGKILL');
    t.equal(cd.ctr(['task', 'delete', id]).code, 0);
    t.equal(cd.ctr(['container', 'rm', id]).code, 0);
    t.notOk(fs.existsSync(path.join(cd.stateRoot, 'default', id)), 'no ccrun state left');
  });

  t.test('SIGTERM ends a container that handles it; kill --all', async (t) => {
    const id = detached(['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done']);
    t.equal(cd.ctr(['task', 'kill', id]).code, 0);
    t.ok(await waitFor(() => taskStatus(id) === 'STOPPED', 10_000), 'stopped by SIGTERM');
    const all = detached(['sleep', '100']);
    t.equal(cd.ctr(['task', 'exec', '-d', '--exec-id', 'bg', all, 'sleep', '100']).code, 0);
    t.equal(cd.ctr(['task', 'kill', '--all', '-s', 'SIGKILL', all]).code, 0);
    t.ok(await waitFor(() => taskStatus(all) === 'STOPPED', 10_000), 'kill --all stopped the container');
  });

  t.test('a tty for run and for exec', async (t) => {
    const r = onPty(cd.ctrArgv(['run', '--rm', '-t', ...flags, img, newId(), 'sh', '-c', 'tty; exit 2']));
    t.match(r.stdout, /\/dev\/pts\/0/, r.stdout);
    t.equal(r.code, 2);
    const id = detached(['sleep', '100']);
    const e = onPty(cd.ctrArgv(['task', 'exec', '-t', '--exec-id', 'tty', id, 'sh', '-c', 'tty; exit 5']));
    t.match(e.stdout, /\/dev\/pts\/\d+/, e.stdout);
    t.equal(e.code, 5);
  });

  t.test('the shim log is JSON lines and an error names the problem', async (t) => {
    const r = cd.ctr(['run', '--rm', ...flags, img, newId(), 'no-such-binary']);
    t.not(r.code, 0);
    t.match(r.stderr, /no-such-binary/);
  });
}
