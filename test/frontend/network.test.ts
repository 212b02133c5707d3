// Networking of `ccrun run IMAGE` as root, seen from outside the containers,
// all inside namespaces this test makes (test/helpers/netns-rig.ts): the
// default bridge with NAT egress, /etc/hosts and resolv.conf, none and host,
// published TCP and UDP ports reached from the host and from "outside",
// user networks with names and isolation, --internal, the network commands,
// bad input leaving nothing, and everything released after rm.
import t from 'tap';
import { execFileSync, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { makeNetRig, netRigProblem, HOST_IP, OUTSIDE_IP, ECHO_PORT, type NetRig } from '../helpers/netns-rig';
import { runAsync, waitFor, type Result } from '../helpers/runtime';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');
const skip = !fs.existsSync(join(ROOT, 'dist/frontend/network.js')) ? 'dist/ not built (npm run build:ts)' : (netRigProblem() ?? false);

let rig: NetRig;
let work: string;
let store: string;
let state: string;

/** ccrun in the rig's host namespace, with the default network (the suite's CCRUN_NETWORK=none dropped). */
function cc(args: string[], env: string[] = []): Promise<Result> {
  return rig.runInHost(['env', '-u', 'CCRUN_NETWORK', ...env, CCRUN, '--store', store, '--root', state, ...args]);
}

async function ok(t: Tap, args: string[], what: string): Promise<string> {
  const r = await cc(args);
  t.equal(r.code, 0, `${what}${r.code ? `: ${r.stderr}` : ''}`);
  return r.stdout;
}

type Tap = typeof t;

function containerDirs(): string[] {
  const d = join(store, 'containers');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

/** host-local's leases (files named by address) across networks. */
function leases(): string[] {
  const d = join(state, '.networks', 'ipam');
  if (!fs.existsSync(d)) return [];
  return fs.readdirSync(d).flatMap((n) => fs.readdirSync(join(d, n)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).map((f) => `${n}/${f}`));
}

function netnsLeft(): string[] {
  const d = join(state, '.networks', 'netns');
  const files = fs.existsSync(d) ? fs.readdirSync(d) : [];
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(join(state, '.networks')));
  return [...files, ...mounts];
}

/** Everything a container's networking may leave: the rig's links, rules, sockets; leases; netns files. */
function everything(): string {
  return [rig.snapshot(), leases().join(' '), netnsLeft().join(' ')].join('\n===\n');
}

// (busybox wget -T crashes in this static build: timeout(1) bounds it instead.)
// busybox has no UDP server: the host's node, its /usr bound read-only, answers "echo MESSAGE".
const UDP_ECHO = "const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('echo ' + m, r.port, r.address)); s.bind(53);";
const HOST_NODE = ['-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro'];

const httpServer = (port: number): string[] => ['sh', '-c', `mkdir -p /www && echo served-by-$(hostname) > /www/index.html && exec httpd -f -p ${port} -h /www`];

t.before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(join(tmpdir(), 'ccrun-net-'));
  store = join(work, 'store');
  state = join(work, 'state');
  rig = await makeNetRig('net');
  execFileSync(join(ROOT, 'scripts', 'make-busybox-image.sh'), [join(work, 'busybox.tar')], { stdio: 'ignore' });
  execFileSync(CCRUN, ['--store', store, 'load', '-i', join(work, 'busybox.tar')], { stdio: 'ignore' });
});

