// OCI hooks as a user of create/start/delete sees them: moments, namespaces,
// the state on stdin, failures, timeouts, and hooks that ignore their stdin.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ccrun, busyboxSpec, makeBundle, stateRoot, uniqueId, isAlive } from '../helpers/runtime';
import type { Hook, Spec } from '../../src/runtime/config/types';

const root = stateRoot(t);

function logDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-hooks-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A host hook that records its stdin, its mount namespace and hostname, and its turn. */
function recorder(dir: string, name: string): Hook {
  return {
    path: '/bin/sh',
    args: ['sh', '-c', `cat > ${dir}/${name}.json; readlink /proc/self/ns/mnt > ${dir}/${name}.mnt; hostname > ${dir}/${name}.host; echo ${name} >> ${dir}/order`],
  };
}

const read = (dir: string, f: string): string => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : '');
const order = (dir: string): string[] => read(dir, 'order').split('\n').filter(Boolean);
const hostMntNs = fs.readlinkSync('/proc/self/ns/mnt');

/** Live host processes running `sleep SECONDS`. */
function sleepers(seconds: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${seconds}\0` && isAlive(Number(p));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function stateDirs(): string[] {
  return fs.readdirSync(root);
}

t.test('each hook runs at its moment, in the right namespace, with the state on stdin', async (t) => {
  const dir = logDir(t);
  const spec = busyboxSpec(['true']);
  spec.annotations = { 'org.example/key': 'value' };
  spec.hooks = {
    prestart: [recorder(dir, 'prestart')],
    createRuntime: [recorder(dir, 'createRuntime')],
    createContainer: [recorder(dir, 'createContainer')],
    startContainer: [{ path: '/bin/true' }],
    poststart: [recorder(dir, 'poststart')],
    poststop: [recorder(dir, 'poststop')],
  };
  const bundle = makeBundle(t, spec);
  const id = uniqueId('hk');

  const c = ccrun(root, ['create', '--bundle', bundle, id], { files: true });
  t.equal(c.code, 0, c.stderr);
  t.same(order(dir), ['prestart', 'createRuntime', 'createContainer'], 'create runs prestart, createRuntime, createContainer and no more');
  const pid = JSON.parse(ccrun(root, ['state', id]).stdout).pid as number;
  // runtime.md: "created" once the environment is made (after lifecycle step 2),
  // which is when these run (steps 3 to 5); crun passes the same.
  for (const kind of ['prestart', 'createRuntime', 'createContainer']) {
    const state = JSON.parse(read(dir, `${kind}.json`));
    t.match(state, { ociVersion: '1.2.0', id, status: 'created', bundle, annotations: { 'org.example/key': 'value' } }, `${kind}: state JSON on stdin, status created`);
  }
  t.equal(JSON.parse(read(dir, 'createRuntime.json')).pid, pid, 'the init\'s host pid');
  t.equal(read(dir, 'prestart.mnt').trim(), hostMntNs, 'prestart runs in the runtime namespace');
  t.equal(read(dir, 'createRuntime.mnt').trim(), hostMntNs, 'createRuntime runs in the runtime namespace');
  t.equal(read(dir, 'createContainer.mnt').trim(), fs.readlinkSync(`/proc/${pid}/ns/mnt`), 'createContainer runs in the container mount namespace');
  t.equal(read(dir, 'createContainer.host').trim(), 'box', 'createContainer runs in the container uts namespace');
  t.equal(read(dir, 'createRuntime.host').trim(), os.hostname());

  const s = ccrun(root, ['start', id], { files: true });
  t.equal(s.code, 0, s.stderr);
  t.same(order(dir), ['prestart', 'createRuntime', 'createContainer', 'poststart'], 'start runs poststart');
  t.match(JSON.parse(read(dir, 'poststart.json')), { id, status: 'running', pid });

  const d = ccrun(root, ['delete', '--force', id], { files: true });
  t.equal(d.code, 0, d.stderr);
  t.same(order(dir), ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'], 'delete runs poststop');
  t.match(JSON.parse(read(dir, 'poststop.json')), { id, status: 'stopped', bundle });
});

t.test('startContainer runs inside the container just before the process', async (t) => {
  const spec = busyboxSpec(['sh', '-c', 'cat /tmp/started']);
  spec.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'grep -o "\\"status\\":\\"[a-z]*\\"" > /tmp/started; hostname >> /tmp/started'] }] };
  const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('sc')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '"status":"created"\nbox\n', 'the hook wrote the container\'s own /tmp, with the state on its stdin');
});

t.test('hook args and env are passed as given', async (t) => {
  const dir = logDir(t);
  const spec = busyboxSpec(['true']);
  const script = `tr "\\0" " " < /proc/$$/cmdline > ${dir}/args; echo "$1 $FOO" >> ${dir}/args`;
  spec.hooks = { prestart: [{ path: '/bin/sh', args: ['custom-argv0', '-c', script, 'zero', 'first'], env: ['FOO=bar'] }] };
  const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('args')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(read(dir, 'args'), `custom-argv0 -c ${script} zero first first bar\n`, 'argv[0], the arguments and only the given env');
});

for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
  t.test(`a failing ${kind} hook fails create and leaves nothing`, async (t) => {
    const dir = logDir(t);
    const spec = busyboxSpec(['sh', '-c', `touch ${dir}/ran`]);
    spec.hooks = { [kind]: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }], poststop: [recorder(dir, 'poststop')] };
    const id = uniqueId('fail');
    const before = stateDirs();
    const r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true });
    t.equal(r.code, 1);
    t.match(r.stderr, new RegExp(`${kind} hook /bin/sh failed with exit status 3`));
    t.same(stateDirs(), before, 'no state directory left');
    t.equal(ccrun(root, ['state', id]).code, 1, 'no container');
    t.notOk(fs.existsSync(path.join(dir, 'ran')), 'the process never ran');
    t.same(order(dir), ['poststop'], 'poststop hooks undo what the earlier hooks did (runtime.md lifecycle)');
    t.match(JSON.parse(read(dir, 'poststop.json')), { id, status: 'stopped' });
  });
}

t.test('a hook that passes its timeout is killed and fails create', async (t) => {
  for (const kind of ['createRuntime', 'createContainer'] as const) {
    const spec = busyboxSpec(['true']);
    // A unique duration names the hook's process among the host's.
    const seconds = `30.${process.pid}${Date.now() % 100000}`;
    spec.hooks = { [kind]: [{ path: '/bin/sleep', args: ['sleep', seconds], timeout: 1 }] };
    const id = uniqueId('slow');
    const started = Date.now();
    const r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true });
    t.equal(r.code, 1, kind);
    t.match(r.stderr, new RegExp(`${kind} hook /bin/sleep timed out after 1 s`));
    t.ok(Date.now() - started < 10_000, `${kind}: gave up after the timeout`);
    t.same(sleepers(seconds), [], `${kind}: the hook was killed`);
    t.equal(ccrun(root, ['state', id]).code, 1);
  }
});

t.test('hooks that never read their stdin do not break ccrun (no EPIPE)', async (t) => {
  const spec: Spec = busyboxSpec(['echo', 'fine']);
  // A state bigger than a pipe buffer: the write would block or fail with EPIPE.
  spec.annotations = { big: 'x'.repeat(256 * 1024) };
  const quick: Hook = { path: '/bin/true' };
  spec.hooks = { prestart: [quick], createRuntime: [quick], createContainer: [quick], poststart: [quick], poststop: [quick] };
  const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('epipe')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'fine\n');
  t.equal(r.stderr, '');
});

t.test('poststart and poststop failures are warnings, and the other poststop hooks still run', async (t) => {
  const dir = logDir(t);
  const spec = busyboxSpec(['echo', 'main']);
  spec.hooks = {
    poststart: [{ path: '/bin/false' }, recorder(dir, 'poststart')],
    poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 7'] }, recorder(dir, 'poststop'), { path: '/nonexistent/hook' }],
  };
  const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('warn')]);
  t.equal(r.code, 0, 'run succeeds');
  t.equal(r.stdout, 'main\n');
  t.match(r.stderr, /warning: poststart hook \/bin\/false failed/);
  t.match(r.stderr, /warning: poststop hook \/bin\/sh failed with exit status 7/);
  t.match(r.stderr, /warning: poststop hook \/nonexistent\/hook could not run/);
  t.same(order(dir), ['poststart', 'poststop']);
});

t.test('a failing startContainer hook stops the container before its process runs', async (t) => {
  const dir = logDir(t);
  const spec = busyboxSpec(['sh', '-c', 'echo ran > /tmp/x; sleep 30']);
  spec.hooks = { startContainer: [{ path: '/bin/false' }], poststop: [recorder(dir, 'poststop')] };
  const id = uniqueId('scfail');
  const bundle = makeBundle(t, spec);
  t.equal(ccrun(root, ['create', '--bundle', bundle, id], { files: true }).code, 0);
  const started = ccrun(root, ['start', id], { files: true });
  t.equal(started.code, 1, 'start fails');
  t.match(started.stderr, new RegExp(`cannot start container "${id}": startContainer hook /bin/false failed with exit status 1`));
  let status = '';
  for (let i = 0; i < 100 && status !== 'stopped'; i++) {
    status = JSON.parse(ccrun(root, ['state', id]).stdout).status;
    if (status !== 'stopped') await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(status, 'stopped');
  t.notOk(fs.existsSync(path.join(bundle, 'rootfs', 'tmp', 'x')), 'the process never ran');
  t.equal(ccrun(root, ['delete', id], { files: true }).code, 0);
  t.same(order(dir), ['poststop']);
});

t.test('run with a failing startContainer hook fails and leaves nothing', async (t) => {
  const dir = logDir(t);
  const spec = busyboxSpec(['sh', '-c', 'echo ran']);
  spec.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }], poststop: [recorder(dir, 'poststop')] };
  const id = uniqueId('scrun');
  const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), id]);
  t.not(r.code, 0, 'run fails');
  t.notMatch(r.stdout, /ran/, 'the process never ran');
  t.match(r.stderr, /startContainer hook \/bin\/sh failed with exit status 3/);
  t.notOk(fs.existsSync(path.join(root, id)), 'no state is left');
  t.same(order(dir), ['poststop']);
});

t.test('bad hooks are refused at create, by name', async (t) => {
  const spec = busyboxSpec(['true']);
  spec.hooks = { prestart: [{ path: 'relative/hook' }] };
  let r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), uniqueId('bad')], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /\/hooks\/prestart\/0\/path must be an absolute path/);
  spec.hooks = { poststop: [{ path: '/bin/true', timeout: 0 }] };
  r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), uniqueId('bad')], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /\/hooks\/poststop\/0\/timeout must be (at least 1|a positive number)/);
});

t.test('features lists every hook kind', async (t) => {
  const f = JSON.parse(ccrun(root, ['features']).stdout);
  t.same(f.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
});
