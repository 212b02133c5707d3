// `ccrun pull` and `ccrun run IMAGE` as an unprivileged user (rootless), as
// that user sees them: images from the registry rig unpacked into a store of
// the user's own (no file of root's in it), containers whose root is the user
// outside, layers' whiteouts and opaque directories honoured through the
// userxattr overlay and the image volumes, detached containers with
// logs/exec/stop/rm, and what cannot work without privileges refused by name.
import t from 'tap';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { release } from 'os';
import { join, resolve } from 'path';
import { startRegistry, MT, type RegistryRig } from '../helpers/registry';
import { waitFor } from '../helpers/runtime';
import { gzip, tarArchive, type EntrySpec } from '../helpers/tar-builder';
import { unprivilegedUser, type UnprivilegedUser, type UserResult } from '../helpers/unprivileged-user';
import { lgetxattr } from '../../src/image/unpack/fs-ops';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');

/** Linux 5.11 first mounts overlayfs in a user namespace (with userxattr). */
function kernelHasUserxattrOverlay(): boolean {
  const [major, minor] = release().split('.').map(Number);
  return major > 5 || (major === 5 && minor >= 11);
}

function userNamespacesAllowed(): boolean {
  const read = (p: string): string | undefined => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').trim() : undefined);
  return read('/proc/sys/kernel/unprivileged_userns_clone') !== '0' && read('/proc/sys/user/max_user_namespaces') !== '0';
}

const skip =
  (process.geteuid?.() ?? 0) !== 0
    ? 'needs root (to make the unprivileged user)'
    : !fs.existsSync(join(ROOT, 'dist/frontend/run.js'))
      ? 'dist/ not built (npm run build:ts)'
      : !fs.existsSync('/bin/busybox')
        ? 'busybox-static is not installed (apt-get install busybox-static)'
        : !kernelHasUserxattrOverlay()
          ? `kernel ${release()}: overlayfs in a user namespace needs Linux 5.11`
          : !userNamespacesAllowed()
            ? 'unprivileged user namespaces are disabled on this host'
            : false;

let reg: RegistryRig;
let user: UnprivilegedUser;
let work: string;
let store: string;
let state: string;
let BB: string;
let LAYERS: string;
/** Unpacked directories of the test image's own two layers (above busybox's). */
let layerDirs: { middle: string; top: string };

/** ccrun as the user, with the store and state root of this test (both the user's). */
function cc(args: string[], o: { root?: string } = {}): Promise<UserResult> {
  return user.run([CCRUN, '--store', store, '--root', o.root ?? state, ...args], { timeout: 60_000 });
}

function containerDirs(): string[] {
  const d = join(store, 'containers');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

function stateDirs(): string[] {
  return fs.existsSync(state) ? fs.readdirSync(state) : [];
}

function mountsMentioning(text: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(text));
}

