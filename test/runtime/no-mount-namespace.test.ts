// A config without a mount namespace (runtime-spec: an unlisted namespace is
// shared with the runtime): the container runs in the caller's mount
// namespace, as with runc: its rootfs, /proc, /dev and mounts are set up
// there under a bind of the rootfs, and delete (or a failed create) removes
// them. The caller here is a shell in a private mount namespace of its own
// (unshare -m --propagation private), so the test's own mount table is never
// touched, and the script reads that too (/proc/TESTPID/mountinfo) to show it.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { CCRUN, ccrun, stateRoot, busyboxSpec, makeBundle, uniqueId, busyboxRootfs } from '../helpers/runtime';
import type { Spec } from '../../src/runtime/config/types';

const root = stateRoot(t);
const rootfs = busyboxRootfs();
const testMountNs = fs.readlinkSync('/proc/self/ns/mnt');

function withoutMountNs(args: string[]): Spec {
  const spec = busyboxSpec(args);
  spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'mount');
  return spec;
}

/** Lines "PREFIX=MOUNTPOINT-BELOW-ROOTFS FSTYPE" for each mount at or below the rootfs in a mountinfo file. */
const MOUNTS_BELOW = (prefix: string, file: string): string =>
  `awk -v r="$ROOTFS" '{ for (i = 7; i <= NF && $i != "-"; i++) ; if ($5 == r || index($5, r "/") == 1) print "${prefix}=" substr($5, length(r) + 1) " " $(i + 1) }' ${file}`;

/** Runs the script as the caller, in a private mount namespace; "key=value" lines come back as pairs. */
function inPrivateMountNs(script: string, env: Record<string, string>): { code: number; lines: [string, string][]; out: string } {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, CCRUN, ROOT: root, ROOTFS: rootfs, TESTPID: String(process.pid), ...env },
    timeout: 120_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
  return { code: r.status ?? 255, lines, out };
}

const values = (lines: [string, string][], key: string): string[] => lines.filter(([k]) => k === key).map(([, v]) => v);

t.test('no mount namespace: the container shares the caller\'s, with its rootfs, /proc and /dev set up there and removed at delete', async (t) => {
  const dir = fs.mkdtempSync(path.join(root, '..', 'ccrun-nomnt-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const id = uniqueId('nomnt');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const spec = withoutMountNs(['sh', '-c', 'echo "inside=$(readlink /proc/self/ns/mnt)"; test -e /work && echo "sees=host"; test -x /bin/busybox && echo "sees=rootfs"; echo "pid1=$(cat /proc/1/comm)"; sleep 300']);
  const bundle = makeBundle(t, spec);
  const script = `
    echo "caller=$(readlink /proc/self/ns/mnt)"
    ${MOUNTS_BELOW('before', '/proc/self/mountinfo')}
    "$CCRUN" --root "$ROOT" create --bundle "$BUNDLE" "$ID" > "$DIR/container.out" 2>&1 || { echo "create=failed"; cat "$DIR/container.out"; exit 1; }
    pid=$("$CCRUN" --root "$ROOT" state "$ID" | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
    echo "container=$(readlink /proc/$pid/ns/mnt)"
    ${MOUNTS_BELOW('during', '/proc/self/mountinfo')}
    ${MOUNTS_BELOW('testns', '/proc/$TESTPID/mountinfo')}
    "$CCRUN" --root "$ROOT" start "$ID" || echo "start=failed"
    i=0; while ! grep -q pid1= "$DIR/container.out" && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    "$CCRUN" --root "$ROOT" exec "$ID" sh -c 'echo "exec=$(readlink /proc/self/ns/mnt)"; test -x /bin/busybox && echo "execsees=rootfs"; test -e /work && echo "execsees=host"; true'
    "$CCRUN" --root "$ROOT" kill "$ID" KILL
    i=0; while ! "$CCRUN" --root "$ROOT" state "$ID" | grep -q '"stopped"' && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    "$CCRUN" --root "$ROOT" delete "$ID" || echo "delete=failed"
    ${MOUNTS_BELOW('after', '/proc/self/mountinfo')}
    cat "$DIR/container.out"
  `;
  const r = inPrivateMountNs(script, { BUNDLE: bundle, ID: id, DIR: dir });
  t.equal(r.code, 0, r.out);
  const one = (k: string): string | undefined => values(r.lines, k)[0];
  t.not(one('caller'), testMountNs, 'the caller runs in a mount namespace of its own (the test\'s is never touched)');
  t.same(values(r.lines, 'create'), [], r.out);
  t.equal(one('container'), one('caller'), 'the container\'s mount namespace is the caller\'s (/proc/PID/ns/mnt)');
  t.equal(one('inside'), one('caller'), 'and so it reads from inside');
  t.same(values(r.lines, 'sees'), ['rootfs'], 'its root is the rootfs, not the caller\'s /');
  t.equal(one('pid1'), 'sh', 'its own /proc (pid namespace)');
  t.same(values(r.lines, 'before'), [], 'nothing mounted on the rootfs before create');
  const during = values(r.lines, 'during');
  t.ok(during.some((d) => d.startsWith(' ')), 'in the caller\'s namespace during the container\'s life: the rootfs bind');
  for (const m of ['/proc proc', '/dev tmpfs', '/dev/pts devpts', '/dev/shm tmpfs', '/dev/mqueue mqueue', '/sys sysfs', '/tmp tmpfs']) {
    t.ok(during.includes(m), `and below it: ${m}`);
  }
  t.same(values(r.lines, 'testns'), [], 'none of it in the test\'s own mount namespace');
  t.equal(one('exec'), one('caller'), 'exec joins the same (shared) mount namespace');
  t.same(values(r.lines, 'execsees'), ['rootfs'], 'and enters the container\'s root');
  t.same(values(r.lines, 'delete'), [], 'delete succeeds');
  t.same(values(r.lines, 'after'), [], 'delete removed every mount create made');
  t.equal(ccrun(root, ['state', id]).code, 1, 'no state left');
});

t.test('no mount namespace: a create that fails half-way leaves no mount behind', async (t) => {
  const id = uniqueId('nomntfail');
  const spec = withoutMountNs(['true']);
  // Mounted by the init after the rootfs, /proc and /dev: the kernel refuses the size.
  spec.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=not-a-size'] });
  const bundle = makeBundle(t, spec);
  const script = `
    "$CCRUN" --root "$ROOT" create --bundle "$BUNDLE" "$ID" 2>&1 | sed 's/^/err=/'
    ${MOUNTS_BELOW('after', '/proc/self/mountinfo')}
    "$CCRUN" --root "$ROOT" state "$ID" >/dev/null 2>&1 && echo "state=left"
    true
  `;
  const r = inPrivateMountNs(script, { BUNDLE: bundle, ID: id });
  t.equal(r.code, 0, r.out);
  t.match(values(r.lines, 'err').join('\n'), /mount tmpfs \(type tmpfs\) on \/tmp/, 'create fails, naming the mount');
  t.same(values(r.lines, 'after'), [], 'the rootfs bind and what was mounted below it are gone');
  t.same(values(r.lines, 'state'), [], 'no state left');
});

t.test('no mount namespace: what cannot mount in the caller\'s namespace is refused by name', async (t) => {
  const spec = withoutMountNs(['true']);
  spec.linux!.namespaces!.push({ type: 'user' });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const id = uniqueId('nomntuser');
  const r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /a new user namespace but no mount namespace: its root cannot mount the rootfs in the caller's mount namespace \(add \{"type": "mount"\}\)/);
  t.equal(ccrun(root, ['state', id]).code, 1, 'nothing made');
});
