// `ccrun run IMAGE` as a Docker user sees it, with images pulled from the
// registry rig: the image's config applied, a fresh root per container, the
// exit code, signals, detached containers with logs/stop/start/rm, and bad
// input refused with nothing left behind.
import t from 'tap';
import { execFileSync, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { startRegistry, MT, type RegistryRig } from '../helpers/registry';
import { runAsync, waitFor as waitForMs, type Result } from '../helpers/runtime';

/** Detached containers and their monitors get more time on a loaded machine. */
const waitFor = (cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> => waitForMs(cond, ms);
import { gzip, tarArchive, type EntrySpec } from '../helpers/tar-builder';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');
const built = fs.existsSync(join(ROOT, 'dist/frontend/run.js'));
const skip = !built ? 'dist/ not built (run npx tsc first)' : fs.existsSync('/bin/busybox') ? false : 'busybox-static is not installed (apt-get install busybox-static)';

let reg: RegistryRig;
let work: string;
let store: string;
let state: string;
let BB: string;
let APP: string;

/** Asynchronous: the rig serves from this process's event loop. */
function cc(args: string[], o: { input?: string; cwd?: string } = {}): Promise<Result> {
  return runAsync([CCRUN, '--store', store, '--root', state, ...args], o);
}

function containerDirs(): string[] {
  const d = join(store, 'containers');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

function stateDirs(): string[] {
  return fs.existsSync(state) ? fs.readdirSync(state) : [];
}

/** Every path, mode, size and content hash under the store's layer cache. */
function layerSnapshot(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = fs.lstatSync(p);
      h.update(`${p} ${st.mode} ${st.size} ${st.mtimeMs}\n`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(fs.readFileSync(p));
    }
  };
  walk(join(store, 'layers'));
  return h.digest('hex');
}

function mountsMentioning(text: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(text));
}

function cgroupDirsFor(id: string): string[] {
  const out: string[] = [];
  for (const base of ['/sys/fs/cgroup/ccrun', ...fs.readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/ccrun`)]) {
    if (fs.existsSync(join(base, id))) out.push(join(base, id));
  }
  return out;
}

const APP_PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n';
const APP_GROUP = 'root:x:0:\napp:x:1001:\nstaff:x:50:app\n';
const appLayer: EntrySpec[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/passwd', content: APP_PASSWD },
  { path: 'etc/group', content: APP_GROUP },
  { path: 'srv/', type: 'dir' },
  { path: 'srv/app/', type: 'dir', uid: 1000, gid: 1001 },
  { path: 'srv/app/data.txt', content: 'from the image\n', uid: 1000, gid: 1001 },
];

t.before(async () => {
  if (skip) return;
  reg = await startRegistry(t);
  work = fs.mkdtempSync(join(tmpdir(), 'ccrun-frontend-'));
  store = join(work, 'store');
  state = join(work, 'state');
  t.teardown(() => {
    for (const id of stateDirs()) spawnSyncQuiet([CCRUN, '--root', state, 'delete', '--force', id]);
    fs.rmSync(work, { recursive: true, force: true });
  });
  const archive = join(work, 'busybox.tar');
  execFileSync(join(ROOT, 'scripts/make-busybox-image.sh'), [archive], { stdio: ['ignore', 'pipe', 'pipe'] });
  const oci = join(work, 'busybox-oci');
  fs.mkdirSync(oci);
  execFileSync('tar', ['xf', archive, '-C', oci]);
  const index = JSON.parse(fs.readFileSync(join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(join(oci, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const config = JSON.parse(fs.readFileSync(join(oci, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'));
  const layer = fs.readFileSync(join(oci, 'blobs/sha256', manifest.layers[0].digest.slice(7)));
  await reg.pushImage('library/busybox', 'latest', { layers: [{ data: layer, mediaType: MT.ociLayerGzip }], config });
  fs.writeFileSync(join(work, 'bb-layer'), layer);
  fs.writeFileSync(join(work, 'bb-config.json'), JSON.stringify(config));
  const appConfig = {
    ...config,
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello-from-env'],
      WorkingDir: '/srv/app',
      User: 'app',
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo "$GREETING $(pwd) $(id -u):$(id -g) $(id -G) $(cat data.txt)"'],
      StopSignal: 'SIGUSR1',
    },
    rootfs: undefined,
  };
  await reg.pushImage('library/app', 'v1', {
    layers: [
      { data: layer, mediaType: MT.ociLayerGzip },
      { data: gzip(tarArchive(appLayer)), mediaType: MT.ociLayerGzip },
    ],
    config: appConfig,
  });
  BB = `${reg.host}/library/busybox`;
  APP = `${reg.host}/library/app:v1`;
});

function spawnSyncQuiet(argv: string[]): void {
  try {
    execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
  } catch {
    /* best effort */
  }
}

t.test('run with a command pulls the image and prints its output', { skip }, async (t) => {
  const r = await cc(['run', '--rm', BB, 'echo', 'hello']);
  t.equal(r.stdout, 'hello\n', r.stderr);
  t.equal(r.code, 0);
  t.match(r.stderr, /Unable to find image/, 'the pull is reported on stderr');
  const again = await cc(['run', '--rm', BB, 'echo', 'again']);
  t.equal(again.stdout, 'again\n');
  t.notMatch(again.stderr, /Unable to find image/, 'second run uses the local image');
  t.same(containerDirs(), [], '--rm left no container');
});

t.test("run without a command applies the image's Entrypoint, Cmd, Env, WorkingDir and User", { skip }, async (t) => {
  const r = await cc(['run', '--rm', APP]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'hello-from-env /srv/app 1000:1001 1001 50 from the image');
  const cmd = await cc(['run', '--rm', APP, 'echo "$GREETING and a new Cmd"']);
  t.equal(cmd.stdout, 'hello-from-env and a new Cmd\n', 'a command replaces Cmd, the Entrypoint stays');
  const over = await cc(['run', '--rm', '-e', 'GREETING=bye', '-e', 'EXTRA=1', '-w', '/tmp', '-u', '0:0', '--entrypoint', '/bin/sh', APP, '-c', 'echo $GREETING $EXTRA $(pwd) $(id -u):$(id -g)']);
  t.equal(over.stdout, 'bye 1 /tmp 0:0\n', over.stderr);
  const made = await cc(['run', '--rm', '-w', '/srv/app/new/deeper', APP, 'pwd; ls -ld /srv/app | cut -c1-10; stat -c %u:%g /srv/app']);
  t.equal(made.stdout, '/srv/app/new/deeper\ndrwxr-xr-x\n1000:1001\n', `a missing -w is made; the image's dirs on the way keep owner and mode (${made.stderr.trim()})`);
  const envFile = join(work, 'env.list');
  fs.writeFileSync(envFile, '# comment\nFROM_FILE=yes\n');
  const ef = await cc(['run', '--rm', '--env-file', envFile, BB, 'sh', '-c', 'echo $FROM_FILE; cat /etc/hostname; hostname']);
  const [fromFile, etcHostname, hostname] = ef.stdout.trim().split('\n');
  t.equal(fromFile, 'yes');
  t.match(etcHostname, /^[0-9a-f]{12}$/, 'hostname defaults to the short id');
  t.equal(hostname, etcHostname);
  const named = await cc(['run', '--rm', '--hostname', 'web1', BB, 'sh', '-c', 'hostname; grep -c web1 /etc/hosts; test -s /etc/resolv.conf -o ! -s /etc/resolv.conf && echo resolv']);
  t.equal(named.stdout, 'web1\n1\nresolv\n');
});

t.test("Docker's defaults: namespaces, capabilities, /dev/shm, exit code", { skip }, async (t) => {
  const r = await cc(['run', '--rm', BB, 'sh', '-c', 'grep CapEff /proc/self/status; ls /sys/class/net; grep -c " /dev/shm " /proc/mounts; echo $$']);
  const [capLine, ...rest] = r.stdout.trim().split('\n');
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  t.equal(capLine.split(/\s+/)[1], '00000000a80425fb', 'Docker\'s 14 default capabilities');
  t.same(rest, ['lo', '1', '1'], 'own network namespace with only lo, /dev/shm, pid 1');
  const added = await cc(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', BB, 'grep', 'CapEff', '/proc/self/status']);
  t.match(added.stdout, /0000000000001000/, 'drop ALL then add NET_ADMIN');
  t.equal((await cc(['run', '--rm', BB, 'sh', '-c', 'exit 5'])).code, 5);
  // pid 1 ignores signals sent from inside its namespace: kill it from outside.
  const killed = cc(['run', '--rm', '--name', 'to-kill', BB, 'sleep', '30']);
  let id = '';
  t.ok(await waitFor(async () => {
    const line = (await cc(['ps', '--format', 'json'])).stdout.split('\n').find((l) => l.includes('"to-kill"'));
    if (line) id = JSON.parse(line).ID;
    return id !== '';
  }), 'running');
  t.equal((await cc(['kill', id, 'KILL'])).code, 0);
  t.equal((await killed).code, 137, 'killed by SIGKILL: 128+9');
  const host = await cc(['run', '--rm', '--network', 'host', BB, 'ls', '/sys/class/net']);
  t.match(host.stdout, /lo/);
  t.ok(host.stdout.trim().split('\n').length >= 1);
  const ro = await cc(['run', '--rm', '--read-only', '--tmpfs', '/scratch', BB, 'sh', '-c', 'touch /x 2>/dev/null && echo wrote-root; touch /scratch/y && echo wrote-tmpfs']);
  t.equal(ro.stdout, 'wrote-tmpfs\n', '--read-only root, writable --tmpfs');
  const vol = join(work, 'vol');
  fs.mkdirSync(vol);
  fs.writeFileSync(join(vol, 'in.txt'), 'host file\n');
  const v = await cc(['run', '--rm', '-v', `${vol}:/data`, '-v', `${vol}:/rodata:ro`, BB, 'sh', '-c', 'cat /data/in.txt; echo out > /data/out.txt; echo x > /rodata/no 2>/dev/null || echo ro-refused']);
  t.equal(v.stdout, 'host file\nro-refused\n', v.stderr);
  t.equal(fs.readFileSync(join(vol, 'out.txt'), 'utf8'), 'out\n', 'writes through -v reach the host');
  const lim = await cc(['run', '--rm', '--memory', '64m', '--pids-limit', '20', '--cpus', '0.5', BB, 'true']);
  t.equal(lim.code, 0, `limits accepted (${lim.stderr.trim()})`);
});

t.test('two containers from one image do not see each other\'s writes; the store stays unchanged', { skip }, async (t) => {
  await cc(['pull', BB]);
  const before = layerSnapshot();
  const a = await cc(['run', '--name', 'writer-a', BB, 'sh', '-c', 'echo a > /etc/written; rm /bin/ls; cat /etc/written']);
  t.equal(a.stdout, 'a\n', a.stderr);
  const b = await cc(['run', '--name', 'writer-b', BB, 'sh', '-c', 'test -e /etc/written && echo seen || echo unseen; test -e /bin/ls && echo ls-there']);
  t.equal(b.stdout, 'unseen\nls-there\n');
  t.equal(layerSnapshot(), before, 'the layer cache is byte for byte the same');
  t.same(mountsMentioning(store), [], 'nothing mounted on the host');
  const ps = await cc(['ps', '-a', '--format', 'json']);
  const rows = ps.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const names = rows.map((r) => r.Names).sort();
  t.same(names, ['writer-a', 'writer-b']);
  t.ok(rows.every((r) => r.State === 'exited' && r.Status.startsWith('Exited (0)')), ps.stdout);
  t.equal((await cc(['rm', 'writer-a', 'writer-b'])).code, 0);
  t.same(containerDirs(), []);
});

t.test('an image of 80 layers runs: more than one page of overlay mount data', { skip }, async (t) => {
  const layers = [];
  for (let i = 0; i < 79; i++) layers.push({ data: gzip(tarArchive([{ path: 'layers/', type: 'dir' }, { path: `layers/f${i}`, content: `${i}\n` }])), mediaType: MT.ociLayerGzip });
  const bbConfig = JSON.parse(fs.readFileSync(join(work, 'bb-config.json'), 'utf8'));
  await reg.pushImage('library/tall', 'v1', { layers: [{ data: fs.readFileSync(join(work, 'bb-layer')), mediaType: MT.ociLayerGzip }, ...layers], config: { ...bbConfig, rootfs: undefined } });
  const r = await cc(['run', '--rm', `${reg.host}/library/tall:v1`, 'sh', '-c', 'ls /layers | wc -l; cat /layers/f78']);
  t.equal(r.stdout, '79\n78\n', r.stderr);
  t.equal(r.code, 0);
});

t.test('--rm leaves nothing: no mount, upper dir, state or cgroup', { skip }, async (t) => {
  const r = await cc(['run', '--rm', BB, 'cat', '/etc/hostname']);
  const short = r.stdout.trim();
  t.match(short, /^[0-9a-f]{12}$/);
  t.same(containerDirs(), [], 'no container directory (upper, work, logs)');
  t.same(stateDirs(), [], 'no runtime state');
  t.same(mountsMentioning(short), []);
  t.same(mountsMentioning(store), []);
  const cg = fs.existsSync('/sys/fs/cgroup/ccrun') ? fs.readdirSync('/sys/fs/cgroup/ccrun').filter((n) => n.startsWith(short)) : [];
  t.same(cg, [], 'no cgroup');
});

t.test('-d, then ps, logs, exec, stop (StopSignal), start again from the kept root, rm', { skip }, async (t) => {
  const script = 'cat count 2>/dev/null; echo run >> count; echo started; trap "echo got USR1; exit 3" USR1; while :; do sleep 0.1; done';
  const d = await cc(['run', '-d', '--name', 'svc', APP, script]);
  t.equal(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  t.match(id, /^[0-9a-f]{64}$/, 'prints the full id');
  t.teardown(() => spawnSyncQuiet([CCRUN, '--store', store, '--root', state, 'rm', '-f', 'svc']));
  const ps = await cc(['ps']);
  t.match(ps.stdout, new RegExp(`${id.slice(0, 12)}.*Up .*svc`));
  t.ok(await waitFor(async () => (await cc(['logs', 'svc'])).stdout.includes('started')), 'output in the logs');
  // exec and kill accept names as well as ids.
  const ex = await cc(['exec', 'svc', 'cat', '/srv/app/count']);
  t.equal(ex.code, 0, ex.stderr);
  t.equal(ex.stdout, 'run\n', 'exec by name');
  const filtered = await cc(['exec', 'svc', 'grep', 'Seccomp:', '/proc/self/status']);
  t.match(filtered.stdout, /Seccomp:\s+2/, 'exec gets the seccomp filter the container was made with');
  const k = await cc(['kill', 'svc', 'CONT']);
  t.equal(k.code, 0, `kill by name: ${k.stderr}`);
  const follow = cc(['logs', '-f', 'svc']);
  const stop = await cc(['stop', '-t', '5', 'svc']);
  t.equal(stop.code, 0, stop.stderr);
  const f = await follow;
  t.match(f.stdout, /started\n[\s\S]*got USR1/, 'logs -f ends when the container stops, after its last output');
  const exited = JSON.parse((await cc(['ps', '-a', '--format', 'json'])).stdout.trim().split('\n').find((l) => l.includes('"svc"'))!);
  t.equal(exited.ExitCode, 3, "the image's StopSignal (USR1) reached the command");
  t.same(stateDirs(), [], 'no runtime state once stopped');
  const st = await cc(['start', 'svc']);
  t.equal(st.code, 0, st.stderr);
  t.ok(await waitFor(async () => (await cc(['logs', 'svc'])).stdout.includes('run\nstarted')), 'the second run saw the first run\'s file');
  const rmRunning = await cc(['rm', 'svc']);
  t.equal(rmRunning.code, 1);
  t.match(rmRunning.stderr, /running.*rm -f/);
  t.equal((await cc(['rm', '-f', 'svc'])).code, 0);
  t.same(containerDirs(), []);
  t.same(stateDirs(), []);
  t.same(cgroupDirsFor(id), []);
});

t.test('stdin: only with -i, as docker run; -d -i keeps it open', { skip }, async (t) => {
  const without = await cc(['run', '--rm', BB, 'cat'], { input: 'from-the-user\n' });
  t.equal(without.code, 0, without.stderr);
  t.equal(without.stdout, '', 'without -i the command reads nothing of ours');
  const withI = await cc(['run', '--rm', '-i', BB, 'cat'], { input: 'from-the-user\n' });
  t.equal(withI.stdout, 'from-the-user\n', '-i: our stdin reaches the command');
  const d = await cc(['run', '-d', '--name', 'stdin-d', BB, 'sh', '-c', 'read x; echo eof:$?']);
  t.teardown(() => spawnSyncQuiet([CCRUN, '--store', store, '--root', state, 'rm', '-f', 'stdin-d', 'stdin-di']));
  const di = await cc(['run', '-d', '-i', '--name', 'stdin-di', BB, 'sh', '-c', 'read x; echo eof:$?']);
  t.equal(d.code + di.code, 0, d.stderr + di.stderr);
  t.ok(await waitFor(async () => (await cc(['logs', 'stdin-d'])).stdout === 'eof:1\n'), '-d: stdin is at its end at once');
  await new Promise((r) => setTimeout(r, 500));
  t.match((await cc(['ps'])).stdout, /Up .*stdin-di/, '-d -i: stdin stays open, read still waits');
});

t.test('-d: no Node process stays with the container, only a small monitor that records the exit', { skip }, async (t) => {
  const d = await cc(['run', '-d', '-t', '--name', 'mon', BB, 'sh', '-c', 'tty; sleep 1; exit 7']);
  t.equal(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  t.teardown(() => spawnSyncQuiet([CCRUN, '--store', store, '--root', state, 'rm', '-f', 'mon']));
  const saved = JSON.parse(fs.readFileSync(join(state, id, 'state.json'), 'utf8')) as { pid: number };
  const parent = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${saved.pid}/status`, 'utf8'))![1]);
  const parentStatus = fs.readFileSync(`/proc/${parent}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(parentStatus)![1]);
  t.notMatch(fs.readFileSync(`/proc/${parent}/cmdline`, 'utf8'), /node|ccrun\.js|bin\/ccrun/, 'the parent of the container is no Node process');
  t.ok(rssKb < 8192, `the monitor is small (${rssKb} kB)`);
  const nodes = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(id);
    } catch {
      return false;
    }
  });
  t.same(nodes, [], 'no process runs with the container id in its command line while it runs');
  t.ok(await waitFor(async () => (await cc(['ps', '-a'])).stdout.includes('Exited (7)')), 'the exit code is recorded');
  t.ok(await waitFor(() => stateDirs().length === 0), 'the runtime state is removed once it exited');
  t.match((await cc(['logs', 'mon'])).stdout, /\/dev\/pts\/\d+/, '-d -t: the terminal\'s output is in the log');
});

t.test('-t gives the command a terminal, sized like the user\'s; stdin relayed with -i', { skip: skip || (fs.existsSync('/usr/bin/script') ? false : 'script(1) is not installed (apt-get install bsdutils)') }, async (t) => {
  const viaScript = (inner: string, input: string): Promise<Result> =>
    new Promise((done, fail) => {
      const child = spawn('script', ['-qec', `stty cols 91 rows 27; ${inner}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', fail);
      child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input);
    });
  const base = `${CCRUN} --store ${store} --root ${state} run --rm`;
  const r = await viaScript(`${base} -t ${BB} sh -c 'tty; stty size; exit 6'`, '');
  t.match(r.stdout, /\/dev\/pts\/\d+/, 'stdout is a pty');
  t.match(r.stdout, /27 91/, 'window size of the user\'s terminal');
  t.equal(r.code, 6, 'exit code through script');
  const i = await viaScript(`${base} -it ${BB} sh`, 'echo "in""put-relayed"\nexit 4\n');
  t.match(i.stdout, /input-relayed/);
  t.equal(i.code, 4);
});

t.test('seccomp: Docker\'s default profile, off with --security-opt seccomp=unconfined or --privileged', { skip }, async (t) => {
  const on = await cc(['run', '--rm', BB, 'grep', 'Seccomp:', '/proc/self/status']);
  t.match(on.stdout, /Seccomp:\s+2/, on.stderr);
  const off = await cc(['run', '--rm', '--security-opt', 'seccomp=unconfined', BB, 'grep', 'Seccomp:', '/proc/self/status']);
  t.match(off.stdout, /Seccomp:\s+0/);
  const priv = await cc(['run', '--rm', '--privileged', BB, 'sh', '-c', 'grep -E "Seccomp:|CapEff" /proc/self/status']);
  t.match(priv.stdout, /Seccomp:\s+0/);
  t.notMatch(priv.stdout, /CapEff:\s+00000000a80425fb/, 'more than the default capabilities');
  const bad = await cc(['run', '--rm', '--security-opt', 'apparmor=foo', BB, 'true']);
  t.match(bad.stderr, /--security-opt "apparmor=foo" is not supported/);
});

t.test('--init: a reaper as pid 1 passes signals on and reaps orphans', { skip }, async (t) => {
  const r = await cc(['run', '--rm', '--init', BB, 'sh', '-c', '(sleep 0.2 &); sleep 1; ps -o pid,stat,comm']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\s*1\s+\S+\s+init$/m, 'pid 1 is the reaper');
  t.notMatch(r.stdout, /\sZ/, 'the orphaned sleep was reaped');
  // A plain command as pid 1 would ignore SIGTERM (no handler); under the reaper it dies of it.
  const child = spawn(CCRUN, ['--store', store, '--root', state, 'run', '--rm', '--init', BB, 'sh', '-c', 'echo ready; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  t.ok(await waitFor(() => out.includes('ready')), 'started');
  await new Promise((res) => setTimeout(res, 200));
  child.kill('SIGTERM');
  t.equal(await code, 128 + 15, 'SIGTERM reached the command through the reaper');
  t.equal((await cc(['run', '--rm', '--init', BB, 'sh', '-c', 'exit 9'])).code, 9, "the command's exit code");
});

t.test('signals sent to ccrun run reach the command', { skip }, async (t) => {
  const child = spawn(CCRUN, ['--store', store, '--root', state, 'run', '--rm', BB, 'sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.ok(await waitFor(() => out.includes('ready')), 'started');
  child.kill('SIGTERM');
  t.equal(await code, 42);
  t.match(out, /got TERM/);
});

t.test('bad input: a clear error and nothing left behind', { skip }, async (t) => {
  const cases: [string[], RegExp][] = [
    [['run', '--rm', `${reg?.host}/library/nosuch`, 'true'], /nosuch/],
    [['run', '--pull', 'never', 'nosuch-local', 'true'], /not in the store.*--pull never/],
    [['run', '--rm', '-u', 'nobodyhere', BB, 'true'], /user "nobodyhere" is not in the image's \/etc\/passwd/],
    [['run', '--rm', '-u', 'app:nogroup', APP, 'true'], /group "nogroup" is not in the image's \/etc\/group/],
    [['run', '--rm', '-v', 'relative:/x', BB, 'true'], /must be absolute/],
    [['run', '--rm', '-v', '/only-one-part', BB, 'true'], /HOST-PATH:CONTAINER-PATH/],
    [['run', '--rm', '-v', '/nonexistent-host-dir:/x', BB, 'true'], /does not exist/],
    [['run', '--rm', '--network', 'nosuch-net', BB, 'true'], /network "nosuch-net" does not exist: create it/],
    [['run', '--rm', '--cap-add', 'NOT_A_CAP', BB, 'true'], /unknown capability/],
    [['run', '--rm', '--memory', 'lots', BB, 'true'], /not a size/],
    [['run', '--pid-file', '/tmp/x', BB, 'true'], /--bundle/],
    [['run', '--bundle', '.', '--rm', 'someid'], /drop --bundle/],
    [['run', '--rm', BB, '/no/such/binary'], /no\/such\/binary/],
  ];
  for (const [args, msg] of cases) {
    const r = await cc(args);
    t.not(r.code, 0, args.join(' '));
    t.match(r.stderr, msg, args.join(' '));
    t.same(containerDirs(), [], `nothing left: ${args.join(' ')}`);
    t.same(stateDirs(), [], `no state: ${args.join(' ')}`);
  }
  const bundleDir = join(work, 'a-bundle');
  fs.mkdirSync(bundleDir, { recursive: true });
  fs.writeFileSync(join(bundleDir, 'config.json'), '{}');
  const typo = await cc(['run', '--pull', 'never', 'mybundle'], { cwd: bundleDir });
  t.match(typo.stderr, /ccrun run --bundle \. mybundle/, 'an image option in a bundle directory: the missing image points at the bundle form');
  const asRunc = await cc(['run', 'mybundle'], { cwd: bundleDir });
  t.match(asRunc.stderr, /config\.json: /, 'run ID alone in a bundle directory is the runc form (this config.json is empty)');
  const first = await cc(['run', '--name', 'dup', BB, 'true']);
  t.equal(first.code, 0, first.stderr);
  const clash = await cc(['run', '--name', 'dup', BB, 'true']);
  t.equal(clash.code, 1);
  t.match(clash.stderr, /name "dup" is already in use.*ccrun rm dup/);
  t.equal(containerDirs().length, 1, 'only the first container');
  t.equal((await cc(['rm', 'dup'])).code, 0);
  const unknown = await cc(['stop', 'nosuchname']);
  t.match(unknown.stderr, /container "nosuchname" does not exist/);
});
