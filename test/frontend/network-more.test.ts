// Networking at scale and without root, inside namespaces this test makes
// (test/helpers/netns-rig.ts): 20 concurrent `run -d -p` on the default
// bridge get 20 distinct addresses and host ports, all reachable, and their
// 20 concurrent `rm` leave the network as before; a normal user's container
// gets egress and a published port through pasta, and nothing is left.
import t from 'tap';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { makeNetRig, netRigProblem, HOST_IP, OUTSIDE_IP, ECHO_PORT, type NetRig } from '../helpers/netns-rig';
import { runAsync, waitFor, type Result } from '../helpers/runtime';
import { unprivilegedUser, type UnprivilegedUser } from '../helpers/unprivileged-user';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');
const skip = !fs.existsSync(join(ROOT, 'dist/frontend/network.js')) ? 'dist/ not built (npm run build:ts)' : (netRigProblem() ?? false);
const noPasta = spawnOk('pasta', ['--version']) ? false : 'pasta is not installed (apt-get install passt)';

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let rig: NetRig;
let work: string;
let store: string;
let state: string;

function cc(args: string[]): Promise<Result> {
  return rig.runInHost(['env', '-u', 'CCRUN_NETWORK', CCRUN, '--store', store, '--root', state, ...args]);
}

t.before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(join(tmpdir(), 'ccrun-netmore-'));
  fs.chmodSync(work, 0o755);
  store = join(work, 'store');
  state = join(work, 'state');
  rig = await makeNetRig('more');
  execFileSync(join(ROOT, 'scripts', 'make-busybox-image.sh'), [join(work, 'busybox.tar')], { stdio: 'ignore' });
  fs.chmodSync(join(work, 'busybox.tar'), 0o644);
  execFileSync(CCRUN, ['--store', store, 'load', '-i', join(work, 'busybox.tar')], { stdio: 'ignore' });
});