/** Paths under dir (relative) that the user does not own. */
function notOwnedByUser(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(join(dir, rel))) {
      const r = join(rel, name);
      const st = fs.lstatSync(join(dir, r));
      if (st.uid !== user.uid || st.gid !== user.gid) out.push(`${r} (${st.uid}:${st.gid})`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

// Above busybox: a layer of files, then one that deletes and hides some of them.
const middleLayer: EntrySpec[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/gone.txt', content: 'deleted by the top layer\n' },
  { path: 'data/', type: 'dir' },
  { path: 'data/vol/', type: 'dir' },
  { path: 'data/vol/a.txt', content: 'hidden by the opaque volume dir\n' },
  { path: 'opt/', type: 'dir' },
  { path: 'opt/opq/', type: 'dir' },
  { path: 'opt/opq/x.txt', content: 'hidden by the opaque dir\n' },
  { path: 'opt/keep/', type: 'dir' },
  { path: 'opt/keep/base.txt', content: 'stays\n' },
  { path: 'srv/', type: 'dir' },
  { path: 'srv/owned', content: 'of uid 1000 in the tar\n', uid: 1000, gid: 1000 },
  { path: 'srv/suid', content: '#!/bin/sh\n', mode: 0o4755 },
  { path: 'srv/node', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
  { path: 'srv/xattrs', content: 'x\n', xattrs: { 'user.ccrun-test': 'kept', 'trusted.ccrun-test': 'root only' } },
  { path: 'ro/', type: 'dir', mode: 0o555 },
  { path: 'ro/f', content: 'in a read-only directory\n' },
];
const topLayer: EntrySpec[] = [
  { path: 'etc/.wh.gone.txt', content: '' },
  { path: 'data/vol/.wh..wh..opq', content: '' },
  { path: 'data/vol/c.txt', content: 'c\n' },
  { path: 'opt/opq/.wh..wh..opq', content: '' },
  { path: 'opt/opq/y.txt', content: 'y\n' },
  // A layer must not steer overlayfs: its own user.overlay.opaque is dropped.
  { path: 'opt/keep/', type: 'dir', xattrs: { 'user.overlay.opaque': 'y' } },
  { path: 'opt/keep/top.txt', content: 'top\n' },
];

t.before(async () => {
  if (skip) return;
  user = unprivilegedUser('ccrun-rootless-img');
  work = user.ownedDir('ccrun-rootless-img-');
  store = join(work, 'store');
  state = join(work, 'state');
  t.teardown(async () => {
    for (const id of stateDirs()) await cc(['delete', '--force', id]).catch(() => undefined);
    user.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  });
  reg = await startRegistry(t);
  const oci = join(work, 'busybox-oci');
  fs.mkdirSync(oci);
  execFileSync(join(ROOT, 'scripts/make-busybox-image.sh'), [join(work, 'busybox.tar')], { stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync('tar', ['xf', join(work, 'busybox.tar'), '-C', oci]);
  const blob = (digest: string): Buffer => fs.readFileSync(join(oci, 'blobs/sha256', digest.slice(7)));
  const index = JSON.parse(fs.readFileSync(join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  const bbLayer = { data: blob(manifest.layers[0].digest), mediaType: MT.ociLayerGzip };
  await reg.pushImage('library/busybox', 'latest', { layers: [bbLayer], config });
  const pushed = await reg.pushImage('test/layers', 'v1', {
    layers: [bbLayer, { data: gzip(tarArchive(middleLayer)), mediaType: MT.ociLayerGzip }, { data: gzip(tarArchive(topLayer)), mediaType: MT.ociLayerGzip }],
    config: { ...config, config: { ...config.config, Volumes: { '/data/vol': {} } }, rootfs: undefined },
  });
  const layerDir = (i: number): string => join(store, 'layers', 'sha256', pushed.layers[i].diffId.slice(7));
  layerDirs = { middle: layerDir(1), top: layerDir(2) };
  BB = `${reg.host}/library/busybox`;
  LAYERS = `${reg.host}/test/layers:v1`;
});

t.test('pull as the user: layers unpacked the rootless way, every file the user\'s', { skip }, async (t) => {
  const bb = await cc(['pull', BB]);
  t.equal(bb.code, 0, bb.stderr);
  const layers = await cc(['pull', LAYERS]);
  t.equal(layers.code, 0, layers.stderr);
  t.match(layers.stderr, /device nodes in image layers are not created.*srv\/node/, 'the skipped device node is said');
  t.match(layers.stderr, /extended attributes an unprivileged user may not set.*trusted\.ccrun-test/, 'so is the xattr only root may set');
  const { middle, top } = layerDirs;
  t.notOk(fs.existsSync(join(middle, 'srv/node')), 'no device node');
  t.equal(lgetxattr(join(middle, 'srv/xattrs'), 'user.ccrun-test')?.toString(), 'kept', "the layer's user.* xattrs are kept");
  t.equal(lgetxattr(join(top, 'opt/opq'), 'user.overlay.opaque')?.toString(), 'y', 'opaque dir marked for a userxattr overlay');
  t.equal(lgetxattr(join(top, 'opt/opq'), 'trusted.overlay.opaque'), null);
  t.equal(lgetxattr(join(top, 'opt/keep'), 'user.overlay.opaque'), null, "the tar's own overlay xattr is dropped");
  const wh = fs.lstatSync(join(top, 'etc/gone.txt'));
  t.ok(wh.isCharacterDevice() && wh.rdev === 0, 'the whiteout is a 0:0 char device, made unprivileged');
  t.equal(fs.statSync(join(middle, 'srv/suid')).mode & 0o7777, 0o4755, 'modes kept, setuid too');
  t.same(notOwnedByUser(store), [], 'no file of the store belongs to anyone but the user');
});

t.test('run --rm: root inside is the user outside, and nothing is left', { skip }, async (t) => {
  const r = await cc(['run', '--rm', BB, 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; cat /etc/hostname; head -1 /etc/passwd']);
  t.equal(r.code, 0, r.stderr);
  const [uid, gid, map, hostname, passwd] = r.stdout.trim().split('\n');
  t.equal(uid, '0', 'uid 0 inside');
  t.equal(gid, '0');
  t.match(map, new RegExp(`^\\s*0\\s+${user.uid}\\s+1$`), `the single mapping: root is uid ${user.uid} outside`);
  t.match(hostname, /^[0-9a-f]{12}$/);
  t.equal(passwd, 'root:x:0:0:root:/root:/bin/sh', "the image's files");
  t.same(containerDirs(), [], 'no container directory');
  t.same(stateDirs(), [], 'no runtime state');
  t.same(mountsMentioning(work), [], 'no mount on the host');
  t.ok(await waitFor(() => user.processes().length === 0, 5000), 'no process left');
});

t.test("a file written in one container is not in the next, nor in the store", { skip }, async (t) => {
  const a = await cc(['run', '--rm', BB, 'sh', '-c', 'echo a > /written; rm /bin/ls; cat /written']);
  t.equal(a.stdout, 'a\n', a.stderr);
  const b = await cc(['run', '--rm', BB, 'sh', '-c', 'test -e /written && echo seen || echo unseen; test -e /bin/ls && echo ls-there']);
  t.equal(b.stdout, 'unseen\nls-there\n', b.stderr);
  t.same(containerDirs(), []);
});

/** What the test image shows, and what it must show. */
const LAYERS_SCRIPT = [
  'test -e /etc/gone.txt && echo present || echo gone',
  'ls /opt/opq | tr "\\n" " "; echo',
  'ls /opt/keep | tr "\\n" " "; echo',
  'ls /data/vol | tr "\\n" " "; echo',
  'test -e /srv/node && echo node || echo no-node',
  'stat -c "%u:%g" /srv/owned',
  'stat -c "%a" /srv/suid',
  'cat /ro/f',
].join('; ');
const LAYERS_SEEN = [
  'gone',
  'y.txt ',
  'base.txt top.txt ',
  'c.txt ', // the image volume, copied from the layers as the overlay shows them
  'no-node',
  '0:0', // uid 1000 in the tar: the user's file, root inside
  '4755',
  'in a read-only directory',
  '',
];

t.test("the layers' whiteouts and opaque directories are honoured", { skip }, async (t) => {
  const r = await cc(['run', '--rm', LAYERS, 'sh', '-c', LAYERS_SCRIPT]);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.split('\n'), LAYERS_SEEN);
  t.same(containerDirs(), []);
});

t.test('detached: logs, exec by name, stop, rm', { skip }, async (t) => {
  const d = await cc(['run', '-d', '--name', 'web', BB, 'sh', '-c', 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']);
  t.equal(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  t.match(id, /^[0-9a-f]{64}$/);
  t.ok(await waitFor(async () => (await cc(['logs', 'web'])).stdout.includes('started'), 10_000), 'logs show its output');
  const ps = await cc(['ps']);
  t.match(ps.stdout, /web/);
  const ex = await cc(['exec', 'web', 'sh', '-c', 'id -u; echo "$(cat /proc/self/uid_map)"']);
  t.equal(ex.code, 0, ex.stderr);
  t.match(ex.stdout, new RegExp(`^0\\n\\s*0\\s+${user.uid}\\s+1\\n$`), 'exec by name joins its user namespace as root');
  const unmapped = await cc(['exec', '-u', '1000', 'web', 'id']);
  t.not(unmapped.code, 0);
  t.match(unmapped.stderr, /uid 1000 is not mapped in the user namespace of container .*--user 0/);
  const stop = await cc(['stop', 'web']);
  t.equal(stop.code, 0, stop.stderr);
  t.match((await cc(['logs', 'web'])).stdout, /started\nbye\n/, 'stopped with its StopSignal');
  t.match((await cc(['ps', '-a'])).stdout, /Exited \(0\)/);
  t.same(stateDirs(), [], 'the runtime state is gone once stopped');
  const rm = await cc(['rm', 'web']);
  t.equal(rm.code, 0, rm.stderr);
  t.same(containerDirs(), [], 'rm removed its directory (overlay work dir included)');
  // The monitor's exit command may still be on its way out.
  t.ok(await waitFor(() => user.processes().length === 0, 5000), `no process left (${user.processes().join(' ')})`);
});

t.test('detached with the default store and state root: the exit is recorded by a monitor that has no environment', { skip }, async (t) => {
  // No --store/--root: they come from XDG_DATA_HOME and XDG_RUNTIME_DIR,
  // which the monitor's exit command does not inherit.
  const env = { XDG_DATA_HOME: join(work, 'xdg-data'), XDG_RUNTIME_DIR: join(work, 'xdg-run') };
  for (const dir of Object.values(env)) {
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, user.uid, user.gid);
  }
  const cc2 = (args: string[]): Promise<UserResult> => user.run([CCRUN, ...args], { env, timeout: 60_000 });
  t.teardown(async () => {
    await cc2(['rm', '-f', 'self-exit']);
  });
  const d = await cc2(['run', '-d', '--name', 'self-exit', BB, 'sh', '-c', 'exit 5']);
  t.equal(d.code, 0, d.stderr);
  t.ok(await waitFor(async () => /Exited \(5\)/.test((await cc2(['ps', '-a'])).stdout), 10_000), 'the exit code is recorded');
  const runtimeRoot = join(env.XDG_RUNTIME_DIR, 'ccrun');
  t.ok(await waitFor(() => !fs.existsSync(runtimeRoot) || fs.readdirSync(runtimeRoot).every((n) => n.startsWith('.')), 10_000), 'and the runtime state removed');
});

t.test('what cannot work rootless is refused by name, leaving nothing', { skip }, async (t) => {
  const mem = await cc(['run', '--rm', '--memory', '64m', '--cpus', '0.5', BB, 'true']);
  if (mem.code === 0) {
    t.pass('a delegated cgroup: limits work rootless');
  } else {
    t.match(mem.stderr, /--memory, --cpus: resource limits need a cgroup, and this rootless run has none/);
  }
  const user1000 = await cc(['run', '--rm', '-u', '1000', BB, 'id']);
  t.not(user1000.code, 0);
  t.match(user1000.stderr, /-u 1000 runs as uid 1000, gid 0, which is not mapped in a rootless container.*\(-u 0\)/);
  const rootsRoot = fs.mkdtempSync('/tmp/ccrun-rootless-img-state-');
  t.teardown(() => fs.rmSync(rootsRoot, { recursive: true, force: true }));
  fs.chmodSync(rootsRoot, 0o777);
  const shared = await cc(['run', '--rm', BB, 'true'], { root: rootsRoot });
  t.not(shared.code, 0);
  t.match(shared.stderr, new RegExp(`the state directory ${rootsRoot} belongs to uid 0.*XDG_RUNTIME_DIR or --root`));
  t.same(fs.readdirSync(rootsRoot), [], 'nothing made in a state root not its own');
  t.same(containerDirs(), []);
  t.same(stateDirs(), []);
});

t.test('--network none and host', { skip }, async (t) => {
  const none = await cc(['run', '--rm', BB, 'ls', '/sys/class/net']);
  t.equal(none.code, 0, none.stderr);
  t.equal(none.stdout, 'lo\n', 'its own network namespace: only lo');
  const host = await cc(['run', '--rm', '--network', 'host', BB, 'ls', '/sys/class/net']);
  t.equal(host.code, 0, host.stderr);
  t.same(host.stdout.trim().split('\n').sort(), fs.readdirSync('/sys/class/net').sort(), "the host's interfaces");
});

t.test('rmi removes layers with read-only directories; the store stays the user\'s', { skip }, async (t) => {
  const rmi = await cc(['rmi', LAYERS]);
  t.equal(rmi.code, 0, rmi.stderr);
  t.notOk(fs.existsSync(layerDirs.middle), 'the layer with a 0555 directory is gone');
  t.same(fs.readdirSync(join(store, 'tmp')), [], 'nothing left half-removed');
  t.same(notOwnedByUser(store), []);
});