t.teardown(async () => {
  if (skip || !rig) return;
  for (const id of containerDirs()) await cc(['rm', '-f', id]);
  rig.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

let baseline: string;

t.test('default bridge: an address, a default route, NAT egress, /etc/hosts and resolv.conf', { skip }, async (t) => {
  const out = await ok(t, ['run', '--rm', '--hostname', 'web1', '-p', '18000:80', 'busybox', 'sh', '-c', `ip -o -4 addr show eth0; ip route; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; nc ${OUTSIDE_IP} ${ECHO_PORT} </dev/null`], 'run on the default network');
  const addr = /inet (10\.88\.\d+\.\d+)\/16/.exec(out)?.[1];
  t.ok(addr, `eth0 has an address of the default subnet 10.88.0.0/16 (${out.split('\n')[0]})`);
  t.match(out, /default via 10\.88\.0\.1 dev eth0/, 'a default route through the bridge');
  t.match(out, new RegExp(`${addr?.replace(/\./g, '\\.')}\\s+web1`), '/etc/hosts has its own name on its address');
  const resolv = out.split('---\n')[1];
  t.notMatch(resolv, /nameserver 127\./, 'no loopback nameserver in resolv.conf');
  t.match(resolv, /nameserver /, 'a nameserver');
  t.match(out, new RegExp(`hello ${HOST_IP.replace(/\./g, '\\.')}\\n`), 'the outside server saw the host address: egress went through NAT');
  const ls = await cc(['network', 'ls']);
  t.match(ls.stdout, /bridge\s+bridge\s+10\.88\.0\.0\/16\s+10\.88\.0\.1\s+ccrun0\s+no/, 'the default network "bridge" made on first use');
  // The bridge and the plugins' shared chains (firewall, portmap) stay once made, as docker0 and
  // Docker's chains do: the baseline is taken now, after a first run with a published port.
  baseline = everything();
  t.same(leases(), [], 'the lease was released by --rm');
});

t.test('--dns and --add-host; loopback nameservers are replaced', { skip }, async (t) => {
  const out = await ok(t, ['run', '--rm', '--dns', '10.250.0.53', '--add-host', 'db.local:10.250.0.9', 'busybox', 'cat', '/etc/resolv.conf', '/etc/hosts'], 'run with --dns --add-host');
  t.match(out, /^nameserver 10\.250\.0\.53$/m, '--dns in resolv.conf');
  t.notMatch(out.split('\n').filter((l) => l.startsWith('nameserver')).join('\n'), /nameserver (?!10\.250\.0\.53)/, 'only the --dns nameserver');
  t.match(out, /^10\.250\.0\.9\s+db\.local$/m, '--add-host in /etc/hosts');
});

t.test('--network none has only lo; --network host sees the host namespace', { skip }, async (t) => {
  t.equal((await ok(t, ['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'], 'none')).trim(), 'lo', 'none: only lo');
  t.match(await ok(t, ['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net'], 'host'), /uplink/, 'host: the host namespace\'s uplink');
});

t.test('published ports: TCP from the host and from outside, UDP, a free port, ccrun port and ps', { skip }, async (t) => {
  const id = (await ok(t, ['run', '-d', '--name', 'pub', '-p', '8080:80', '-p', '9000', '-p', '53:53/udp', 'busybox', 'sh', '-c', 'mkdir /www; echo served-by-$(hostname) > /www/index.html; httpd -p 9000 -h /www; exec httpd -f -p 80 -h /www'], 'run -d -p')).trim();
  t.match(id, /^[0-9a-f]{64}$/);
  await ok(t, ['run', '-d', '--name', 'udp', '-p', '5353:53/udp', ...HOST_NODE, 'busybox', process.execPath, '-e', UDP_ECHO], 'run -d -p 5353:53/udp');
  const ports = await ok(t, ['port', 'pub'], 'ccrun port');
  const line9000 = ports.split('\n').find((l) => l.startsWith('9000/tcp'));
  t.match(ports, /^80\/tcp -> 0\.0\.0\.0:8080$/m, 'port lists 80/tcp on 8080');
  t.match(ports, /^53\/udp -> 0\.0\.0\.0:53$/m, 'and 53/udp');
  const hostPort = Number(/:(\d+)$/.exec(line9000 ?? '')?.[1]);
  t.ok(hostPort > 1024 && hostPort !== 8080, `-p 9000 got a free host port (${line9000})`);
  t.equal((await ok(t, ['port', 'pub', '9000'], 'port pub 9000')).trim(), `0.0.0.0:${hostPort}`);
  const ps = await ok(t, ['ps'], 'ps');
  t.match(ps, /PORTS/);
  t.match(ps, new RegExp(`0\\.0\\.0\\.0:8080->80/tcp, 0\\.0\\.0\\.0:${hostPort}->9000/tcp, 0\\.0\\.0\\.0:53->53/udp\\s+pub`), 'ps shows the ports');
  const page = (text: string): boolean => /^served-by-[0-9a-f]{12}$/.test(text);
  t.ok(await waitFor(async () => page(await rig.httpGet('host', `http://${HOST_IP}:8080/`)), 10_000), 'host -> HOST_IP:8080 reaches the server');
  t.ok(page(await rig.httpGet('host', 'http://127.0.0.1:8080/')), 'host -> 127.0.0.1:8080 (portmap\'s localhost rule)');
  t.ok(page(await rig.httpGet('outside', `http://${HOST_IP}:8080/`)), 'outside -> HOST_IP:8080 (another host\'s view)');
  t.ok(page(await rig.httpGet('outside', `http://${HOST_IP}:${hostPort}/`)), `outside -> the free port ${hostPort} reaches 9000`);
  t.ok(await waitFor(async () => (await rig.udpAsk('outside', HOST_IP, 5353, 'ping')) === 'echo ping', 10_000), 'outside -> HOST_IP:5353/udp reaches the UDP server in the container');
  t.equal(await rig.udpAsk('host', '127.0.0.1', 5353, 'pong'), 'echo pong', 'host -> 127.0.0.1:5353/udp too');
  await ok(t, ['rm', '-f', 'pub', 'udp'], 'rm -f');
  t.equal(everything(), baseline, 'after rm: links, firewall rules, sockets, leases, netns files as before');
});

/** busybox re-tagged "exposing:latest" with ExposedPorts 80/tcp and 53/udp in its config (a docker-archive edited). */
function loadExposingImage(): void {
  const dir = join(work, 'exposing');
  fs.mkdirSync(dir);
  execFileSync(CCRUN, ['--store', store, 'save', '-o', join(work, 'bb-save.tar'), 'busybox']);
  execFileSync('tar', ['-xf', join(work, 'bb-save.tar'), '-C', dir]);
  const manifest = JSON.parse(fs.readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; RepoTags: string[] }[];
  const config = JSON.parse(fs.readFileSync(join(dir, manifest[0].Config), 'utf8')) as { config: Record<string, unknown> };
  config.config.ExposedPorts = { '80/tcp': {}, '53/udp': {} };
  const text = JSON.stringify(config);
  const name = `${createHash('sha256').update(text).digest('hex')}.json`;
  fs.rmSync(join(dir, manifest[0].Config));
  fs.writeFileSync(join(dir, name), text);
  manifest[0].Config = name;
  manifest[0].RepoTags = ['exposing:latest'];
  fs.writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  fs.rmSync(join(dir, 'repositories'), { force: true });
  execFileSync('tar', ['-cf', join(work, 'exposing.tar'), '-C', dir, '.']);
  execFileSync(CCRUN, ['--store', store, 'load', '-i', join(work, 'exposing.tar')], { stdio: 'ignore' });
}

t.test("-P publishes the image's ExposedPorts on free host ports", { skip }, async (t) => {
  loadExposingImage();
  await ok(t, ['run', '-d', '--name', 'exp', '-P', 'exposing', ...httpServer(80)], 'run -d -P');
  const ports = await ok(t, ['port', 'exp'], 'port');
  const tcp = Number(/^80\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(ports)?.[1]);
  t.ok(tcp > 1024, `80/tcp on a free port (${ports.trim().replace(/\n/g, ', ')})`);
  t.match(ports, /^53\/udp -> 0\.0\.0\.0:\d+$/m, '53/udp too');
  t.ok(await waitFor(async () => (await rig.httpGet('outside', `http://${HOST_IP}:${tcp}/`)).startsWith('served-by'), 10_000), 'reachable from outside');
  await ok(t, ['rm', '-f', 'exp'], 'rm');
  t.equal(everything(), baseline, 'after rm: as before');
});

t.test('stop and start keep the settings; a killed container releases its network', { skip }, async (t) => {
  await ok(t, ['run', '-d', '--name', 'again', '-p', '80', 'busybox', ...httpServer(80)], 'run -d');
  const before = await ok(t, ['port', 'again'], 'port');
  await ok(t, ['stop', '-t', '1', 'again'], 'stop');
  t.equal(everything(), baseline, 'stopped: its network is released');
  await ok(t, ['start', 'again'], 'start');
  t.equal(await ok(t, ['port', 'again'], 'port after start'), before, 'the same published ports');
  const hp = /:(\d+)$/m.exec(before)![1];
  t.ok(await waitFor(async () => (await rig.httpGet('outside', `http://${HOST_IP}:${hp}/`)).startsWith('served-by'), 10_000), 'reachable again after start');
  const pid = JSON.parse(execFileSync(CCRUN, ['--root', state, 'state', JSON.parse((await ok(t, ['ps', '--format', 'json'], 'ps json')).trim()).ID], { encoding: 'utf8' })).pid as number;
  process.kill(pid, 'SIGKILL');
  t.ok(await waitFor(() => everything() === baseline, 10_000), 'killed: the monitor released everything');
  await ok(t, ['rm', 'again'], 'rm');
});

/** Tries to bind a port in the rig's host namespace: "bound", or the error code (EADDRINUSE). */
async function tryBind(protocol: 'tcp' | 'udp', port: number): Promise<string> {
  const js =
    protocol === 'tcp'
      ? `require('net').createServer().on('error', (e) => { console.log(e.code); process.exit(0); }).listen(${port}, '0.0.0.0', () => { console.log('bound'); process.exit(0); });`
      : `require('dgram').createSocket('udp4').on('error', (e) => { console.log(e.code); process.exit(0); }).bind(${port}, '0.0.0.0', () => { console.log('bound'); process.exit(0); });`;
  return (await rig.runInHost([process.execPath, '-e', js])).stdout.trim();
}

t.test('published host ports are held while the container runs; a start finds one taken and makes nothing', { skip }, async (t) => {
  await ok(t, ['run', '-d', '--name', 'holds', '-p', '18300:80', '-p', '18301:53/udp', 'busybox', ...httpServer(80)], 'run -d -p');
  t.equal(await tryBind('tcp', 18300), 'EADDRINUSE', 'no other program can listen on the published TCP port');
  t.equal(await tryBind('udp', 18301), 'EADDRINUSE', 'nor bind the published UDP port');
  await ok(t, ['run', '-d', '--name', 'holdsfd', '-p', '18302:80', 'busybox', 'sleep', '600'], 'run -d -p (sleep)');
  t.equal((await ok(t, ['exec', 'holdsfd', 'ls', '/proc/1/fd'], 'exec ls /proc/1/fd')).split(/\s+/).filter(Boolean).sort().join(' '), '0 1 2', "the held sockets are not the container's: its process has stdio only");
  await ok(t, ['rm', '-f', 'holdsfd'], 'rm -f holdsfd');
  t.ok(await waitFor(async () => (await rig.httpGet('outside', `http://${HOST_IP}:18300/`)).startsWith('served-by'), 10_000), 'the held port still reaches the container');
  t.equal(await rig.httpGet('host', 'http://127.0.0.1:18300/').then((b) => b.startsWith('served-by')), true, 'from 127.0.0.1 too');
  await ok(t, ['stop', '-t', '1', 'holds'], 'stop');
  t.equal(await tryBind('tcp', 18300), 'bound', 'stopped: the port is free again');
  // Something else takes the port while the container is stopped.
  const squatter = spawn(rig.inHost[0], [...rig.inHost.slice(1), process.execPath, '-e', "require('net').createServer().listen(18300, '0.0.0.0', () => console.log('up')); setTimeout(() => {}, 60000);"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((res) => squatter.stdout!.once('data', res));
    const before = everything();
    const r = await cc(['start', 'holds']);
    t.not(r.code, 0, 'start fails');
    t.match(r.stderr, /host port 18300\/tcp is already in use on this host: stop what holds it, or publish another host port/, 'naming the port and the fix');
    t.equal(everything(), before, 'nothing made: no veth, rule, lease or netns');
  } finally {
    squatter.kill('SIGKILL');
    await new Promise((res) => squatter.once('exit', res));
  }
  await ok(t, ['start', 'holds'], 'start once the port is free');
  t.equal(await tryBind('tcp', 18300), 'EADDRINUSE', 'held again');
  await ok(t, ['rm', '-f', 'holds'], 'rm -f');
  t.equal(everything(), baseline, 'after rm: as before');
});

t.test('--network container:NAME shares that container\'s network, hostname and /etc files; bad uses are refused by name', { skip }, async (t) => {
  await ok(t, ['run', '-d', '--name', 'owner', '--hostname', 'owner-host', '-p', '18400:80', 'busybox', ...httpServer(80)], 'run -d owner');
  const ownerAddr = /inet (\S+)\//.exec(await ok(t, ['exec', 'owner', 'ip', '-o', '-4', 'addr', 'show', 'eth0'], 'owner address'))?.[1];
  t.ok(ownerAddr, `owner has an address (${ownerAddr})`);
  const out = await ok(
    t,
    ['run', '--rm', '--network', 'container:owner', 'busybox', 'sh', '-c', 'hostname; ip -o -4 addr show eth0; cat /etc/hosts; echo ---; printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc 127.0.0.1 80'],
    'run --network container:owner',
  );
  t.equal(out.split('\n')[0], 'owner-host', "the owner's hostname");
  t.match(out, new RegExp(`inet ${ownerAddr?.replace(/\./g, '\\.')}/`), "the owner's eth0 and address");
  t.match(out, new RegExp(`^${ownerAddr?.replace(/\./g, '\\.')}\\s+owner-host`, 'm'), "the owner's /etc/hosts");
  t.match(out.split('---\n')[1] ?? '', /served-by-owner-host/, "the owner's server on 127.0.0.1: one network namespace");
  // A join of a join reaches the owner; a detached joiner keeps working while the owner runs.
  await ok(t, ['run', '-d', '--name', 'side', '--network', 'container:owner', 'busybox', 'sleep', '600'], 'run -d side');
  t.match(await ok(t, ['run', '--rm', '--network', 'container:side', 'busybox', 'hostname'], 'join of a join'), /^owner-host$/m, 'container:side is the owner\'s network');
  t.equal((await ok(t, ['port', 'side'], 'port side')).trim(), '', 'the joiner publishes nothing of its own');

  for (const [args, msg] of [
    [['run', '--rm', '--network', 'container:nope', 'busybox', 'true'], /container "nope" does not exist/],
    [['run', '--rm', '--network', 'container:owner', '-p', '8080:80', 'busybox', 'true'], /-p\/-P .* cannot be used with it/],
    [['run', '--rm', '--network', 'container:owner', '--dns', '10.1.1.1', 'busybox', 'true'], /--dns cannot be used with it/],
    [['run', '--rm', '--network', 'container:owner', '--hostname', 'x', 'busybox', 'true'], /--hostname cannot be used with --network container:owner/],
  ] as [string[], RegExp][]) {
    const r = await cc(args);
    t.not(r.code, 0, `${args.join(' ')} fails`);
    t.match(r.stderr, msg, 'naming the problem');
  }
  await ok(t, ['stop', '-t', '1', 'side'], 'stop side');
  await ok(t, ['stop', '-t', '1', 'owner'], 'stop owner');
  const before = containerDirs().length;
  const r = await cc(['run', '--rm', '--network', 'container:owner', 'busybox', 'true']);
  t.match(r.stderr, /container owner is not running \(stopped\): start it first \(ccrun start owner\)/, 'a stopped owner is refused by name');
  t.equal(containerDirs().length, before, 'and nothing is made');
  const again = await cc(['start', 'side']);
  t.match(again.stderr, /container owner is not running/, 'a joiner starts only while its owner runs');
  await ok(t, ['start', 'owner'], 'start owner');
  await ok(t, ['start', 'side'], 'then side');
  t.match(await ok(t, ['exec', 'side', 'ip', '-o', '-4', 'addr', 'show', 'eth0'], 'side address'), /inet 10\.88\./, 'side is on the owner\'s new attachment');
  await ok(t, ['rm', '-f', 'side', 'owner'], 'rm -f');
  t.equal(everything(), baseline, 'after rm: as before');
});

t.test('the plugins of $CCRUN_CNI_PATH also do the DELs, from a detached container\'s monitor (empty environment)', { skip }, async (t) => {
  const dir = join(work, 'cni-wrapped');
  const log = join(work, 'cni-wrapped.log');
  fs.mkdirSync(dir);
  for (const p of ['bridge', 'host-local', 'portmap', 'firewall', 'loopback']) {
    fs.writeFileSync(join(dir, p), `#!/bin/sh\necho "$CNI_COMMAND ${p}" >> ${log}\nexec /usr/lib/cni/${p}\n`, { mode: 0o755 });
  }
  const r = await cc(['run', '-d', '--name', 'wrapped', '-p', '18500:80', 'busybox', 'sleep', '600'], [`CCRUN_CNI_PATH=${dir}`]);
  t.equal(r.code, 0, `run -d with CCRUN_CNI_PATH ${r.stderr}`);
  t.match(fs.readFileSync(log, 'utf8'), /^ADD bridge$/m, 'ADD ran the wrapped plugins');
  await ok(t, ['stop', '-t', '0', 'wrapped'], 'stop (the monitor releases the network)');
  const calls = fs.readFileSync(log, 'utf8');
  for (const p of ['firewall', 'portmap', 'bridge']) t.match(calls, new RegExp(`^DEL ${p}$`, 'm'), `DEL ${p} ran from CCRUN_CNI_PATH`);
  await ok(t, ['rm', 'wrapped'], 'rm');
  t.equal(everything(), baseline, 'after rm: as before');
});

t.test('a stale attachment (runner and container killed) is released by the next ps', { skip }, async (t) => {
  const id = (await ok(t, ['run', '-d', '--name', 'stale', '-p', '9200:80', 'busybox', 'sleep', '600'], 'run -d')).trim();
  const saved = JSON.parse(fs.readFileSync(join(state, id, 'state.json'), 'utf8')) as { pid: number };
  // The monitor is the container's parent: kill both at once, as a crash would.
  const ppid = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${saved.pid}/status`, 'utf8'))![1]);
  process.kill(ppid, 'SIGKILL');
  process.kill(saved.pid, 'SIGKILL');
  await waitFor(() => !fs.existsSync(`/proc/${saved.pid}`), 5000);
  t.not(everything(), baseline, 'the crash left the attachment');
  await ok(t, ['ps', '-a'], 'ps -a');
  t.equal(everything(), baseline, 'ps released it');
  await ok(t, ['rm', '-f', 'stale'], 'rm');
});

t.test('user networks: names and aliases, isolation between networks, --internal, network commands', { skip }, async (t) => {
  t.equal((await ok(t, ['network', 'create', 'app'], 'create app')).trim(), 'app');
  await ok(t, ['network', 'create', '--subnet', '10.91.0.0/24', 'other'], 'create other');
  await ok(t, ['network', 'create', '--internal', 'inner'], 'create inner');
  const ls = await ok(t, ['network', 'ls'], 'network ls');
  t.match(ls, /^app\s+bridge\s+10\.89\.0\.0\/24/m, 'app got 10.89.0.0/24');
  t.match(ls, /^other\s+bridge\s+10\.91\.0\.0\/24/m);
  t.match(ls, /^inner\s+.*yes$/m, 'inner is internal');
  await ok(t, ['run', '-d', '--name', 'web', '--network', 'app', '--network-alias', 'www', '--ip', '10.89.0.50', 'busybox', ...httpServer(80)], 'web on app');
  await ok(t, ['run', '-d', '--name', 'far', '--network', 'other', 'busybox', ...httpServer(80)], 'far on other');
  const insp = JSON.parse(await ok(t, ['network', 'inspect', 'app'], 'inspect')) as { Containers: Record<string, { Name: string; IPv4Address: string[] }> }[];
  t.same(Object.values(insp[0].Containers), [{ Name: 'web', IPv4Address: ['10.89.0.50'] }], 'inspect lists web with its --ip');
  const dirs = containerDirs().length;
  const leased = leases();
  const clash = await cc(['run', '--rm', '--network', 'app', '--ip', '10.89.0.50', 'busybox', 'true']);
  t.equal(clash.code, 1, '--ip of an address in use fails');
  t.match(clash.stderr, /network "app": CNI plugin bridge ADD failed: .*10\.89\.0\.50.*: --ip 10\.89\.0\.50 is taken; choose another address/, `host-local's refusal, naming the address: ${clash.stderr.trim()}`);
  t.same([containerDirs().length, leases()], [dirs, leased], 'and leaves no container and no lease');
  const fromApp = await ok(t, ['run', '--rm', '--network', 'app', 'busybox', 'sh', '-c', 'wget -q -O - http://web:80/; wget -q -O - http://www:80/; grep -c far /etc/hosts || true'], 'a peer on app');
  t.match(fromApp, /^served-by-[0-9a-f]{12}\nserved-by-[0-9a-f]{12}\n0\n$/, 'reaches web by name and by alias; far is not in its hosts');
  const farIp = JSON.parse(await ok(t, ['network', 'inspect', 'other'], 'inspect other'))[0].Containers;
  const ip = (Object.values(farIp)[0] as { IPv4Address: string[] }).IPv4Address[0];
  const cross = await cc(['run', '--rm', '--network', 'app', 'busybox', 'sh', '-c', `timeout 3 wget -q -O - http://far:80/ || echo no-name; timeout 3 wget -q -O - http://${ip}:80/ || echo no-route`]);
  t.match(cross.stdout, /no-name\nno-route/, `not across networks: no name, and ${ip} unreachable`);
  const inner = await cc(['run', '--rm', '--network', 'inner', 'busybox', 'sh', '-c', `nc -w 2 ${OUTSIDE_IP} ${ECHO_PORT} </dev/null || echo no-egress`]);
  t.match(inner.stdout, /no-egress/, '--internal: no egress');
  t.notMatch(inner.stdout, /hello/);
  const rmBusy = await cc(['network', 'rm', 'app']);
  t.equal(rmBusy.code, 1, 'network rm refused while used');
  t.match(rmBusy.stderr, /network "app" is used by container web: remove it first/);
  await ok(t, ['rm', '-f', 'web', 'far'], 'rm');
  for (const n of ['app', 'other', 'inner']) await ok(t, ['network', 'rm', n], `network rm ${n}`);
  t.notMatch(await ok(t, ['network', 'ls'], 'ls'), /app|other|inner/, 'gone from ls');
  t.same(leases(), [], 'no lease left');
  t.same(netnsLeft(), [], 'no netns left');
});

t.test('bad input: a clear error, and nothing made', { skip }, async (t) => {
  // Something else listening on a host port: a plain nc in the host namespace.
  const holder = spawn(rig.inHost[0], [...rig.inHost.slice(1), 'busybox', 'nc', '-l', '-p', '8181'], { stdio: 'ignore' });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  await waitFor(async () => (await rig.runInHost(['ss', '-Htln', 'sport = :8181'])).stdout.includes('8181'), 5000);
  await ok(t, ['network', 'create', 'taken'], 'a network to overlap');
  const before = everything();
  const dirs = containerDirs().length;
  const cases: [string[], RegExp][] = [
    [['run', '--rm', '-p', '80:', 'busybox', 'true'], /-p "80:": use \[\[IP:\]HOSTPORT:\]CONTAINERPORT/],
    [['run', '--rm', '-p', '70000:80', 'busybox', 'true'], /host port "70000" is not a port number/],
    [['run', '--rm', '-p', '80/sctp', 'busybox', 'true'], /protocol "sctp" is not tcp or udp/],
    [['run', '--rm', '-p', '8181:80', 'busybox', 'true'], /host port 8181\/tcp is already in use on this host: choose another host port/],
    [['run', '--rm', '--network', 'nosuch', 'busybox', 'true'], /network "nosuch" does not exist: create it \(ccrun network create nosuch\)/],
    [['run', '--rm', '--network', 'taken', '--ip', '10.1.1.1', 'busybox', 'true'], /--ip 10\.1\.1\.1 is not in network "taken"'s subnet 10\.89\.\d+\.0\/24: choose an address in it/],
    [['run', '--rm', '--network', 'none', '-p', '80', 'busybox', 'true'], /with --network none there is none/],
    [['run', '--rm', '--network-alias', 'x', 'busybox', 'true'], /--network-alias works on a user network only/],
    [['network', 'create', '--subnet', '10.89.0.0/16', 'clash'], /--subnet 10\.89\.0\.0\/16 overlaps network "taken": choose a subnet that does not/],
    [['network', 'create', '--subnet', '10.250.0.0/24', 'clash'], /overlaps a route of this host \(10\.250\.0\.0\/24\)/],
    [['network', 'create', 'taken'], /network "taken" already exists/],
    [['network', 'create', 'bad/name'], /invalid network name "bad\/name"/],
  ];
  for (const [args, re] of cases) {
    const r = await cc(args);
    t.equal(r.code, 1, `${args.join(' ')} fails`);
    t.match(r.stderr, re, `${args.join(' ')}: ${r.stderr.trim()}`);
  }
  const noPlugin = await cc(['run', '--rm', 'busybox', 'true'], ['CCRUN_CNI_PATH=/nonexistent']);
  t.equal(noPlugin.code, 1, 'missing plugins fail');
  t.match(noPlugin.stderr, /the CNI plugins "bridge", "host-local", "portmap", "firewall" are not in \/nonexistent: install them \(Debian: apt-get install containernetworking-plugins\)/);
  t.equal(containerDirs().length, dirs, 'no container was made');
  t.equal(everything(), before, 'nothing left in the network');
  t.notMatch(await ok(t, ['network', 'ls'], 'ls'), /clash/, 'no network file made');
  await ok(t, ['network', 'rm', 'taken'], 'rm taken');
});

t.test('network connect and disconnect: a container joins a second network while it runs and from then on, and leaves it; bad uses refused', { skip }, async (t) => {
  await ok(t, ['network', 'create', '--subnet', '10.93.0.0/24', 'conn'], 'create conn');
  await ok(t, ['run', '-d', '--name', 'c1', '--network', 'conn', 'busybox', ...httpServer(80)], 'c1 on conn');
  await ok(t, ['run', '-d', '--name', 'c2', 'busybox', 'sleep', '600'], 'c2 on the default network');
  const get = (from: string, host: string): Promise<string> => ok(t, ['exec', from, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} 80 || echo unreachable`], `exec ${from} nc ${host}`);
  t.match(await get('c2', 'c1'), /unreachable/, 'before: c2 cannot reach c1 by name');
  const onConn = (): string[] => leases().filter((l) => l.startsWith('conn/'));
  const leased = onConn();
  const badIp = await cc(['network', 'connect', '--ip', '10.94.0.5', 'conn', 'c2']);
  t.match(badIp.stderr, /--ip 10\.94\.0\.5 is not in network "conn"'s subnet 10\.93\.0\.0\/24/, 'an --ip outside the subnet is refused by name');
  t.same(onConn(), leased, 'and nothing is leased');
  await ok(t, ['network', 'connect', '--alias', 'second', '--ip', '10.93.0.77', 'conn', 'c2'], 'connect conn c2');
  t.match(await ok(t, ['exec', 'c2', 'ip', '-o', '-4', 'addr'], 'c2 addresses'), /eth1\s+inet 10\.93\.0\.77\/24/, 'c2 has eth1 with the --ip on conn, while it runs');
  t.match(await get('c2', 'c1'), /served-by-/, 'c2 reaches c1 by name');
  t.match(await ok(t, ['exec', 'c1', 'cat', '/etc/hosts'], 'c1 hosts'), /^10\.93\.0\.77\s+\S+ c2 second/m, "c1's hosts has c2 and its alias on conn");
  const insp = JSON.parse(await ok(t, ['network', 'inspect', 'conn'], 'inspect conn')) as { Containers: Record<string, { Name: string }> }[];
  t.same(Object.values(insp[0].Containers).map((c) => c.Name).sort(), ['c1', 'c2'], 'inspect lists both');
  for (const [args, msg] of [
    [['network', 'connect', 'conn', 'c2'], /container c2 is already connected to network "conn"/],
    [['network', 'connect', 'nope', 'c2'], /network "nope"/],
    [['network', 'disconnect', 'bridge', 'c1'], /container c1 is not connected to network "bridge"/],
  ] as [string[], RegExp][]) {
    const r = await cc(args);
    t.not(r.code, 0, `${args.join(' ')} fails`);
    t.match(r.stderr, msg, 'naming the problem');
  }
  await ok(t, ['run', '-d', '--name', 'c3', '--network', 'none', 'busybox', 'sleep', '600'], 'c3 with --network none');
  t.match((await cc(['network', 'connect', 'conn', 'c3'])).stderr, /cannot connect container c3: it has --network none/, 'a --network none container is refused by name');
  await ok(t, ['run', '-d', '--name', 'c4', '-p', '18700:80', 'busybox', 'sleep', '600'], 'c4 publishing a port');
  t.match((await cc(['network', 'disconnect', 'bridge', 'c4'])).stderr, /container c4 publishes its ports through network "bridge": stop it first/, 'the network its ports go through is kept while it runs');
  // The record keeps it: a stop and start comes back on both networks, with the same --ip.
  await ok(t, ['stop', '-t', '0', 'c2'], 'stop c2');
  await ok(t, ['start', 'c2'], 'start c2');
  t.match(await ok(t, ['exec', 'c2', 'ip', '-o', '-4', 'addr'], 'c2 addresses after start'), /eth1\s+inet 10\.93\.0\.77\/24/, 'after a restart: still on conn with its --ip');
  await ok(t, ['network', 'disconnect', 'conn', 'c2'], 'disconnect conn c2');
  t.notMatch(await ok(t, ['exec', 'c2', 'ip', '-o', '-4', 'addr'], 'c2 addresses after disconnect'), /eth1/, 'eth1 is gone at once');
  // As whole words: c1's own line holds its random hex id, which can contain "c2".
  t.notMatch(await ok(t, ['exec', 'c1', 'cat', '/etc/hosts'], 'c1 hosts'), /(^|\s)(c2|second)(\s|$)/m, "c2 and its alias are gone from c1's hosts");
  t.same(onConn(), leased, 'its lease on conn is released');
  await ok(t, ['stop', '-t', '0', 'c2'], 'stop c2 again');
  await ok(t, ['start', 'c2'], 'start c2 again');
  t.notMatch(await ok(t, ['exec', 'c2', 'ip', '-o', '-4', 'addr'], 'c2 addresses'), /eth1/, 'and it stays off conn');
  await ok(t, ['rm', '-f', 'c1', 'c2', 'c3', 'c4'], 'rm -f');
  const bridge = (JSON.parse(await ok(t, ['network', 'inspect', 'conn'], 'inspect conn')) as { Bridge: string }[])[0].Bridge;
  await ok(t, ['network', 'rm', 'conn'], 'network rm conn');
  t.notMatch(rig.snapshot().split('\n')[0], new RegExp(`\\b${bridge}\\b`), `its bridge ${bridge} went with it`);
  // A network made next takes the name again, with another subnet: its containers get it.
  await ok(t, ['network', 'create', '--subnet', '10.95.0.0/24', 'conn2'], 'create conn2');
  t.equal((JSON.parse(await ok(t, ['network', 'inspect', 'conn2'], 'inspect conn2')) as { Bridge: string }[])[0].Bridge, bridge, `conn2 reuses ${bridge}`);
  t.match(await ok(t, ['run', '--rm', '--network', 'conn2', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0'], 'run on conn2'), /inet 10\.95\.0\./, 'and a container on it gets an address of the new subnet');
  await ok(t, ['network', 'rm', 'conn2'], 'network rm conn2');
  t.same(leases(), [], 'no lease left');
  t.same(netnsLeft(), [], 'no netns left');
});
