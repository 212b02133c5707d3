// A private network for networking tests, so nothing touches this machine's
// own: namespace "host" (where ccrun runs, as if it were the host) and
// namespace "outside" (another machine) joined by a veth pair,
//   host 10.250.0.1/24 <-> outside 10.250.0.2/24 (host's default route),
// with a TCP echo server in "outside" answering each connection with the
// address it came from (so a test sees NAT). ccrun runs in the host
// namespace through nsenter --net, keeping this machine's mount namespace
// (its store and the containers' mounts must outlive one command).
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { join } from 'path';
import { runAsync, type Result } from './runtime';

export const HOST_IP = '10.250.0.1';
export const OUTSIDE_IP = '10.250.0.2';
export const ECHO_PORT = 7000;

export interface NetRig {
  host: string;
  outside: string;
  /** argv prefix running a command in the host namespace. */
  inHost: string[];
  inOutside: string[];
  /** Runs argv in the host namespace (asynchronously). */
  runInHost(argv: string[], input?: string): Promise<Result>;
  runInOutside(argv: string[]): Promise<Result>;
  /**
   * An HTTP GET from one of the namespaces (node: the host's static busybox
   * wget crashes in glibc's NSS): the body, or "failed: why".
   */
  httpGet(where: 'host' | 'outside', url: string): Promise<string>;
  /** Sends one UDP datagram from a namespace: the first answer, or "failed: timeout". */
  udpAsk(where: 'host' | 'outside', server: string, port: number, message: string): Promise<string>;
  /** What must be as before once every container is gone: links, firewall rules, listening sockets. */
  snapshot(): string;
  dispose(): void;
}

function sh(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Why networking tests cannot run here, or undefined. */
export function netRigProblem(): string | undefined {
  if ((process.geteuid?.() ?? 0) !== 0) return 'needs root (network namespaces, bridges, NAT)';
  for (const tool of ['ip', 'nsenter', 'unshare', 'iptables-save']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  for (const p of ['bridge', 'host-local', 'portmap', 'firewall', 'tuning', 'loopback']) if (!fs.existsSync(join('/usr/lib/cni', p))) return `the CNI plugin ${p} is not in /usr/lib/cni (apt-get install containernetworking-plugins)`;
  if (!fs.existsSync('/bin/busybox')) return 'busybox-static is not installed';
  return undefined;
}

const ECHO_SERVER = `
const net = require('net');
net.createServer((s) => { s.end('hello ' + s.remoteAddress.replace(/^::ffff:/, '') + '\\n'); s.on('error', () => {}); })
  .listen(${ECHO_PORT}, '0.0.0.0', () => console.log('ready'));
`;

export async function makeNetRig(tag: string): Promise<NetRig> {
  const host = `cch-${tag}-${process.pid}`.slice(0, 30);
  const outside = `cco-${tag}-${process.pid}`.slice(0, 30);
  const servers: ChildProcess[] = [];
  const dispose = (): void => {
    for (const s of servers) s.kill('SIGKILL');
    // Deleting a namespace takes its veths, bridges and firewall rules along.
    spawnSync('ip', ['netns', 'del', host]);
    spawnSync('ip', ['netns', 'del', outside]);
  };
  try {
    sh(['ip', 'netns', 'add', host]);
    sh(['ip', 'netns', 'add', outside]);
    const inHost = ['nsenter', `--net=/run/netns/${host}`];
    const inOutside = ['nsenter', `--net=/run/netns/${outside}`];
    sh([...inHost, 'ip', 'link', 'set', 'lo', 'up']);
    sh([...inOutside, 'ip', 'link', 'set', 'lo', 'up']);
    sh([...inHost, 'ip', 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'wire', 'netns', outside]);
    sh([...inHost, 'ip', 'addr', 'add', `${HOST_IP}/24`, 'dev', 'uplink']);
    sh([...inHost, 'ip', 'link', 'set', 'uplink', 'up']);
    sh([...inHost, 'ip', 'route', 'add', 'default', 'via', OUTSIDE_IP]);
    sh([...inOutside, 'ip', 'addr', 'add', `${OUTSIDE_IP}/24`, 'dev', 'wire']);
    sh([...inOutside, 'ip', 'link', 'set', 'wire', 'up']);
    const echo = spawn(inOutside[0], [...inOutside.slice(1), process.execPath, '-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(echo);
    await new Promise<void>((ok, fail) => {
      echo.stdout!.once('data', () => ok());
      echo.once('exit', () => fail(new Error('the echo server did not start')));
    });
    return {
      host,
      outside,
      inHost,
      inOutside,
      runInHost: (argv, input) => runAsync([...inHost, ...argv], { input }),
      runInOutside: (argv) => runAsync([...inOutside, ...argv]),
      httpGet: async (where, url) => {
        const js = `require('http').get(${JSON.stringify(url)}, { timeout: 3000 }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(b.trim())); }).on('error', (e) => console.log('failed: ' + e.message)).on('timeout', function () { console.log('failed: timeout'); this.destroy(); });`;
        return (await runAsync([...(where === 'host' ? inHost : inOutside), process.execPath, '-e', js])).stdout.trim();
      },
      udpAsk: async (where, server, port, message) => {
        const js = `const s = require('dgram').createSocket('udp4'); s.on('message', (m) => { console.log(String(m)); process.exit(0); }); s.send(${JSON.stringify(message)}, ${port}, ${JSON.stringify(server)}); setTimeout(() => { console.log('failed: timeout'); process.exit(0); }, 3000);`;
        return (await runAsync([...(where === 'host' ? inHost : inOutside), process.execPath, '-e', js])).stdout.trim();
      },
      snapshot: () =>
        [
          sh([...inHost, 'ip', '-o', 'link', 'show']).split('\n').map((l) => l.replace(/^\d+: /, '').split(/[:@]/)[0]).sort().join(' '),
          sh([...inHost, 'iptables-save']).split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n'),
          sh([...inHost, 'ss', '-Htuln']).split('\n').map((l) => l.replace(/\s+/g, ' ')).sort().join('\n'),
        ].join('\n---\n'),
      dispose,
    };
  } catch (e) {
    dispose();
    throw e;
  }
}
