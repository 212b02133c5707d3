// SCMP_ACT_NOTIFY as a seccomp agent sees it (runtime-spec config-linux.md,
// listenerPath and "The Container Process State"): the agent in
// test/fixtures/seccomp-agent.c gets the state and the notification fd, and
// its answers are what the container's syscalls return. Also the flags the
// init now loads with seccomp(2) itself, and the refusals.
import t from 'tap';
import { spawn, execFileSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ccrun, busyboxSpec, makeBundle, stateRoot, uniqueId, REPO, type Tap } from '../helpers/runtime';
import type { Seccomp, Spec } from '../../src/runtime/config/types';

const root = stateRoot(t);
const ENOMSG = 42; // "No message of desired type": nothing else would answer that
const E2BIG = 7;
// A stuck foreground run ignores SIGTERM while its container waits; a test
// that fails must not hang the suite.
const RUN = { killSignal: 'SIGKILL' as const, timeout: 20_000 };

const agentBinary = ((): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-agent-bin-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'seccomp-agent');
  execFileSync('cc', ['-O1', '-Wall', '-o', bin, path.join(REPO, 'test', 'fixtures', 'seccomp-agent.c')]);
  return bin;
})();

interface Agent {
  sock: string;
  proc: ChildProcess;
  /** The container process state it received (undefined before). */
  state(): Record<string, unknown> | undefined;
  /** "fds N", then "NAME PID" per mkdir/mkdirat it answered. */
  log(): string[];
  /** Resolves once the agent is gone (it leaves when no process is under the filter any more). */
  exited(ms?: number): Promise<boolean>;
}

/** Starts an agent answering mkdir/mkdirat with errno `answer` (0: success) on sock (default: a fresh path). */
async function startAgent(t: Tap, answer: number, sock?: string): Promise<Agent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-agent-'));
  const socket = sock ?? path.join(dir, 'agent.sock');
  const proc = spawn(agentBinary, [socket, dir, String(answer)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await gone;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`the seccomp agent exited (${code}) before it listened`)));
  });
  const read = (name: string): string | undefined => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
  return {
    sock: socket,
    proc,
    state: () => {
      const text = read('state.json');
      return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
    },
    log: () => (read('log') ?? '').split('\n').filter(Boolean),
    exited: (ms = 10_000) => Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
  };
}

const notifyMkdir = (agent: Agent, extra: Partial<Seccomp> = {}): Seccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  listenerPath: agent.sock,
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
  ...extra,
});

function bundle(t: Tap, args: string[], seccomp: Seccomp, mutate?: (s: Spec) => void): string {
  const spec = busyboxSpec(args);
  spec.linux!.seccomp = seccomp;
  mutate?.(spec);
  return makeBundle(t, spec);
}

const MKDIR_SCRIPT = 'mkdir /tmp/x; echo rc=$?; if [ -d /tmp/x ]; then echo exists; else echo absent; fi';

t.test('the agent answers the notified syscalls: with its errno, or with success and nothing done', async (t) => {
  const refusing = await startAgent(t, ENOMSG);
  const r = ccrun(root, ['run', '--bundle', bundle(t, ['sh', '-c', MKDIR_SCRIPT], notifyMkdir(refusing)), uniqueId('nt')], RUN);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'rc=1\nabsent\n');
  t.match(r.stderr, /can't create directory '\/tmp\/x': No message of desired type/);
  t.ok(await refusing.exited(), 'the agent is done once the container is gone');
  t.match(refusing.log(), ['fds 1', /^mkdir \d+$/]);

  const faking = await startAgent(t, 0);
  const fake = ccrun(root, ['run', '--bundle', bundle(t, ['sh', '-c', MKDIR_SCRIPT], notifyMkdir(faking)), uniqueId('nt')], RUN);
  t.equal(fake.stdout, 'rc=0\nabsent\n', fake.stderr);
});

t.test('the agent gets the container process state and the fd at start', async (t) => {
  const agent = await startAgent(t, ENOMSG);
  const b = bundle(t, ['mkdir', '/tmp/x'], notifyMkdir(agent, { listenerMetadata: 'tenant=blue;level=2' }), (s) => (s.annotations = { 'org.example/role': 'probe' }));
  const id = uniqueId('state');
  t.equal(ccrun(root, ['create', '--bundle', b, id], { files: true }).code, 0);
  const pid = JSON.parse(ccrun(root, ['state', id]).stdout).pid as number;
  t.ok(pid > 0);
  // The filter is loaded just before the process's exec, i.e. after start
  // (runc sends this during create).
  t.equal(agent.state(), undefined, 'nothing is sent before start');
  t.equal(ccrun(root, ['start', id], { files: true }).code, 0);
  t.ok(await agent.exited(), 'the container ran to its end');
  t.same(agent.state(), {
    ociVersion: '1.2.0',
    fds: ['seccompFd'],
    pid,
    metadata: 'tenant=blue;level=2',
    state: { ociVersion: '1.2.0', id, status: 'creating', pid, bundle: b, annotations: { 'org.example/role': 'probe' } },
  });
  t.same(agent.log(), ['fds 1', `mkdir ${pid}`], 'one fd came with the state, and it notifies for the container (mkdir is its pid 1, exec\'d)');
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'stopped');
  t.equal(ccrun(root, ['delete', id]).code, 0);
});

