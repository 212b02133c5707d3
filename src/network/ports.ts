// Published ports: `-p` as Docker reads it, and the host side checked before
// anything is made (a port something else holds is refused by name). The
// forwarding itself is the CNI portmap plugin's (DNAT rules) or pasta's.
import type * as Dgram from 'dgram';
import type * as Net from 'net';
import { UsageError } from '../runtime/errors';
import { parseIPv4 } from './networks';

export type Protocol = 'tcp' | 'udp';

/** One published port (CNI portmap's portMappings entry, with the host port always chosen). */
export interface PortMapping {
  hostIP?: string;
  /** 0 until a free one is chosen (-p CPORT, -P). */
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

function port(text: string, spec: string, what: string): number {
  if (/^\d+-\d+$/.test(text)) throw new UsageError(`-p "${spec}": port ranges are not supported: publish each port with its own -p`);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UsageError(`-p "${spec}": the ${what} "${text}" is not a port number (1-65535)`);
  return n;
}

/** `[[IP:]HOSTPORT:]CPORT[/tcp|/udp]` (IP::CPORT: a free port on IP). */
export function parsePublish(spec: string): PortMapping {
  const bad = (): never => {
    throw new UsageError(`-p "${spec}": use [[IP:]HOSTPORT:]CONTAINERPORT[/tcp|/udp] (e.g. -p 8080:80, -p 127.0.0.1:8080:80/tcp, -p 53/udp)`);
  };
  const slash = spec.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw new UsageError(`-p "${spec}": the protocol "${proto}" is not tcp or udp`);
  const parts = (slash < 0 ? spec : spec.slice(0, slash)).split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(parts.length === 3 && i === 1))) bad();
  const containerPort = port(parts[parts.length - 1], spec, 'container port');
  const hostPort = parts.length >= 2 && parts[parts.length - 2] !== '' ? port(parts[parts.length - 2], spec, 'host port') : 0;
  let hostIP: string | undefined;
  if (parts.length === 3) {
    if (parseIPv4(parts[0]) === undefined) throw new UsageError(`-p "${spec}": the host address "${parts[0]}" is not an IPv4 address`);
    if (parts[0] !== '0.0.0.0') hostIP = parts[0];
  }
  return { ...(hostIP ? { hostIP } : {}), hostPort, containerPort, protocol: proto };
}

/** The image's ExposedPorts ("80/tcp") for -P: each on a free host port. */
export function exposedPorts(exposed: Record<string, unknown> | undefined): PortMapping[] {
  return Object.keys(exposed ?? {}).map((k) => {
    const [p, proto = 'tcp'] = k.split('/');
    return parsePublish(`${p}/${proto}`);
  });
}

export function formatMapping(m: PortMapping): string {
  return `${m.hostIP ?? '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}

/** Whether this namespace lets us bind the host port now (nothing listens on it). */
export function hostPortFree(m: Pick<PortMapping, 'hostIP' | 'hostPort' | 'protocol'>): Promise<boolean> {
  return bindOnce(m.protocol, m.hostIP ?? '0.0.0.0', m.hostPort).then(
    () => true,
    () => false,
  );
}

/** Binds and closes at once; resolves with the port bound (port 0: one the kernel picked). */
function bindOnce(protocol: Protocol, host: string, p: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // dgram and net load ~15 of Node's modules: only a -p that needs a check pays for them.
    if (protocol === 'udp') {
      const s = (require('dgram') as typeof Dgram).createSocket('udp4');
      s.once('error', reject);
      s.bind(p, host, () => {
        const got = s.address().port;
        s.close(() => resolve(got));
      });
    } else {
      const s = (require('net') as typeof Net).createServer();
      s.once('error', reject);
      s.listen({ port: p, host, exclusive: true }, () => {
        const got = (s.address() as Net.AddressInfo).port;
        s.close(() => resolve(got));
      });
    }
  });
}

/**
 * Fills in free host ports and checks the given ones: not held by a process
 * here, nor published by another container (`taken`, "PORT/PROTO" keys).
 * Throws naming the port and the fix.
 */
export async function chooseHostPorts(maps: PortMapping[], taken: Map<string, string>): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const mine = new Set<string>();
  for (const m of maps) {
    if (m.hostPort === 0) {
      let p = 0;
      for (let tries = 0; tries < 50; tries++) {
        p = await bindOnce(m.protocol, m.hostIP ?? '0.0.0.0', 0);
        if (!taken.has(`${p}/${m.protocol}`) && !mine.has(`${p}/${m.protocol}`)) break;
      }
      out.push({ ...m, hostPort: p });
    } else {
      const key = `${m.hostPort}/${m.protocol}`;
      const by = taken.get(key) ?? (mine.has(key) ? 'another -p of this run' : undefined);
      if (by) throw new UsageError(`-p ${m.hostPort}:${m.containerPort}/${m.protocol}: host port ${key} is already published by ${by}: choose another host port`);
      if (!(await hostPortFree(m))) {
        throw new UsageError(`-p ${m.hostPort}:${m.containerPort}/${m.protocol}: host port ${key} is already in use on this host: choose another host port (or -p ${m.containerPort} for a free one)`);
      }
      out.push(m);
    }
    mine.add(`${out[out.length - 1].hostPort}/${m.protocol}`);
  }
  return out;
}
