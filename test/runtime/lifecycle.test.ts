// The create/start/state/kill/delete lifecycle and every error the spec
// requires, as a caller of the CLI sees them.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { ccrun, stateRoot, busyboxSpec, makeBundle, uniqueId, isAlive, waitFor, hostMountsMentioning } from '../helpers/runtime';

const root = stateRoot(t);
const state = (id: string): { status: string; pid: number; [k: string]: unknown } => JSON.parse(ccrun(root, ['state', id]).stdout);

t.test('create, start, state at each step, delete', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'sleep 2']));
  const id = uniqueId('life');
  const pidFile = path.join(bundle, 'init.pid');
  const c = ccrun(root, ['create', '--bundle', bundle, '--pid-file', pidFile, id], { files: true });
  t.equal(c.code, 0, c.stderr);
  const created = state(id);
  t.equal(created.status, 'created');
  t.equal(created.id, id);
  t.equal(created.bundle, fs.realpathSync(bundle));
  t.equal(created.ociVersion, '1.2.0');
  t.match(created.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/, 'RFC 3339 with nanoseconds');
  t.equal(Number(fs.readFileSync(pidFile, 'utf8')), created.pid, 'pid file holds the init pid');
  t.ok(isAlive(created.pid), 'the init is parked, alive');
  const ppid = Number(fs.readFileSync(`/proc/${created.pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  t.not(ppid, process.pid, 'no ccrun process stayed behind as its parent');
  t.notOk(fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8').includes('ccrun'), 'the parent is not a ccrun process');

  t.equal(ccrun(root, ['start', id]).code, 0);
  t.equal(state(id).status, 'running');
  t.ok(await waitFor(() => state(id).status === 'stopped', 15_000), 'stopped once the process exited');
  t.equal(state(id).pid, 0);
  const d = ccrun(root, ['delete', id]);
  t.equal(d.code, 0, d.stderr);
  const gone = ccrun(root, ['state', id]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /does not exist/);
});

t.test('list in table, json and -q forms', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '30']));
  const id = uniqueId('list');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  t.equal(ccrun(root, ['create', '--bundle', bundle, id], { files: true }).code, 0);
  const table = ccrun(root, ['list']).stdout;
  t.match(table, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER/);
  t.match(table, new RegExp(`^${id}\\s+\\d+\\s+created\\s`, 'm'));
  const json = JSON.parse(ccrun(root, ['list', '--format', 'json']).stdout) as { id: string; status: string }[];
  t.equal(json.find((c) => c.id === id)?.status, 'created');
  t.ok(ccrun(root, ['list', '-q']).stdout.split('\n').includes(id));
});

t.test('kill by name, SIG name and number; the init of a created container dies too', async (t) => {
  const spec = busyboxSpec(['sh', '-c', 'trap "echo usr1 > /tmp/x; exit 7" USR1; while :; do sleep 0.1; done']);
  const bundle = makeBundle(t, spec);
  const id = uniqueId('kill');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  t.equal(ccrun(root, ['run', '--detach', '--bundle', bundle, id], { files: true }).code, 0);
  const pid = state(id).pid;
  t.equal(ccrun(root, ['kill', id, 'SIGUSR1']).code, 0);
  t.ok(await waitFor(() => !isAlive(pid)), 'trapped USR1 ended the process');
  t.equal(state(id).status, 'stopped');
  const k = ccrun(root, ['kill', id, 'KILL']);
  t.equal(k.code, 1, 'kill of a stopped container fails');
  t.match(k.stderr, /container not running/);
  t.equal(ccrun(root, ['delete', id]).code, 0);

  for (const sig of ['9', 'KILL', 'TERM', 'sigterm']) {
    const cid = uniqueId('kill');
    t.teardown(() => void ccrun(root, ['delete', '--force', cid]));
    t.equal(ccrun(root, ['create', '--bundle', bundle, cid], { files: true }).code, 0);
    const p = state(cid).pid;
    t.equal(ccrun(root, ['kill', cid, sig]).code, 0, `kill ${sig}`);
    t.ok(await waitFor(() => !isAlive(p)), `created container's init died of ${sig}`);
    t.equal(ccrun(root, ['delete', cid]).code, 0);
  }
});

