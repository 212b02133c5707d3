// Rootless networking as rootless podman does it: pasta (passt project)
// joins the container's user and network namespaces (by its init's pid,
// before the command starts), gives it the host's addresses and routes with a
// tap device, carries its outbound traffic as the user's own sockets, and
// listens on the published host ports. No privileges are needed.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import { HostError, NotFoundError } from '../runtime/errors';
import type { PortMapping } from './ports';

function portList(maps: PortMapping[], protocol: 'tcp' | 'udp'): string {
  const list = maps.filter((m) => m.protocol === protocol).map((m) => `${m.hostIP ? `${m.hostIP}/` : ''}${m.hostPort}:${m.containerPort}`);
  return list.length ? list.join(',') : 'none';
}

/**
 * Starts pasta for the namespaces of `pid`, in the foreground of a detached
 * process of ours (so its pid is known: a forking pasta writes its parent's),
 * and returns once it has configured the namespace (it writes --pid then).
 */
export async function startPasta(pid: number, ports: PortMapping[], pidFile: string): Promise<number> {
  fs.rmSync(pidFile, { force: true });
  const args = [
    '--config-net', '--quiet', '--foreground',
    // The gateway is the real one: pasta would otherwise take its address for the host's loopback.
    '--no-map-gw',
    '-t', portList(ports, 'tcp'), '-u', portList(ports, 'udp'),
    // Nothing from the container to the host's own ports: its loopback stays its own.
    '-T', 'none', '-U', 'none',
    '--pid', pidFile,
    String(pid),
  ];
  const child = spawn('pasta', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let exited: number | null | undefined;
  let spawnError: Error | undefined;
  child.on('exit', (code) => (exited = code));
  child.on('error', (e) => (spawnError = e));
  for (let i = 0; i < 2000; i++) {
    if (spawnError) {
      if ((spawnError as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('rootless networking needs pasta, which is not installed (Debian: apt-get install passt), or use --network none');
      throw new HostError(`cannot start pasta: ${spawnError.message}`);
    }
    if (exited !== undefined) {
      throw new HostError(`pasta could not set up the container's network: ${err.split('\n').filter((l) => l && !/syslog/.test(l)).join('; ') || `exit status ${exited}`}${/tun/.test(err) ? ' (pasta needs /dev/net/tun readable and writable by you: chmod 0666 /dev/net/tun, as udev sets it)' : ''}`);
    }
    if (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '') {
      child.stderr!.destroy();
      child.unref();
      return child.pid!;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  throw new HostError('pasta did not configure the network namespace within 10 s');
}

/**
 * A process of the user's in a new user namespace (root mapped to the user)
 * and network namespace: `unshare --user --map-root-user --net sleep`. The
 * container joins both; pasta gives the network one its interface.
 */
export async function startHolder(): Promise<number> {
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '2147483647'], { detached: true, stdio: 'ignore' });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new HostError('cannot start unshare (util-linux) for the rootless network namespace');
  const own = fs.statSync('/proc/self/ns/net').ino;
  for (let i = 0; i < 500; i++) {
    try {
      // Ready once unshare has exec'd sleep inside its new namespaces.
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' && fs.statSync(`/proc/${pid}/ns/net`).ino !== own) return pid;
    } catch {
      throw new HostError('unshare --user --net failed: are unprivileged user namespaces allowed here?');
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  stopHolder(pid);
  throw new HostError('unshare --user --net did not get ready in time');
}

export function stopHolder(pid: number): void {
  try {
    if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

/** Ends a pasta we started (only if that pid is still a pasta: pids are reused). */
export function stopPasta(pid: number): void {
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (!comm.startsWith('pasta') && !comm.startsWith('passt')) return;
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
}
