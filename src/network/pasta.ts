// Rootless networking as rootless podman does it: pasta (passt project)
// joins the container's user and network namespaces (by its init's pid,
// before the command starts), gives it the host's addresses and routes with a
// tap device, carries its outbound traffic as the user's own sockets, and
// listens on the published host ports. No privileges are needed.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { HostError, NotFoundError } from '../runtime/errors';
import type { PortMapping } from './ports';

function portList(maps: PortMapping[], protocol: 'tcp' | 'udp'): string {
  const list = maps.filter((m) => m.protocol === protocol).map((m) => `${m.hostIP ? `${m.hostIP}/` : ''}${m.hostPort}:${m.containerPort}`);
  return list.length ? list.join(',') : 'none';
}

/** Starts pasta for the namespaces of `pid`; returns pasta's pid (it forks to the background once ready). */
export function startPasta(pid: number, ports: PortMapping[], pidFile: string): number {
  const args = [
    '--config-net', '--quiet',
    '-t', portList(ports, 'tcp'), '-u', portList(ports, 'udp'),
    // Nothing from the container to the host's own ports: its loopback stays its own.
    '-T', 'none', '-U', 'none',
    '--pid', pidFile,
    String(pid),
  ];
  const r = spawnSync('pasta', args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new NotFoundError('rootless networking needs pasta, which is not installed (Debian: apt-get install passt), or use --network none');
  }
  if (r.status !== 0) throw new HostError(`pasta could not set up the container's network: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  const p = Number(fs.readFileSync(pidFile, 'utf8').trim());
  if (!(p > 0)) throw new HostError(`pasta wrote no pid to ${pidFile}`);
  return p;
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
