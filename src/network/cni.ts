// The CNI 1.0 protocol (github.com/containernetworking/cni SPEC.md), as a
// runtime drives it: each plugin of a network configuration list is an
// executable found on CNI_PATH, told what to do by CNI_* variables, given its
// own configuration (with the list's cniVersion and name, the previous
// plugin's result as prevResult, and runtimeConfig for the capabilities it
// declares) on stdin, and answering with a result or an error as JSON.
// ADD runs the list in order, DEL in reverse with the cached ADD result,
// CHECK in order with it.
import type * as ChildProcess from 'child_process';
import * as fs from 'fs';
import { join } from 'path';
import { HostError, NotFoundError } from '../runtime/errors';

/** A network configuration list (a .conflist file), as nerdctl and containerd read them. */
export interface ConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
  [key: string]: unknown;
}

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** The success result of ADD (SPEC.md "Success"). */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[] };
}

/** Who the plugins work for: one container's interface in one network namespace. */
export interface Attachment {
  containerId: string;
  /** Path of the network namespace (a bind-mounted nsfs file). */
  netns: string;
  ifName: string;
  /** CNI_ARGS key=value pairs (host-local reads IP=). */
  args?: Record<string, string>;
  /** Values for the plugins' declared capabilities (portMappings, ...). */
  runtimeConfig?: Record<string, unknown>;
  /**
   * The network namespace the plugins run in (the host side: bridge, NAT
   * rules), when it is not the caller's own: a container's monitor lives in
   * the container's namespace, and DEL from there must act on the host's.
   */
  runIn?: string;
  /**
   * Where the plugins are (CNI_PATH); default: cniPath(). DEL gets the path
   * ADD used, kept with the attachment: the monitor that releases a
   * detached container has an empty environment.
   */
  cniPath?: string[];
}

export class CniError extends HostError {}

/** Where plugins are looked for: CCRUN_CNI_PATH, else Debian's and the upstream default place. */
export function cniPath(): string[] {
  return (process.env.CCRUN_CNI_PATH || '/usr/lib/cni:/opt/cni/bin').split(':').filter(Boolean);
}

function findPlugin(type: string, path: string[]): string | undefined {
  if (!/^[A-Za-z0-9_.-]+$/.test(type)) return undefined;
  for (const dir of path) {
    const p = join(dir, type);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Every plugin of the list must be there before anything is done (nothing half-made). */
export function checkPlugins(conf: ConfList, path = cniPath()): void {
  const types = conf.plugins.flatMap((p) => [p.type, ...(typeof (p.ipam as PluginConf | undefined)?.type === 'string' ? [(p.ipam as PluginConf).type] : [])]);
  const missing = [...new Set(types)].filter((t) => findPlugin(t, path) === undefined);
  if (missing.length) {
    throw new NotFoundError(
      `network "${conf.name}": the CNI plugin${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in ${path.join(':')}: install them (Debian: apt-get install containernetworking-plugins) or point CCRUN_CNI_PATH at their directory`,
    );
  }
}

/** One plugin's stdin: its config, the list's version and name, prevResult, and runtimeConfig for its capabilities. */
function pluginInput(list: ConfList, plugin: PluginConf, att: Attachment, prevResult: CniResult | undefined): string {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const caps = plugin.capabilities ?? {};
  const runtimeConfig: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(att.runtimeConfig ?? {})) if (caps[k]) runtimeConfig[k] = v;
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  if (prevResult) conf.prevResult = prevResult;
  return JSON.stringify(conf);
}

function execPlugin(command: 'ADD' | 'DEL' | 'CHECK', list: ConfList, plugin: PluginConf, att: Attachment, prevResult: CniResult | undefined): Promise<string> {
  const path = att.cniPath ?? cniPath();
  const bin = findPlugin(plugin.type, path);
  if (!bin) return Promise.reject(new NotFoundError(`network "${list.name}": the CNI plugin "${plugin.type}" is not in ${path.join(':')}`));
  const args = att.args && Object.keys(att.args).length ? ['IgnoreUnknown=1', ...Object.entries(att.args).map(([k, v]) => `${k}=${v}`)].join(';') : '';
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: att.containerId,
    CNI_NETNS: att.netns,
    CNI_IFNAME: att.ifName,
    CNI_PATH: path.join(':'),
    ...(args ? { CNI_ARGS: args } : {}),
  };
  // child_process (~20 of Node's modules) only when a plugin runs: `run --network none` loads this file too.
  const { spawn } = require('child_process') as typeof ChildProcess;
  return new Promise((resolve, reject) => {
    const child = att.runIn ? spawn('nsenter', [`--net=${att.runIn}`, bin], { env, stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(out);
      let msg = err.trim() || `exit status ${code}`;
      try {
        const e = JSON.parse(out) as { code?: number; msg?: string; details?: string };
        msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
      } catch {
        /* not the error JSON */
      }
      reject(new CniError(`network "${list.name}": CNI plugin ${plugin.type} ${command} failed: ${msg}`));
    });
    child.stdin.end(pluginInput(list, plugin, att, prevResult));
  });
}

/** ADD: each plugin in order, each one's result the next one's prevResult; the last result is the network's. */
export async function cniAdd(list: ConfList, att: Attachment): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) {
    const out = await execPlugin('ADD', list, plugin, att, prev);
    prev = JSON.parse(out) as CniResult;
  }
  return prev ?? { cniVersion: list.cniVersion };
}

/**
 * DEL: each plugin in reverse order with the cached ADD result. DEL is
 * idempotent by the spec (a missing netns or lease is no error), so every
 * plugin runs even after one failed; the failures are returned together.
 */
export async function cniDel(list: ConfList, att: Attachment, cached: CniResult | undefined): Promise<Error[]> {
  const errors: Error[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin('DEL', list, plugin, att, cached);
    } catch (e) {
      errors.push(e as Error);
    }
  }
  return errors;
}

/** CHECK: each plugin in order with the cached ADD result; throws what the first one finds wrong. */
export async function cniCheck(list: ConfList, att: Attachment, cached: CniResult): Promise<void> {
  if (list.disableCheck) return;
  for (const plugin of list.plugins) await execPlugin('CHECK', list, plugin, att, cached);
}
