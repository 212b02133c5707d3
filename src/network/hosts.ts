// The container's /etc/hosts and /etc/resolv.conf, as Docker writes them: its
// own name on its address, the peers of its user networks by name and alias
// (CNI has no DNS; ccrun keeps these files current as containers come and go),
// --add-host lines, and the host's resolvers without loopback ones.
import * as fs from 'fs';
import { UsageError } from '../runtime/errors';
import { parseIPv4 } from './networks';

export interface HostsEntry {
  ip: string;
  names: string[];
}

export function parseAddHost(text: string): HostsEntry {
  // NAME:IP, or NAME=IP (docker 25); the IP may be IPv6 (it has colons), so split at the first one.
  const sep = text.includes('=') ? text.indexOf('=') : text.indexOf(':');
  const name = sep < 0 ? '' : text.slice(0, sep);
  const ip = sep < 0 ? '' : text.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(name) || !(parseIPv4(ip) !== undefined || /^[0-9a-fA-F:]+$/.test(ip) && ip.includes(':'))) {
    throw new UsageError(`--add-host "${text}": use NAME:IP (e.g. --add-host db.local:10.0.0.5)`);
  }
  return { ip, names: [name] };
}

export function checkDns(servers: string[]): void {
  for (const s of servers) if (parseIPv4(s) === undefined && !/^[0-9a-fA-F:]+:[0-9a-fA-F:]*$/.test(s)) throw new UsageError(`--dns "${s}" is not an IP address (e.g. --dns 1.1.1.1)`);
}

export interface HostsContent {
  hostname: string;
  /** The container's own addresses and names; none: the hostname on 127.0.1.1. */
  own: HostsEntry[];
  peers: HostsEntry[];
  extra: HostsEntry[];
  /** --network host: the host's own /etc/hosts. */
  hostFile?: boolean;
}

export function hostsText(c: HostsContent): string {
  if (c.hostFile) {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8') + c.extra.map((e) => `${e.ip}\t${e.names.join(' ')}\n`).join('');
    } catch {
      /* fall through to a generated one */
    }
  }
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const own = c.own.length ? c.own : [{ ip: '127.0.1.1', names: [c.hostname] }];
  for (const e of [...own, ...c.peers, ...c.extra]) lines.push(`${e.ip}\t${[...new Set(e.names)].join(' ')}`);
  return lines.join('\n') + '\n';
}

function hostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/**
 * The host's resolv.conf for a container in a network namespace of its own:
 * loopback nameservers (a local stub resolver) reach nothing from there, so
 * they go, and Google's public ones stand in when none is left, as Docker
 * does. --dns replaces the nameservers. With the host's network it is kept.
 */
export function resolvConfText(dns: string[], keepLoopback: boolean, text = hostResolvConf()): string {
  const isServer = (l: string): boolean => /^\s*nameserver\s/.test(l);
  const isLoopback = (l: string): boolean => /^\s*nameserver\s+(127\.|::1\s*$|::1$)/.test(l);
  let lines = text.split('\n').filter((l) => l !== '');
  if (dns.length) lines = [...lines.filter((l) => !isServer(l)), ...dns.map((d) => `nameserver ${d}`)];
  else if (!keepLoopback) {
    lines = lines.filter((l) => !isLoopback(l));
    if (!lines.some(isServer)) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