t.test('an agent gone by start fails start, naming the path, before the process runs', async (t) => {
  const agent = await startAgent(t, ENOMSG);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-out-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const b = bundle(t, ['touch', '/home/ran'], notifyMkdir(agent), (s) => s.mounts!.push({ destination: '/home', type: 'bind', source: out, options: ['rbind', 'rw'] }));
  const id = uniqueId('gone');
  t.equal(ccrun(root, ['create', '--bundle', b, id], { files: true }).code, 0);
  agent.proc.kill('SIGKILL');
  t.ok(await agent.exited());
  // runtime-spec: failing to send the state is an error; with us it
  // happens at start.
  const r = ccrun(root, ['start', id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, `send the seccomp notification fd to the agent at linux.seccomp.listenerPath ${agent.sock}: Broken pipe`);
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'stopped');
  t.notOk(fs.existsSync(path.join(out, 'ran')), 'the process never ran');
});

t.test('a process started with exec has its own listener and state: its pid, the container\'s in state.pid', async (t) => {
  const first = await startAgent(t, ENOMSG);
  const id = uniqueId('exec');
  t.equal(ccrun(root, ['create', '--bundle', bundle(t, ['sleep', '30'], notifyMkdir(first)), id], { files: true }).code, 0);
  t.equal(ccrun(root, ['start', id], { files: true }).code, 0);
  const initPid = JSON.parse(ccrun(root, ['state', id]).stdout).pid as number;
  // Each filter has its own listener, and the agent takes one connection: a
  // second agent listens on the same path for the exec.
  fs.rmSync(first.sock);
  const second = await startAgent(t, E2BIG, first.sock);
  const pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-pid-')), 'exec.pid');
  t.teardown(() => fs.rmSync(path.dirname(pidFile), { recursive: true, force: true }));
  const r = ccrun(root, ['exec', '--pid-file', pidFile, id, 'mkdir', '/tmp/y'], RUN);
  t.equal(r.code, 1);
  t.match(r.stderr, /Argument list too long/, 'the second agent answered');
  const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.not(execPid, initPid);
  t.match(second.state(), { fds: ['seccompFd'], pid: execPid, state: { id, status: 'running', pid: initPid } });
  t.same(second.log(), ['fds 1', `mkdir ${execPid}`]);
});

t.test('defaultAction SCMP_ACT_NOTIFY: every syscall goes to the agent, which lets the rest carry on', async (t) => {
  const agent = await startAgent(t, 0);
  const profile: Seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: agent.sock, syscalls: [{ names: ['sendmsg'], action: 'SCMP_ACT_ALLOW' }] };
  const r = ccrun(root, ['run', '--bundle', bundle(t, ['sh', '-c', MKDIR_SCRIPT], profile), uniqueId('all')], RUN);
  t.equal(r.stdout, 'rc=0\nabsent\n', r.stderr);
});

t.test('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV and _LOG are loaded, with or without a listener', async (t) => {
  const flags = ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_TSYNC'];
  const status = 'grep -E "^Seccomp(_filters)?:" /proc/self/status; ';
  const agent = await startAgent(t, ENOMSG);
  const r = ccrun(root, ['run', '--bundle', bundle(t, ['sh', '-c', status + MKDIR_SCRIPT], notifyMkdir(agent, { flags })), uniqueId('flags')], RUN);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'Seccomp:\t2\nSeccomp_filters:\t1\nrc=1\nabsent\n', 'one filter, and the agent answered');
  const plain: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
  const p = ccrun(root, ['run', '--bundle', bundle(t, ['sh', '-c', status + MKDIR_SCRIPT], plain), uniqueId('flags')], RUN);
  t.equal(p.stdout, 'Seccomp:\t2\nSeccomp_filters:\t1\nrc=1\nabsent\n', p.stderr);
});

/** What a failed create must not leave: a state directory, a cgroup, a process. */
function leftovers(id: string, marker: string): string[] {
  const found: string[] = [];
  if (fs.readdirSync(root).includes(id)) found.push(`state directory ${id}`);
  for (const d of ['/sys/fs/cgroup/memory/ccrun', '/sys/fs/cgroup/pids/ccrun', '/sys/fs/cgroup/ccrun']) {
    if (fs.existsSync(path.join(d, id))) found.push(`cgroup ${path.join(d, id)}`);
  }
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)) found.push(`process ${p}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

t.test('SCMP_ACT_NOTIFY without listenerPath fails create, naming the field, and leaves nothing', async (t) => {
  const id = uniqueId('nolistener');
  const marker = `marker-${id}`;
  const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  const r = ccrun(root, ['create', '--bundle', bundle(t, ['echo', marker], profile), id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /SCMP_ACT_NOTIFY needs \/linux\/seccomp\/listenerPath/);
  t.equal(ccrun(root, ['state', id]).code, 1, 'no container');
  t.same(leftovers(id, marker), []);
});

t.test('a listenerPath where no agent listens fails create, naming the path, and leaves nothing', async (t) => {
  const id = uniqueId('noagent');
  const marker = `marker-${id}`;
  const missing = path.join(os.tmpdir(), `${id}.sock`);
  const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: missing, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  const r = ccrun(root, ['create', '--bundle', bundle(t, ['echo', marker], profile), id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, `connect to the seccomp agent at linux.seccomp.listenerPath ${missing}`);
  t.match(r.stderr, /No such file or directory/);
  t.equal(ccrun(root, ['state', id]).code, 1, 'no container');
  t.same(leftovers(id, marker), []);
});

t.test('a NOTIFY profile that catches sendmsg is refused: the fd could never reach the agent', async (t) => {
  const id = uniqueId('sendmsg');
  const profile: Seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' };
  const r = ccrun(root, ['create', '--bundle', bundle(t, ['true'], profile), id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /does not let sendmsg through/);
  t.equal(ccrun(root, ['state', id]).code, 1);
});