t.teardown(async () => {
  if (skip || !rig) return;
  const d = join(store, 'containers');
  for (const id of fs.existsSync(d) ? fs.readdirSync(d) : []) await cc(['rm', '-f', id]);
  rig.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

t.test('20 concurrent run -d -p: distinct addresses and ports, all reachable; 20 rm leave it as before', { skip }, async (t) => {
  const warm = await cc(['run', '--rm', '-p', '80', 'busybox', 'true']);
  t.equal(warm.code, 0, `a first run makes the bridge and the plugins' shared chains ${warm.stderr}`);
  const before = rig.snapshot();
  const runs = await Promise.all(
    Array.from({ length: 20 }, (_, i) => cc(['run', '-d', '--name', `c${i}`, '-p', '80', 'busybox', 'sh', '-c', 'mkdir /www; echo served-by-$(hostname) > /www/index.html; exec httpd -f -p 80 -h /www'])),
  );
  t.same(runs.map((r) => r.code), Array(20).fill(0), `all 20 started ${runs.map((r) => r.stderr).join('')}`);
  const inspect = JSON.parse((await cc(['network', 'inspect', 'bridge'])).stdout) as { Containers: Record<string, { Name: string; IPv4Address: string[] }> }[];
  const addrs = Object.values(inspect[0].Containers).map((c) => c.IPv4Address[0]);
  t.equal(new Set(addrs).size, 20, `20 distinct addresses (${addrs.join(' ')})`);
  const ports = await Promise.all(Array.from({ length: 20 }, async (_, i) => Number(/:(\d+)$/.exec((await cc(['port', `c${i}`, '80'])).stdout.trim())?.[1])));
  t.equal(new Set(ports).size, 20, `20 distinct host ports (${ports.join(' ')})`);
  const answers = await Promise.all(ports.map(async (p) => ((await waitFor(async () => (await rig.httpGet('outside', `http://${HOST_IP}:${p}/`)).startsWith('served-by'), 15_000)) ? 1 : 0)));
  t.equal(answers.reduce((a: number, b) => a + b, 0), 20, 'each reachable from outside on its port');
  const rms = await Promise.all(Array.from({ length: 20 }, (_, i) => cc(['rm', '-f', `c${i}`])));
  t.same(rms.map((r) => r.code), Array(20).fill(0), 'all 20 removed');
  t.equal(rig.snapshot(), before, 'links, firewall rules and sockets as before');
  const ipam = join(state, '.networks', 'ipam', 'bridge');
  t.same(fs.readdirSync(ipam).filter((f) => /^\d/.test(f)), [], 'no lease left');
  t.same(fs.readdirSync(join(state, '.networks', 'netns')), [], 'no netns file left');
});

t.test('rootless: egress and a published port through pasta, nothing left after rm', { skip: skip || noPasta || ((process.geteuid?.() ?? 0) !== 0 ? 'needs root to make the user' : false) }, async (t) => {
  const tun = fs.statSync('/dev/net/tun');
  if ((tun.mode & 0o006) !== 0o006) {
    t.skip('/dev/net/tun is not usable by a normal user on this host (chmod 0666 /dev/net/tun, as scripts/setup.sh does)');
    return;
  }
  const user: UnprivilegedUser = unprivilegedUser('ccrun-net-user');
  t.teardown(() => user.dispose());
  const home = user.ownedDir('ccrun-net-');
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  // nsenter (as root) into the rig's host namespace, then the user's ids: the user could not enter it.
  const asUser = (args: string[]): Promise<Result> =>
    runAsync([...rig.inHost, 'setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', 'env', '-i', `HOME=${home}`, `PATH=${process.env.PATH}`, CCRUN, '--store', join(home, 'store'), '--root', join(home, 'state'), ...args]);
  t.equal((await asUser(['load', '-i', join(work, 'busybox.tar')])).code, 0, 'the user loads busybox into a store of its own');
  const before = rig.snapshot();
  const egress = await asUser(['run', '--rm', 'busybox', 'sh', '-c', `ip -o -4 addr show; sleep 1 | nc ${OUTSIDE_IP} ${ECHO_PORT}`]);
  t.equal(egress.code, 0, `run --rm as the user ${egress.stderr}`);
  t.match(egress.stdout, new RegExp(`inet ${HOST_IP.replace(/\./g, '\\.')}/24`), "pasta gave the container the host's address");
  t.match(egress.stdout, new RegExp(`hello ${HOST_IP.replace(/\./g, '\\.')}`), 'the outside server was reached (from the host address)');
  const run = await asUser(['run', '-d', '--name', 'web', '-p', '18080:80', 'busybox', 'sh', '-c', 'mkdir /www; echo rootless-page > /www/index.html; exec httpd -f -p 80 -h /www']);
  t.equal(run.code, 0, `run -d -p 18080:80 as the user ${run.stderr}`);
  t.ok(await waitFor(async () => (await rig.httpGet('outside', `http://${HOST_IP}:18080/`)) === 'rootless-page', 15_000), 'outside -> HOST_IP:18080 reaches the rootless container');
  t.match((await asUser(['port', 'web'])).stdout, /^80\/tcp -> 0\.0\.0\.0:18080$/m, 'ccrun port');
  t.ok(user.processes().length >= 2, 'pasta and the namespace holder run as the user');
  const side = await asUser(['run', '--rm', '--network', 'container:web', 'busybox', 'sh', '-c', 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc 127.0.0.1 80']);
  t.equal(side.code, 0, `run --network container:web as the user ${side.stderr}`);
  t.match(side.stdout, /rootless-page/, "the joiner reaches web's server on 127.0.0.1: the holder's namespaces joined");
  t.equal((await asUser(['rm', '-f', 'web'])).code, 0, 'rm -f');
  t.ok(await waitFor(() => user.processes().length === 0, 5000), `no process of the user's left (${user.processes().join(' ')})`);
  t.equal(rig.snapshot(), before, 'the host namespace as before (no listening socket left)');
  const bad = await asUser(['run', '--rm', '--network', 'app', 'busybox', 'true']);
  t.match(bad.stderr, /a rootless container has no user networks/, 'user networks are refused by name');
});

t.test('after a reboot (processes, the namespace with its bridge and rules, and the state root all gone), the next command drops the stale attachment and the container starts again', { skip }, async (t) => {
  // The state root is a tmpfs (/run/ccrun) on a real machine: a reboot empties it, while the store keeps the records.
  const stateRb = join(work, 'state-reboot');
  let host: NetRig | undefined = await makeNetRig('rb1');
  t.teardown(() => host?.dispose());
  const ccIn = (r: NetRig, args: string[]): Promise<Result> => r.runInHost(['env', '-u', 'CCRUN_NETWORK', CCRUN, '--store', store, '--root', stateRb, ...args]);
  const run = await ccIn(host, ['run', '-d', '--name', 'rebooted', '-p', '18600:80', 'busybox', 'sh', '-c', 'mkdir -p /www; echo after-reboot > /www/index.html; exec httpd -f -p 80 -h /www']);
  t.equal(run.code, 0, `run -d -p 18600:80 ${run.stderr}`);
  const id = run.stdout.trim();
  const networkJson = join(store, 'containers', id, 'network.json');
  t.ok(fs.existsSync(networkJson), 'its attachment is recorded in the store');
  // The "reboot": every process of it dies at once, the machine's network namespace goes with
  // everything in it (bridge, veths, rules), and the state root is empty.
  const saved = JSON.parse(fs.readFileSync(join(stateRb, id, 'state.json'), 'utf8')) as { pid: number };
  const monitor = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${saved.pid}/status`, 'utf8'))![1]);
  process.kill(monitor, 'SIGKILL');
  process.kill(saved.pid, 'SIGKILL');
  await waitFor(() => !fs.existsSync(`/proc/${saved.pid}`), 5000);
  for (const l of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mnt = l.split(' ')[4];
    if (mnt?.startsWith(`${stateRb}/`)) execFileSync('umount', ['-l', mnt]);
  }
  fs.rmSync(stateRb, { recursive: true, force: true });
  execFileSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-path', `*/${id}`, '-delete'], { stdio: 'ignore' });
  host.dispose();
  host = await makeNetRig('rb2');
  const ps = await ccIn(host, ['ps', '-a']);
  t.equal(ps.code, 0, `ps -a after the reboot ${ps.stderr}`);
  t.match(ps.stdout, /rebooted/, 'the container is listed');
  t.notOk(fs.existsSync(networkJson), 'and its stale attachment is dropped (nothing of it was left to undo)');
  const start = await ccIn(host, ['start', 'rebooted']);
  t.equal(start.code, 0, `start after the reboot ${start.stderr}`);
  const rig2 = host;
  t.ok(await waitFor(async () => (await rig2.httpGet('outside', `http://${HOST_IP}:18600/`)) === 'after-reboot', 15_000), 'its published port serves again, on a fresh attachment');
  const rm = await ccIn(host, ['rm', '-f', 'rebooted']);
  t.equal(rm.code, 0, `rm -f ${rm.stderr}`);
  t.notOk(fs.existsSync(join(stateRb, '.networks', 'netns', id)), 'no netns file left');
});
