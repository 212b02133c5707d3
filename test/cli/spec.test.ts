// `ccrun spec`: runs the built CLI (./bin/ccrun), so build first.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { validateConfig } from '../../src/runtime/config/validate';
import type { Spec } from '../../src/runtime/config/types';

const repo = path.resolve(__dirname, '../..');
const ccrun = path.join(repo, 'bin/ccrun');

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-spec-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [ccrun, ...args], { cwd, encoding: 'utf8' });
}

function readSpec(dir: string): Spec {
  return JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec;
}

t.test('writes runc\'s default config.json in the current directory', async (t) => {
  const dir = tempDir(t);
  const r = run(['spec'], dir);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '', 'prints nothing, as runc');
  const spec = readSpec(dir);
  t.doesNotThrow(() => validateConfig(spec), 'validates with our schema');
  t.equal(spec.ociVersion, '1.2.0');
  t.equal(spec.hostname, 'ccrun');
  t.same(spec.root, { path: 'rootfs', readonly: true });
  t.same(spec.process?.args, ['sh']);
  t.equal(spec.process?.terminal, true);
  t.same(spec.process?.user, { uid: 0, gid: 0 });
  t.same(spec.process?.capabilities, {
    bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
  });
  t.same(spec.process?.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
  t.equal(spec.process?.noNewPrivileges, true);
  t.same(
    spec.mounts?.map((m) => `${m.destination}:${m.type}`),
    ['/proc:proc', '/dev:tmpfs', '/dev/pts:devpts', '/dev/shm:tmpfs', '/dev/mqueue:mqueue', '/sys:sysfs', '/sys/fs/cgroup:cgroup'],
  );
  t.same(spec.linux?.namespaces?.map((n) => n.type), ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
  t.same(spec.linux?.resources, { devices: [{ allow: false, access: 'rwm' }] });
  t.equal(spec.linux?.maskedPaths?.length, 10);
  t.equal(spec.linux?.readonlyPaths?.length, 5);
  t.equal(spec.linux?.uidMappings, undefined);
});

t.test('--rootless maps root to the caller and drops what needs privilege', async (t) => {
  const dir = tempDir(t);
  const r = run(['spec', '--rootless'], dir);
  t.equal(r.status, 0, r.stderr);
  const spec = readSpec(dir);
  t.doesNotThrow(() => validateConfig(spec));
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  t.same(spec.linux?.namespaces?.map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user'], 'no network namespace, a user namespace');
  t.same(spec.linux?.uidMappings, [{ containerID: 0, hostID: uid, size: 1 }]);
  t.same(spec.linux?.gidMappings, [{ containerID: 0, hostID: gid, size: 1 }]);
  t.equal(spec.linux?.resources, undefined, 'no cgroup resources');
  const sys = spec.mounts?.find((m) => m.destination === '/sys');
  t.same(sys, { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  const pts = spec.mounts?.find((m) => m.destination === '/dev/pts');
  t.same(pts?.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'], 'gid=5 removed');
  t.equal(spec.mounts?.length, 7);
});

t.test('-b and --bundle choose the directory', async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  t.equal(run(['spec', '-b', 'a'], dir).status, 0);
  t.equal(run(['spec', '--bundle', path.join(dir, 'b')], '/').status, 0);
  t.ok(fs.existsSync(path.join(dir, 'a/config.json')));
  t.ok(fs.existsSync(path.join(dir, 'b/config.json')));
  t.notOk(fs.existsSync(path.join(dir, 'config.json')), 'nothing written in the current directory');
});

t.test('refuses to overwrite an existing config.json and leaves it untouched', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'config.json'), 'mine');
  const r = run(['spec', '-b', dir], '/');
  t.equal(r.status, 1);
  t.equal(r.stderr, `ccrun: config.json already exists in ${dir}: remove it first\n`);
  t.equal(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'), 'mine');
  t.same(fs.readdirSync(dir), ['config.json'], 'no temporary file left behind');
});

t.test('a missing bundle directory is an error', async (t) => {
  const dir = path.join(tempDir(t), 'missing');
  const r = run(['spec', '-b', dir], '/');
  t.equal(r.status, 1);
  t.equal(r.stderr, `ccrun: bundle "${dir}" does not exist\n`);
  t.notOk(fs.existsSync(dir));
});

t.test('extra arguments are a usage error', async (t) => {
  const r = run(['spec', 'x'], tempDir(t));
  t.equal(r.status, 1);
  t.match(r.stderr, /usage: ccrun spec/);
});
