// The networks a container can join: CNI network configuration lists, one
// `<dir>/<name>.conflist` each (the files nerdctl keeps in /etc/cni/net.d),
// so a user may drop in one of their own. `ccrun network create` writes a
// bridge list: bridge (with host-local IPAM), portmap, firewall (no tuning:
// it would cost two process starts per container for no sysctl asked).
// The default network "bridge" is made the same way on first use.
import type * as ChildProcess from 'child_process';
import * as fs from 'fs';
import { join } from 'path';
import type { ConfList, PluginConf } from './cni';
import { ConfigError, NotFoundError, StateError, UsageError } from '../runtime/errors';

export const DEFAULT_NETWORK = 'bridge';
/** Names that are modes, not networks. */
export const RESERVED_NETWORKS = ['none', 'host', 'bridge', 'default', 'pasta', 'slirp4netns', 'private'];

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** An IPv4 subnet as numbers. */
export interface Subnet {
  base: number;
  bits: number;
}

export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export function parseSubnet(text: string): Subnet | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const ip = parseIPv4(m[1]);
  const bits = Number(m[2]);
  if (ip === undefined || bits > 32) return undefined;
  return { base: (ip & mask(bits)) >>> 0, bits };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIPv4(s.base)}/${s.bits}`;
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0);
}

export function subnetContains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.bits)) >>> 0) === s.base;
}

/** The IPv4 routes of this network namespace (/proc/net/route), default route left out. */
export function hostRoutes(): Subnet[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const le = (hex: string): number => Buffer.from(hex, 'hex').readUInt32LE(0);
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map((f) => ({ base: le(f[1]), mask: le(f[7]) }))
    .filter((r) => r.mask !== 0)
    .map((r) => ({ base: (r.base & r.mask) >>> 0, bits: 32 - countZeroBits(r.mask) }));
}

function countZeroBits(m: number): number {
  let n = 0;
  for (let i = 0; i < 32 && ((m >>> i) & 1) === 0; i++) n++;
  return n;
}

/** What `network ls`/`inspect` show of a list, read from its bridge plugin (when it has one). */
export interface NetworkInfo {
  name: string;
  driver: string;
  subnet?: string;
  gateway?: string;
  bridge?: string;
  internal: boolean;
  /** Made by ccrun (false: a list the user wrote). */
  ccrunMade: boolean;
  file: string;
  conf: ConfList;
}

function bridgePlugin(conf: ConfList): PluginConf | undefined {
  return conf.plugins.find((p) => p.type === 'bridge') ?? conf.plugins[0];
}

function ipamRange(conf: ConfList): { subnet?: string; gateway?: string } {
  const ipam = bridgePlugin(conf)?.ipam as { subnet?: string; gateway?: string; ranges?: { subnet: string; gateway?: string }[][] } | undefined;
  const r = ipam?.ranges?.[0]?.[0];
  return { subnet: r?.subnet ?? ipam?.subnet, gateway: r?.gateway ?? ipam?.gateway };
}

export function networkInfo(conf: ConfList, file: string): NetworkInfo {
  const main = bridgePlugin(conf);
  const range = ipamRange(conf);
  const subnet = range.subnet ? parseSubnet(range.subnet) : undefined;
  return {
    name: conf.name,
    driver: main?.type ?? '',
    subnet: range.subnet,
    gateway: range.gateway ?? (subnet ? formatIPv4(subnet.base + 1) : undefined),
    bridge: typeof main?.bridge === 'string' ? main.bridge : undefined,
    internal: Boolean((conf as { ccrunInternal?: boolean }).ccrunInternal),
    ccrunMade: Boolean((conf as { ccrunMade?: boolean }).ccrunMade),
    file,
    conf,
  };
}

export interface CreateOptions {
  subnet?: string;
  internal?: boolean;
}

/** The CNI lists under one directory (the image store's networks/). */
export class NetworkConfigs {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${name}.conflist`);
  }

  /** Every readable list; a broken file is skipped with its reason given to warn. */
  list(warn?: (m: string) => void): NetworkInfo[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.endsWith('.conflist')).sort();
    } catch {
      return [];
    }
    const out: NetworkInfo[] = [];
    for (const n of names) {
      try {
        out.push(this.load(join(this.dir, n)));
      } catch (e) {
        warn?.((e as Error).message);
      }
    }
    return out;
  }

  private load(file: string): NetworkInfo {
    let conf: ConfList;
    try {
      conf = JSON.parse(fs.readFileSync(file, 'utf8')) as ConfList;
    } catch (e) {
      throw new ConfigError(`network file ${file}: ${(e as Error).message}`);
    }
    if (typeof conf.name !== 'string' || !Array.isArray(conf.plugins) || conf.plugins.some((p) => typeof p?.type !== 'string')) {
      throw new ConfigError(`network file ${file}: not a CNI configuration list (it needs "name" and "plugins", each with a "type")`);
    }
    conf.cniVersion ??= '1.0.0';
    return networkInfo(conf, file);
  }

  find(name: string): NetworkInfo | undefined {
    return this.list().find((n) => n.name === name);
  }

  require(name: string): NetworkInfo {
    const n = this.find(name);
    if (!n) throw new NotFoundError(`network "${name}" does not exist: create it (ccrun network create ${name}) or see ccrun network ls`);
    return n;
  }

  /** Subnets taken: other networks' and this namespace's routes (the host's own networks). */
  private takenSubnets(): { subnet: Subnet; by: string }[] {
    const nets = this.list()
      .filter((n) => n.subnet)
      .map((n) => ({ subnet: parseSubnet(n.subnet!)!, by: `network "${n.name}"` }));
    const routes = hostRoutes().map((r) => ({ subnet: r, by: `a route of this host (${formatSubnet(r)})` }));
    return [...nets, ...routes];
  }

  /** The first free subnet of the candidates (10.88.0.0/16 for the default, 10.89.N.0/24 for the others, as podman). */
  private pickSubnet(isDefault: boolean): Subnet {
    const taken = this.takenSubnets();
    const candidates: Subnet[] = isDefault
      ? [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ base: parseIPv4(`10.${88 + i * 10}.0.0`)!, bits: 16 }))
      : Array.from({ length: 256 * 8 }, (_, i) => ({ base: parseIPv4(`10.${89 + Math.floor(i / 256)}.${i % 256}.0`)!, bits: 24 }));
    const free = candidates.find((c) => !taken.some((t) => subnetsOverlap(c, t.subnet)));
    if (!free) throw new StateError('no free subnet left for a new network: give one with --subnet CIDR, or remove unused networks (ccrun network rm)');
    return free;
  }

  /**
   * A free bridge device name, ccrun0 for the default network, ccrun1... for
   * the others: named by no network, and no link of this namespace (a bridge
   * left by a network removed elsewhere keeps its old address, and the
   * bridge plugin would refuse the new one).
   */
  private pickBridge(isDefault: boolean): string {
    if (isDefault) return 'ccrun0';
    const used = new Set([...this.list().map((n) => n.bridge), ...linkNames()]);
    for (let i = 1; ; i++) if (!used.has(`ccrun${i}`)) return `ccrun${i}`;
  }

  /** Writes a new bridge network's list; the checks come first, so a refusal leaves no file. */
  create(name: string, opts: CreateOptions = {}, allowReserved = false): NetworkInfo {
    if (!NAME_RE.test(name)) throw new UsageError(`invalid network name "${name}": use up to 64 letters, digits, "_", "." and "-", starting with a letter or digit`);
    if (!allowReserved && RESERVED_NETWORKS.includes(name)) throw new UsageError(`network name "${name}" is reserved (${RESERVED_NETWORKS.join(', ')}): choose another name`);
    if (this.find(name)) throw new StateError(`network "${name}" already exists (see ccrun network inspect ${name})`);
    let subnet: Subnet;
    if (opts.subnet !== undefined) {
      const s = parseSubnet(opts.subnet);
      if (!s || s.bits > 30) throw new UsageError(`--subnet "${opts.subnet}" is not an IPv4 subnet of at least 4 addresses (e.g. 10.90.0.0/24)`);
      const clash = this.takenSubnets().find((t) => subnetsOverlap(s, t.subnet));
      if (clash) throw new StateError(`--subnet ${formatSubnet(s)} overlaps ${clash.by}: choose a subnet that does not (see ccrun network ls and ip route)`);
      subnet = s;
    } else {
      subnet = this.pickSubnet(name === DEFAULT_NETWORK);
    }
    const gateway = formatIPv4(subnet.base + 1);
    const internal = Boolean(opts.internal);
    const conf: ConfList = {
      cniVersion: '1.0.0',
      name,
      ccrunMade: true,
      ccrunInternal: internal,
      plugins: [
        {
          type: 'bridge',
          bridge: this.pickBridge(name === DEFAULT_NETWORK),
          // Internal: no default route and no masquerading, so nothing leaves the bridge.
          isGateway: true,
          ipMasq: !internal,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: formatSubnet(subnet), gateway }]],
            routes: internal ? [] : [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
        // Containers of one network are kept from other networks' bridges (CNI-ISOLATION chains).
        { type: 'firewall', ingressPolicy: 'same-bridge' },
      ],
    };
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const file = this.file(name);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(conf, null, 2) + '\n');
    fs.renameSync(tmp, file);
    return networkInfo(conf, file);
  }

  /**
   * Removes the network's list and, for a network ccrun made, its bridge
   * device (as Docker removes a user network's br-*): no container is on it
   * (the caller checked), and a later network that reuses the name would
   * otherwise meet the old bridge with the old address. The default
   * network's bridge and a bridge named by a list of the user's stay.
   */
  remove(name: string, warn?: (m: string) => void): void {
    const n = this.require(name);
    fs.rmSync(n.file, { force: true });
    if (!n.ccrunMade || !n.bridge || !/^ccrun[1-9]\d*$/.test(n.bridge) || !linkNames().includes(n.bridge)) return;
    const r = (require('child_process') as typeof ChildProcess).spawnSync('ip', ['link', 'delete', n.bridge], { encoding: 'utf8' });
    if (r.status !== 0) warn?.(`network "${name}": its bridge ${n.bridge} was left: ${(r.error?.message ?? r.stderr).trim()} (remove it with ip link delete ${n.bridge})`);
  }
}

/** The network devices of the caller's network namespace (/proc/self/net/dev is per namespace; /sys/class/net is the mounter's). */
export function linkNames(): string[] {
  try {
    return fs
      .readFileSync('/proc/self/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0].trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}