t.test('delete of a running container needs --force; --force kills it', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '30']));
  const id = uniqueId('del');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  t.equal(ccrun(root, ['run', '--detach', '--bundle', bundle, id], { files: true }).code, 0);
  const pid = state(id).pid;
  const d = ccrun(root, ['delete', id]);
  t.equal(d.code, 1);
  t.match(d.stderr, /not stopped: running/);
  t.equal(state(id).status, 'running', 'a refused delete changes nothing');
  t.equal(ccrun(root, ['delete', '--force', id]).code, 0);
  t.notOk(isAlive(pid), 'the init is gone');
  t.notOk(fs.existsSync(path.join(root, id)), 'the state directory is gone');
  t.equal(ccrun(root, ['delete', '--force', 'never-existed']).code, 0, 'delete --force of an unknown id is not an error');
});

t.test('the spec errors: clear message, exit 1, no change to any state', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '30']));
  const id = uniqueId('err');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  t.equal(ccrun(root, ['create', '--bundle', bundle, id], { files: true }).code, 0);
  const before = fs.readdirSync(root).sort();
  const cases: [string[], RegExp][] = [
    [['create', '--bundle', bundle, id], /already exists/],
    [['create', '--bundle', bundle, '../escape'], /invalid container id/],
    [['create', '--bundle', bundle, '.hidden'], /invalid container id/],
    [['create', '--bundle', bundle, 'a/b'], /invalid container id/],
    [['create', '--bundle', '/nonexistent/bundle', uniqueId()], /bundle "\/nonexistent\/bundle" does not exist/],
    [['state', 'nope'], /container "nope" does not exist/],
    [['start', 'nope'], /does not exist/],
    [['kill', 'nope'], /does not exist/],
    [['delete', 'nope'], /does not exist/],
    [['kill', id, 'SIGNOPE'], /unknown signal "SIGNOPE"/],
    [['kill', id, '99'], /unknown signal "99"/],
    [['create'], /usage: ccrun create/],
  ];
  for (const [args, msg] of cases) {
    const r = ccrun(root, args);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, msg, args.join(' '));
  }
  t.equal(ccrun(root, ['start', id]).code, 0);
  const again = ccrun(root, ['start', id]);
  t.equal(again.code, 1);
  t.match(again.stderr, /cannot start container .* it is running, not created/);
  t.same(fs.readdirSync(root).sort(), before, 'no state was made or removed');
  t.notOk(fs.existsSync(path.join(path.dirname(root), 'escape')), 'nothing outside the state root');
});

t.test('missing config.json and missing rootfs', async (t) => {
  const empty = fs.mkdtempSync('/tmp/ccrun-empty-');
  t.teardown(() => fs.rmSync(empty, { recursive: true, force: true }));
  const r = ccrun(root, ['create', '--bundle', empty, uniqueId()]);
  t.equal(r.code, 1);
  t.match(r.stderr, /has no config.json/);
  const spec = busyboxSpec(['true']);
  spec.root = { path: 'no-such-rootfs' };
  const b = makeBundle(t, spec);
  const r2 = ccrun(root, ['create', '--bundle', b, uniqueId()]);
  t.equal(r2.code, 1);
  t.match(r2.stderr, /rootfs ".*no-such-rootfs" does not exist/);
});

