// Device access rules for the devices cgroup (v1 devices.allow/deny, v2 an
// eBPF program): the defaults every container gets, the merge of the config's
// rules, and checks shared by both versions.
import type { Device, DeviceCgroup, Resources } from '../runtime/config/types';
import { ConfigError } from '../runtime/errors';

/** -1 stands for "*" (any major or minor). */
export const WILDCARD = -1;

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  major: number;
  minor: number;
  /** Some of "rwm", in any order, no repeats. */
  access: string;
}

/**
 * Allowed in every container whatever the config says, as runc's
 * AllowedDevices: mknod of any char/block device (the node is still useless
 * without read/write access), and the standard /dev entries.
 */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = [
  { allow: true, type: 'c', major: WILDCARD, minor: WILDCARD, access: 'm' },
  { allow: true, type: 'b', major: WILDCARD, minor: WILDCARD, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // /dev/console
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx (/dev/pts/ptmx)
  { allow: true, type: 'c', major: 136, minor: WILDCARD, access: 'rwm' }, // /dev/pts/*
];

function checkAccess(access: string, where: string): string {
  if (access === '') return '';
  if (!/^[rwm]+$/.test(access) || new Set(access).size !== access.length) {
    throw new ConfigError(`${where}.access: "${access}" must be made of r, w and m (each at most once)`);
  }
  // Canonical order keeps v1 files and the BPF program independent of spelling.
  return ['r', 'w', 'm'].filter((c) => access.includes(c)).join('');
}

/** Converts linux.resources.devices entries, checking each. */
export function rulesFromConfig(devices: DeviceCgroup[] | undefined): DeviceRule[] {
  return (devices ?? []).map((d, i) => {
    const where = `linux.resources.devices[${i}]`;
    const type = d.type ?? 'a';
    if (type !== 'a' && type !== 'c' && type !== 'b') {
      throw new ConfigError(`${where}.type: "${String(type)}" must be a (all), c (char) or b (block)`);
    }
    const num = (v: number | null | undefined, name: string): number => {
      if (v === undefined || v === null || v === -1) return WILDCARD;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ConfigError(`${where}.${name}: ${v} is not a device number`);
      return v;
    };
    const access = checkAccess(d.access ?? 'rwm', where) || 'rwm';
    // The kernel reads type "a" as every device with every access, whatever
    // else the rule says; normalise so v1 and the eBPF program agree.
    if (type === 'a') return { allow: d.allow, type, major: WILDCARD, minor: WILDCARD, access: 'rwm' };
    return { allow: d.allow, type, major: num(d.major, 'major'), minor: num(d.minor, 'minor'), access };
  });
}

/**
 * The full rule list for a container, in the order runc applies it: the
 * config's rules, then the defaults, then read/write/mknod of every device
 * the config creates under linux.devices. The cgroup starts from "deny all".
 */
export function containerDeviceRules(resourceDevices: DeviceCgroup[] | undefined, linuxDevices: Device[] | undefined): DeviceRule[] {
  const rules = rulesFromConfig(resourceDevices);
  rules.push(...DEFAULT_ALLOWED_DEVICES.map((r) => ({ ...r })));
  for (const d of linuxDevices ?? []) {
    if ((d.type === 'c' || d.type === 'b' || d.type === 'u') && d.major !== undefined && d.minor !== undefined) {
      rules.push({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major, minor: d.minor, access: 'rwm' });
    }
  }
  return rules;
}

/** The v1 devices.allow / devices.deny line for a rule, e.g. "c 1:3 rwm", "a *:* rwm". */
export function v1RuleLine(rule: DeviceRule): string {
  const n = (v: number): string => (v === WILDCARD ? '*' : String(v));
  return `${rule.type} ${n(rule.major)}:${n(rule.minor)} ${rule.access}`;
}

/** True for "a *:* rwm": a rule that decides every access. */
export function isWildcardRule(rule: DeviceRule): boolean {
  return rule.type === 'a' && rule.major === WILDCARD && rule.minor === WILDCARD && rule.access === 'rwm';
}

/**
 * Reference semantics of a rule list (starting from deny-all), used by the
 * tests to check the eBPF program and usable by callers to explain a denial:
 * the last rule that decides the request wins. An allow rule decides a request
 * whose accesses it all covers; a deny rule decides one it shares any access with.
 */
export function evaluateRules(rules: readonly DeviceRule[], type: 'c' | 'b', major: number, minor: number, access: string): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i];
    if (r.type !== 'a' && r.type !== type) continue;
    if (r.major !== WILDCARD && r.major !== major) continue;
    if (r.minor !== WILDCARD && r.minor !== minor) continue;
    const req = [...access];
    if (r.allow ? req.every((c) => r.access.includes(c)) : req.some((c) => r.access.includes(c))) return r.allow;
  }
  return false;
}

/** A DeviceRule as a linux.resources.devices entry. */
export function ruleToConfig(r: DeviceRule): DeviceCgroup {
  return {
    allow: r.allow,
    type: r.type,
    major: r.major === WILDCARD ? null : r.major,
    minor: r.minor === WILDCARD ? null : r.minor,
    access: r.access,
  };
}

/**
 * What the runtime passes to CgroupManager.create(): the config's resources
 * with devices = the config's rules + the defaults + linux.devices (see
 * containerDeviceRules). The manager applies devices exactly as given,
 * starting from deny-all.
 */
export function withDefaultDevices(resources: Resources | undefined, linuxDevices: Device[] | undefined): Resources {
  const base = resources ?? {};
  return { ...base, devices: containerDeviceRules(base.devices, linuxDevices).map(ruleToConfig) };
}
