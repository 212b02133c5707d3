// Checkpoint and restore observed from outside, with the built CLI and
// Debian's criu: run in the cgroup v2 VM by test/runtime/checkpoint-vm.test.ts
// (run-checks.js criu:), because CRIU cannot initialise on this machine's
// kernel. Each check says what a user sees: the counter goes on from where it
// was, pids inside the container are the same, a server answers again, the
// front end's export comes back under a new name with its root changes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { join } from 'path';
import { busyboxSpec, ccrun, CCRUN, makeBundle, stateRoot, uniqueId, type Result } from '../helpers/runtime';
import type { Spec } from '../../src/runtime/config/types';
import type { Assert, Check } from './checks';
import { outDir, readOr, status, until, withOut } from './container-checks';

/** Every ccrun call starts node under emulation (~5 s); CRIU itself takes seconds more. */
const T = { timeout: 240_000, files: true };

const sh = (cmd: string): Result => {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  return { code: r.status ?? 255, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};

/** Loads CRIU's kernel modules (test/cgv2/criu-modules) and brings lo up: what criu check needs here. */
export function prepareGuestForCriu(): string | undefined {
  const kroot = process.env.CCRUN_CGV2_KROOT || '/var/tmp/cgv2-vm/kroot';
  const kver = readOr(join(kroot, 'KVER'), '');
  const list = fs.readFileSync(process.env.CCRUN_CRIU_MODULES || join(__dirname, 'criu-modules'), 'utf8');
  const failed: string[] = [];
  for (const m of list.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    const name = m.split('/').pop()!;
    if (fs.existsSync(`/sys/module/${name.replace(/-/g, '_')}`)) continue;
    const r = sh(`busybox insmod ${join(kroot, 'lib/modules', kver, 'kernel', `${m}.ko`)}`);
    if (r.code !== 0) failed.push(`${m}: ${r.stderr.trim()}`);
  }
  sh('ip link set lo up');
  return failed.length ? `insmod failed: ${failed.join('; ')}` : undefined;
}

function statePid(root: string, id: string): number {
  const r = ccrun(root, ['state', id], T);
  try {
    return (JSON.parse(r.stdout) as { pid: number; status: string }).pid;
  } catch {
    return 0;
  }
}


/** run --detach with files for stdio (a pipe would stay open as long as the container runs). */
function runDetached(root: string, bundle: string, id: string): Result {
  return ccrun(root, ['run', '--detach', '--bundle', bundle, id], T);
}

/** The container's processes as pid-in-container numbers (NSpid's last field), from the host. */
function innerPids(root: string, id: string): number[] {
  const r = ccrun(root, ['ps', '--format', 'json', id], T);
  let pids: number[] = [];
  try {
    pids = JSON.parse(r.stdout) as number[];
  } catch {
    return [];
  }
  return pids
    .map((p) => /^NSpid:\s*(.*)$/m.exec(readOr(`/proc/${p}/status`, ''))?.[1].trim().split(/\s+/).pop())
    .filter((x): x is string => !!x)
    .map(Number)
    .sort((a, b) => a - b);
}

const countLines = (file: string): string[] => readOr(file, '').split('\n').filter(Boolean);

/** Lines 1..n with no gap and no restart: a counter that went on from where it was. */
function contiguous(lines: string[]): boolean {
  return lines.length > 0 && lines.every((l, i) => Number(l) === i + 1);
}

const COUNTER = 'sleep 100000 & echo $! > /out/child; i=0; while :; do i=$((i+1)); echo $i >> /out/count; echo $i >> /tmp/count; sleep 0.2; done';

/** A counter container running detached, with its own state root, /out and image directory. */
async function startCounter(a: Assert, prefix: string): Promise<{ root: string; out: string; images: string; bundle: string; id: string }> {
  const root = stateRoot(a);
  const out = outDir(a);
  const images = join(outDir(a), 'images');
  const spec = busyboxSpec(['sh', '-c', COUNTER]);
  withOut(spec, out);
  const bundle = makeBundle(a, spec);
  const id = uniqueId(prefix);
  const r = runDetached(root, bundle, id);
  a.ok(r.code === 0, `run --detach: ${r.stderr.trim()}`);
  a.ok(await until(() => countLines(join(out, 'count')).length >= 5, 60_000), 'the counter counts');
  return { root, out, images, bundle, id };
}


/**
 * The front end's store for a check: a copy of the host's busybox store on the
 * guest's tmpfs (overlayfs cannot take an upper dir on the guest's overlay
 * root), a state root, and ccrun with both.
 */
function frontendStore(a: Assert): { store: string; root: string; g: (args: string[]) => Result } {
  const store = fs.mkdtempSync('/run/ccrun-criu-store-');
  a.teardown(() => fs.rmSync(store, { recursive: true, force: true }));
  for (const e of ['blobs', 'images.json', 'layers']) sh(`cp -a /var/lib/ccrun/${e} ${store}/`);
  const root = stateRoot(a);
  return { store, root, g: (args) => ccrun(root, ['--store', store, ...args], T) };
}

export const criuChecks: Check[] = [
  {
    name: 'criu: the guest runs CRIU (criu check)',
    async run(a) {
      const why = prepareGuestForCriu();
      a.ok(!why, why ?? 'CRIU\'s kernel modules loaded');
      const r = sh('criu check 2>&1');
      a.ok(r.code === 0, `criu check passes: ${r.stdout.trim().split('\n').slice(-3).join(' / ')}`);
    },
  },
  {
    name: 'criu: a counter checkpointed and restored goes on from where it was, same pids inside',
    async run(a) {
      const { root, out, images, bundle, id } = await startCounter(a, 'cr');
      const before = innerPids(root, id);
      const ck = ccrun(root, ['checkpoint', '--image-path', images, id], T);
      a.ok(ck.code === 0, `checkpoint exits 0: ${ck.stderr.trim()}`);
      const atDump = countLines(join(out, 'count')).length;
      a.ok(fs.existsSync(join(images, 'inventory.img')), 'the image directory holds CRIU\'s dump');
      a.ok(ccrun(root, ['state', id], T).code !== 0, 'the container is gone after the checkpoint (as runc: without --leave-running it is deleted)');
      await new Promise((res) => setTimeout(res, 1000));
      a.ok(countLines(join(out, 'count')).length === atDump, `nothing counts while it is checkpointed (${atDump} lines)`);
      const rs = ccrun(root, ['restore', '--detach', '--image-path', images, '--bundle', bundle, id], T);
      a.ok(rs.code === 0, `restore --detach exits 0: ${rs.stderr.trim()}`);
      a.ok(status(root, id) === 'running', 'state says running');
      a.ok(await until(() => countLines(join(out, 'count')).length >= atDump + 3, 60_000), 'the restored counter counts again');
      const lines = countLines(join(out, 'count'));
      a.ok(contiguous(lines), `the count goes on from ${atDump}, not from 1 (${lines.slice(Math.max(0, atDump - 2), atDump + 3).join(',')}...; ${lines.length} lines, 1..n without restart)`);
      const after = innerPids(root, id);
      const child = Number(readOr(join(out, 'child'), '0'));
      a.ok(after.includes(1) && after.includes(child), `pid 1 and the background child (pid ${child}) are there again inside the container (before ${before.join(',')}, after ${after.join(',')})`);
      const k = ccrun(root, ['kill', id, 'KILL'], T);
      a.ok(k.code === 0, `kill works on the restored container: ${k.stderr.trim()}`);
      a.ok(await until(() => status(root, id) === 'stopped', 60_000), 'it stops');
      const d = ccrun(root, ['delete', id], T);
      a.ok(d.code === 0 && !fs.existsSync(join(root, id)), `delete removes it: ${d.stderr.trim()}`);
      a.ok(!fs.existsSync(`/sys/fs/cgroup/ccrun/${id}`), 'and its cgroup');
    },
  },
  {
    name: 'criu: restore in the foreground waits for the container and exits with its status',
    async run(a) {
      const root = stateRoot(a);
      const out = outDir(a);
      const images = join(outDir(a), 'images');
      const spec = busyboxSpec(['sh', '-c', 'i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo $i >> /out/count; sleep 0.2; done; exit 7']);
      withOut(spec, out);
      const bundle = makeBundle(a, spec);
      const id = uniqueId('crfg');
      a.ok(runDetached(root, bundle, id).code === 0, 'run --detach');
      a.ok(await until(() => countLines(join(out, 'count')).length >= 3, 60_000), 'it counts');
      const ck = ccrun(root, ['checkpoint', '--image-path', images, id], T);
      a.ok(ck.code === 0, `checkpoint exits 0: ${ck.stderr.trim()}`);
      const rs = ccrun(root, ['restore', '--image-path', images, '--bundle', bundle, id], T);
      a.ok(rs.code === 7, `restore without --detach exits with the container's status 7 (got ${rs.code}: ${rs.stderr.trim()})`);
      const lines = countLines(join(out, 'count'));
      a.ok(lines.length === 100 && contiguous(lines), `the restored process ran to its end: 1..100 (${lines.length} lines)`);
      a.ok(!fs.existsSync(join(root, id)), 'and the container was deleted');
    },
  },
  {
    name: 'criu: --leave-running leaves the original running; a second restore under a new id works',
    async run(a) {
      const { root, images, bundle, id } = await startCounter(a, 'lr');
      const copy = `${id}-copy`;
      const pid = statePid(root, id);
      const ck = ccrun(root, ['checkpoint', '--leave-running', '--image-path', images, id], T);
      a.ok(ck.code === 0, `checkpoint --leave-running exits 0: ${ck.stderr.trim()}`);
      a.ok(status(root, id) === 'running' && statePid(root, id) === pid, 'the original is still running, same init');
      const rs = ccrun(root, ['restore', '--detach', '--image-path', images, '--bundle', bundle, copy], T);
      a.ok(rs.code === 0, `restore under a new id exits 0: ${rs.stderr.trim()}`);
      a.ok(status(root, copy) === 'running', 'the copy is running');
      const copyPid = statePid(root, copy);
      a.ok(copyPid > 0 && copyPid !== pid, `the copy is another process tree (init ${copyPid}, original ${pid})`);
      const tmpCount = (p: number): string[] => countLines(`/proc/${p}/root/tmp/count`);
      const n0 = tmpCount(copyPid).length;
      a.ok(await until(() => tmpCount(copyPid).length > n0 + 2, 60_000), 'the copy counts on');
      a.ok(contiguous(tmpCount(copyPid)), `the copy's own /tmp (a tmpfs CRIU restored) counts on from the dump: 1..${tmpCount(copyPid).length} without restart`);
      const list = ccrun(root, ['list', '--format', 'json'], T);
      a.ok(list.stdout.includes(`"${id}"`) && list.stdout.includes(`"${copy}"`), 'list shows both');
      const again = ccrun(root, ['restore', '--detach', '--image-path', images, '--bundle', bundle, copy], T);
      a.ok(again.code !== 0 && /already exists/.test(again.stderr), `a restore over an existing id is refused: ${again.stderr.trim()}`);
      a.ok(status(root, copy) === 'running', 'and the existing one keeps running');
      // Iterative migration: a pre-dump leaves it running, the dump after it writes only what changed.
      const pre = join(images, '..', 'pre');
      const final = join(images, '..', 'final');
      const pd = ccrun(root, ['checkpoint', '--pre-dump', '--image-path', pre, id], T);
      a.ok(pd.code === 0 && status(root, id) === 'running', `checkpoint --pre-dump exits 0 and leaves it running: ${pd.stderr.trim()}`);
      const fd = ccrun(root, ['checkpoint', '--parent-path', '../pre', '--image-path', final, id], T);
      a.ok(fd.code === 0, `checkpoint --parent-path ../pre exits 0: ${fd.stderr.trim()}`);
      const pagesOf = (dir: string): number => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('pages-')).reduce((n, f) => n + fs.statSync(join(dir, f)).size, 0) : 0);
      a.ok(pagesOf(final) < pagesOf(images), `the dump on top of the pre-dump holds fewer pages (${pagesOf(final)} bytes) than a whole dump (${pagesOf(images)})`);
      const back = ccrun(root, ['restore', '--detach', '--image-path', final, '--bundle', bundle, id], T);
      a.ok(back.code === 0 && status(root, id) === 'running', `and it restores from the two: ${back.stderr.trim()}`);
    },
  },
  {
    name: 'criu: a process holding an open file and a listening TCP socket comes back serving',
    async run(a) {
      const netns = `ccrun-criu-${process.pid}`;
      a.ok(sh(`ip netns add ${netns} && ip -n ${netns} link set lo up`).code === 0, `made network namespace ${netns}`);
      a.teardown(() => sh(`ip netns delete ${netns}`));
      const root = stateRoot(a);
      const out = outDir(a);
      const images = join(outDir(a), 'images');
      fs.mkdirSync(join(out, 'www'));
      fs.writeFileSync(join(out, 'www', 'index.html'), 'served by the container\n');
      // The shell holds /out/held open on fd 3 (and writes to it after the restore); httpd listens.
      const spec: Spec = busyboxSpec(['sh', '-c', 'exec 3>>/out/held; echo before >&3; httpd -f -p 8080 -h /out/www & while :; do sleep 1; [ -e /out/go ] && { echo after >&3; rm /out/go; }; done']);
      withOut(spec, out);
      spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${netns}` } : n));
      const bundle = makeBundle(a, spec);
      const id = uniqueId('tcp');
      // busybox nc: its wget segfaults under the VM's emulated CPU.
      const get = (): Result => sh(`printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nsenter --net=/run/netns/${netns} busybox nc -w 5 127.0.0.1 8080 2>&1`);
      a.ok(runDetached(root, bundle, id).code === 0, 'run --detach');
      a.ok(await until(() => get().stdout.includes('served'), 60_000), 'the server answers before');
      const ck = ccrun(root, ['checkpoint', '--image-path', images, id], T);
      a.ok(ck.code === 0, `checkpoint exits 0: ${ck.stderr.trim()}`);
      a.ok(!get().stdout.includes('served'), 'nothing answers while it is checkpointed');
      const rs = ccrun(root, ['restore', '--detach', '--image-path', images, '--bundle', bundle, id], T);
      a.ok(rs.code === 0, `restore exits 0: ${rs.stderr.trim()}`);
      const g = get();
      a.ok(g.stdout.includes('served'), `the restored server answers: ${g.stdout.trim()}`);
      fs.writeFileSync(join(out, 'go'), '');
      a.ok(await until(() => readOr(join(out, 'held'), '') === 'before\nafter', 60_000), `the restored shell writes on through its open file: ${JSON.stringify(readOr(join(out, 'held'), ''))}`);
    },
  },
  {
    name: 'criu: an image container on the default bridge network comes back on it, with its address and its published port',
    async run(a) {
      const { store, root, g } = frontendStore(a);
      const name = `net${process.pid}`;
      const run = g(['run', '-d', '--name', name, '--network', 'bridge', '-p', '18080:80', 'busybox', 'sh', '-c', 'mkdir -p /www; echo served-by-the-container > /www/index.html; httpd -p 80 -h /www; i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; sleep 0.2; done']);
      a.ok(run.code === 0, `run -d --network bridge -p 18080:80: ${run.stderr.trim()}`);
      a.teardown(() => spawnSync(CCRUN, ['--root', root, '--store', store, 'rm', '-f', name]));
      const addressOf = (): string => /inet (\S+)\//.exec(g(['exec', name, 'ip', '-o', '-4', 'addr', 'show', 'eth0']).stdout)?.[1] ?? '';
      const get = (): Result => sh(`printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 5 127.0.0.1 18080 2>&1`);
      const addr = addressOf();
      a.ok(/^10\.88\./.test(addr), `it has an address on the default network: ${addr}`);
      a.ok(await until(() => get().stdout.includes('served-by-the-container'), 60_000), 'its published port serves');
      const ck = g(['checkpoint', name]);
      a.ok(ck.code === 0, `checkpoint exits 0: ${ck.stderr.trim()}`);
      const netnsDir = join(root, '.networks', 'netns');
      const left = (): string => [...(fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir) : []), ...sh('ip -o link show').stdout.split('\n').filter((l) => /veth/.test(l)).map((l) => l.split(':')[1]?.trim())].join(' ');
      a.ok(left() === '', `its network was released (no netns file, no veth): ${left()}`);
      a.ok(!get().stdout.includes('served'), 'nothing answers on the port while it is checkpointed');
      const rs = g(['restore', name]);
      a.ok(rs.code === 0, `restore exits 0: ${rs.stderr.trim()}`);
      a.ok(addressOf() === addr, `it came back with the address it had (${addr})`);
      a.ok(await until(() => get().stdout.includes('served-by-the-container'), 60_000), 'its published port serves again (the restored httpd, on a new attachment)');
      const pid = (JSON.parse(g(['state', JSON.parse(g(['ps', '--format', 'json']).stdout.split('\n').find((l) => l.includes(name)) ?? '{}').ID ?? name]).stdout || '{}') as { pid?: number }).pid ?? 0;
      a.ok(pid > 0 && contiguous(countLines(`/proc/${pid}/root/tmp/count`)), 'and its counter went on from where it was');
      const rm = g(['rm', '-f', name]);
      a.ok(rm.code === 0, `rm -f: ${rm.stderr.trim()}`);
      a.ok(left() === '', `after rm: no netns file, no veth: ${left()}`);
    },
  },
  {
    name: 'criu: the front end exports an image container and imports it under a new name',
    async run(a) {
      const { store, root, g } = frontendStore(a);
      const tarball = join(outDir(a), 'web.tar.gz');
      const name = `web${process.pid}`;
      const run = g(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo changed > /root-change; i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; sleep 0.2; done']);
      a.ok(run.code === 0, `run -d busybox: ${run.stderr.trim()}`);
      a.teardown(() => {
        for (const n of [name, `${name}-2`]) spawnSync(CCRUN, ['--root', root, '--store', store, 'rm', '-f', n]);
      });
      // state takes runtime ids: the name's id from ps, then its init.
      const pidOf = (n: string): number => {
        try {
          const row = g(['ps', '-a', '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ID: string; Names: string }).find((x) => x.Names === n);
          return row ? (JSON.parse(g(['state', row.ID]).stdout) as { pid: number }).pid : 0;
        } catch {
          return 0;
        }
      };
      let pid = 0;
      a.ok(await until(() => (pid = pidOf(name)) > 0 && countLines(`/proc/${pid}/root/tmp/count`).length >= 3, 60_000), 'the image container counts');
      const ck = g(['checkpoint', '--export', tarball, name]);
      a.ok(ck.code === 0, `checkpoint --export exits 0: ${ck.stderr.trim()}`);
      a.ok(fs.existsSync(tarball) && fs.statSync(tarball).size > 0, 'the tarball is written');
      const listed = sh(`tar -tzf ${tarball}`).stdout;
      a.ok(/^checkpoint\/inventory\.img$/m.test(listed) && /^upper\/root-change$/m.test(listed), 'it holds CRIU\'s images and the root\'s changes (upper/root-change)');
      const ps = g(['ps', '-a', '--format', 'json']).stdout.split('\n').find((l) => l.includes(`"${name}"`)) ?? '';
      a.ok(/"State":"exited"/.test(ps), `the checkpointed container is not running: ${ps.trim()}`);
      const im = g(['restore', '--import', tarball, '--name', `${name}-2`]);
      a.ok(im.code === 0, `restore --import --name exits 0: ${im.stderr.trim()}`);
      const pid2 = pidOf(`${name}-2`);
      a.ok(pid2 > 0, 'the imported container runs (state by its new name)');
      a.ok(readOr(`/proc/${pid2}/root/root-change`, '') === 'changed', 'its root has the change made before the checkpoint');
      const n0 = countLines(`/proc/${pid2}/root/tmp/count`).length;
      a.ok(await until(() => countLines(`/proc/${pid2}/root/tmp/count`).length > n0 + 2, 60_000), 'it counts on');
      a.ok(contiguous(countLines(`/proc/${pid2}/root/tmp/count`)), 'from where it was (1..n without restart)');
      const dup = g(['restore', '--import', tarball, '--name', `${name}-2`]);
      a.ok(dup.code !== 0 && /already exists/.test(dup.stderr), `importing under a taken name is refused: ${dup.stderr.trim()}`);
      const back = g(['restore', name]);
      a.ok(back.code === 0 && pidOf(name) > 0, `the original comes back by name too: ${back.stderr.trim()}`);
      const ex = g(['exec', name, 'cat', '/root-change']);
      a.ok(ex.stdout.trim() === 'changed', `exec by name works on it: ${JSON.stringify(ex.stdout.trim())} ${ex.stderr.trim()}`);
    },
  },
];

/** podman with ccrun as its runtime: in the VM's boot with the checks above, and in podman.test.ts where CRIU works on the host. */
export const podmanCriuChecks: Check[] = [
  {
    name: 'criu-podman: podman container checkpoint and restore with ccrun as the runtime',
    async run(a) {
      const { Podman, missingBinary } = await import('../helpers/engines');
      const missing = missingBinary(['podman', 'conmon']);
      if (missing) {
        console.log(`# skipped: ${missing} is not installed (scripts/setup.sh installs podman and conmon)`);
        return;
      }
      const pm = new Podman(a as unknown as import('../helpers/runtime').Tap);
      const name = `ck${process.pid}`;
      const r = pm.podman(['run', '-d', '--name', name, ...pm.runFlags(), pm.image, 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; sleep 0.2; done'], { timeout: 240_000 });
      a.ok(r.code === 0, `podman run -d: ${r.stderr.trim()}`);
      const pidOf = (): number => Number(pm.podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim()) || 0;
      const count = (pid: number): string[] => countLines(`/proc/${pid}/root/tmp/count`);
      const pid = pidOf();
      a.ok(await until(() => count(pid).length >= 3, 60_000), `it counts (init ${pid})`);
      const ck = pm.podman(['container', 'checkpoint', name], { timeout: 240_000 });
      a.ok(ck.code === 0, `podman container checkpoint: ${ck.stderr.trim()}`);
      a.ok(/exited/.test(pm.podman(['inspect', '--format', '{{.State.Status}}', name]).stdout), 'podman says exited');
      const rs = pm.podman(['container', 'restore', name], { timeout: 240_000 });
      a.ok(rs.code === 0, `podman container restore: ${rs.stderr.trim()}`);
      a.ok(/running/.test(pm.podman(['inspect', '--format', '{{.State.Status}}', name]).stdout), 'podman says running');
      const pid2 = pidOf();
      const n0 = count(pid2).length;
      a.ok(pid2 > 0 && (await until(() => count(pid2).length > n0 + 2, 60_000)), `the restored container counts on (init ${pid2})`);
      a.ok(contiguous(count(pid2)), `from where it was: 1..${count(pid2).length} without restart`);
      const rm = pm.podman(['rm', '-f', '-t', '0', name], { timeout: 240_000 });
      a.ok(rm.code === 0, `podman rm -f: ${rm.stderr.trim()}`);
    },
  },
];