t.test('a failed create leaves nothing behind', async (t) => {
  const before = fs.readdirSync(root).sort();
  // Fails inside the init, after namespaces, cgroup and mounts were made.
  const spec = busyboxSpec(['/no/such/binary']);
  const bundle = makeBundle(t, spec);
  const id = uniqueId('fail');
  const r = ccrun(root, ['create', '--bundle', bundle, id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /\/no\/such\/binary/);
  t.same(fs.readdirSync(root).sort(), before, 'no state directory');
  const cgroupDirs = ['/sys/fs/cgroup/memory/ccrun', '/sys/fs/cgroup/pids/ccrun', '/sys/fs/cgroup/ccrun'].map((d) => path.join(d, id));
  t.same(cgroupDirs.filter((d) => fs.existsSync(d)), [], 'no cgroup');
  t.same(hostMountsMentioning(id), [], 'no mount');
  const stray = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('/no/such/binary');
    } catch {
      return false;
    }
  });
  t.same(stray, [], 'no process');

  const bad = busyboxSpec(['true']);
  (bad.process as unknown as { args: string[] }).args = [];
  const b2 = makeBundle(t, bad);
  const r2 = ccrun(root, ['create', '--bundle', b2, uniqueId()]);
  t.equal(r2.code, 1);
  t.match(r2.stderr, /config.json: \/process\/args must be a non-empty array/);
  t.same(fs.readdirSync(root).sort(), before);

  const unsupported = busyboxSpec(['true']);
  unsupported.linux!.intelRdt = { closID: 'x' };
  const r3 = ccrun(root, ['create', '--bundle', makeBundle(t, unsupported), uniqueId()]);
  t.equal(r3.code, 1);
  t.match(r3.stderr, /\/linux\/intelRdt is not supported/, 'unsupported features are refused by name');
});

t.test('concurrent creates of one id: exactly one wins', async (t) => {
  const { spawn } = await import('child_process');
  const bundle = makeBundle(t, busyboxSpec(['sleep', '30']));
  const id = uniqueId('race');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const codes = await Promise.all(
    [0, 1, 2, 3].map(
      () =>
        new Promise<number | null>((resolve) => {
          const c = spawn(path.resolve(__dirname, '../../bin/ccrun'), ['--root', root, 'create', '--bundle', bundle, id], { stdio: 'ignore' });
          c.on('exit', (code) => resolve(code));
        }),
    ),
  );
  t.equal(codes.filter((c) => c === 0).length, 1, `codes ${codes}`);
  t.equal(state(id).status, 'created');
});

t.test('--log with --log-format json records the error as JSON lines', async (t) => {
  const log = path.join(fs.mkdtempSync('/tmp/ccrun-log-'), 'sub', 'log.json');
  t.teardown(() => fs.rmSync(path.dirname(path.dirname(log)), { recursive: true, force: true }));
  const r = ccrun(root, ['--log', log, '--log-format=json', 'state', 'nope']);
  t.equal(r.code, 1);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.at(-1).level, 'error');
  t.match(lines.at(-1).msg, /does not exist/);
  t.match(lines.at(-1).time, /^\d{4}-/);
});

t.test('delete removes cgroups made below the container\'s own', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '30']));
  const id = uniqueId('subcg');
  t.equal(ccrun(root, ['create', '--bundle', bundle, id], { files: true }).code, 0);
  const pid = state(id).pid;
  // The container's cgroup as the host sees it: pids on cgroup v1, the unified one on v2.
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  const line = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => (v2 ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('pids')));
  const own = line ? path.join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids', line.split(':')[2]) : '';
  t.ok(own && fs.statSync(own).isDirectory(), `the container's cgroup ${own} exists`);
  // What a nested runtime or systemd inside the container would make.
  const nested = [path.join(own, 'sub'), path.join(own, 'sub', 'deeper'), path.join(own, 'other')];
  t.teardown(() => {
    ccrun(root, ['delete', '--force', id]);
    for (const d of [...nested, own].reverse()) {
      try {
        fs.rmdirSync(d);
      } catch {
        /* gone, as it should be */
      }
    }
  });
  for (const d of nested) fs.mkdirSync(d);
  const d = ccrun(root, ['delete', '--force', id]);
  t.equal(d.code, 0, d.stderr);
  t.notOk(fs.existsSync(own), 'the container\'s cgroup and all below it are gone');
});
