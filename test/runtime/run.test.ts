// `ccrun run` as a user sees it: output, exit codes, isolation.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import { spawn } from 'child_process';
import { CCRUN, waitFor, ccrun, runBusybox, stateRoot, busyboxSpec, makeBundle, uniqueId, hostMountsMentioning, busyboxRootfs } from '../helpers/runtime';

const root = stateRoot(t);

t.test('run prints the output and returns the exit code', async (t) => {
  const r = runBusybox(t, root, ['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
  t.equal(r.stdout, 'hello\n');
  t.match(r.stderr, /oops/);
  t.equal(r.code, 3);
  t.equal(runBusybox(t, root, ['true']).code, 0);
});

t.test('a container killed by signal N gives 128+N', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '30']));
  const id = uniqueId('sig');
  const child = spawn(CCRUN, ['--root', root, 'run', '--bundle', bundle, id], { stdio: 'ignore' });
  const code = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.ok(await waitFor(() => ccrun(root, ['state', id]).stdout.includes('"running"')), 'running');
  t.equal(ccrun(root, ['kill', id, 'KILL']).code, 0);
  t.equal(await code, 128 + 9);
  t.equal(ccrun(root, ['state', id]).code, 1, 'foreground run deleted the container');
});

t.test('run forwards signals to the container', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done']));
  const id = uniqueId('fwd');
  const child = spawn(CCRUN, ['--root', root, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.ok(await waitFor(() => out.includes('ready')), 'container started');
  child.kill('SIGTERM');
  t.equal(await code, 42);
  t.match(out, /got TERM/);
});

t.test('the hostname inside differs and the host keeps its own', async (t) => {
  const before = os.hostname();
  const r = runBusybox(t, root, ['hostname']);
  t.equal(r.stdout.trim(), 'box');
  t.equal(os.hostname(), before);
});

t.test('the container cannot see outside its root', async (t) => {
  const r = runBusybox(t, root, ['sh', '-c', 'ls /; test -e /work && echo LEAK; test -e /etc/hostname && cat /etc/hostname']);
  t.notMatch(r.stdout, /LEAK/);
  t.match(r.stdout, /^bin$/m);
  t.match(r.stdout, /^busybox$/m, 'the rootfs /etc/hostname, not the host one');
  t.notMatch(r.stdout, new RegExp(`^${os.hostname()}$`, 'm'));
});

t.test('ps inside shows only the container processes', async (t) => {
  const r = runBusybox(t, root, ['ps', '-o', 'pid,comm']);
  const lines = r.stdout.trim().split('\n').slice(1);
  t.equal(lines.length, 1, r.stdout);
  t.match(lines[0], /^\s*1 ps$/);
});

t.test('the host mount table shows none of the container mounts', async (t) => {
  const spec = busyboxSpec(['sleep', '30']);
  const bundle = makeBundle(t, spec);
  const id = uniqueId('mnt');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  t.equal(ccrun(root, ['run', '--detach', '--bundle', bundle, id], { files: true }).code, 0);
  const state = JSON.parse(ccrun(root, ['state', id]).stdout);
  t.equal(state.status, 'running');
  t.same(hostMountsMentioning(busyboxRootfs()), [], 'no rootfs mount on the host');
  const inside = fs.readFileSync(`/proc/${state.pid}/mountinfo`, 'utf8');
  t.match(inside, / \/proc /, 'the container has its own /proc');
  t.notMatch(fs.readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(`${state.pid}`), 'nothing of the container in the host table');
  t.equal(ccrun(root, ['delete', '--force', id]).code, 0);
});

t.test('in a user namespace, root inside is not root on the host', async (t) => {
  const spec = busyboxSpec(['sh', '-c', 'id -u; sleep 30']);
  spec.linux!.namespaces!.push({ type: 'user' });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const bundle = makeBundle(t, spec);
  const id = uniqueId('userns');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const out = fs.mkdtempSync('/tmp/ccrun-out-');
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const r = ccrun(root, ['create', '--bundle', bundle, id], { files: true });
  t.equal(r.code, 0, r.stderr);
  const state = JSON.parse(ccrun(root, ['state', id]).stdout);
  t.equal(ccrun(root, ['start', id]).code, 0);
  const status = fs.readFileSync(`/proc/${state.pid}/status`, 'utf8');
  t.match(status, /^Uid:\s+100000\s+100000\s+100000\s+100000$/m, 'host sees uid 100000');
  const uidMap = fs.readFileSync(`/proc/${state.pid}/uid_map`, 'utf8');
  t.match(uidMap, /^\s*0\s+100000\s+65536$/m);
  t.equal(ccrun(root, ['delete', '--force', id]).code, 0);
});

t.test('inside a user namespace the process is root', async (t) => {
  const r = runBusybox(t, root, ['id', '-u'], (spec) => {
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), '0');
});
