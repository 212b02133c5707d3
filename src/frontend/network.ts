// A container's networking, done by the front end around the OCI create (the
// runtime only joins the namespace named in config.json, as runc does):
//
//   create  the request resolved and checked (network exists, plugins there,
//           --ip in its subnet, host ports free) and kept in the record
//   start   root: a netns file (<root>/.networks/netns/<id>), CNI ADD of the
//           loopback and each network, /etc/hosts of it and its peers written;
//           rootless: pasta joined to the created container's namespaces
//   exit    (foreground run, the monitor's `start --exited`, stop, rm) all of
//           it released: CNI DEL, netns unmounted, pasta ended, peers updated
//
// What is attached lives in <container dir>/network.json from the first step
// on, so a crash half way, a killed runner or a reboot leaves what the next
// command needs to release it (reapStaleNetworks).
import * as fs from 'fs';
import { join } from 'path';
import type { ContainerRecord, ContainerSummary } from './records';
import { imageStore, records, type FrontendContext } from './run';
import { cniDriver, type CniResult, type ConfList } from '../network';
import { cniPath } from '../network/cni';
import { DEFAULT_NETWORK, NetworkConfigs, parseIPv4, parseSubnet, subnetContains, type NetworkInfo } from '../network/networks';
import { chooseHostPorts, parsePublish, exposedPorts, type PortMapping } from '../network/ports';
import { native } from '../native';
import { checkDns, hostsText, parseAddHost, resolvConfText, type HostsEntry } from '../network/hosts';
import { NotFoundError, StateError, UsageError } from '../runtime/errors';

/** What the container's networking was asked for, resolved at create and kept in its record. */
export interface NetworkSettings {
  /** cni: its own namespace on CNI networks (root); pasta: rootless; container: another container's (--network container:NAME). */
  mode: 'none' | 'host' | 'cni' | 'pasta' | 'container';
  /** container mode: the id of the container whose network namespace it joins (at each start). */
  container?: string;
  /** Addresses asked for on networks connected later (network connect --ip), by network name. */
  ips?: Record<string, string>;
  networks: string[];
  aliases: string[];
  ip?: string;
  ports: PortMapping[];
  dns: string[];
  addHosts: HostsEntry[];
  hostname: string;
}

/** What is attached now (network.json). */
interface AttachedState {
  netns?: string;
  /** The namespace its networks were set up in (bound by pinOwnNetns): DEL runs there. */
  hostNetns?: string;
  /** runtimeConfig goes to DEL as it went to ADD: portmap's DEL undoes only the mappings it is given. */
  networks: { name: string; ifName: string; conf: ConfList; runtimeConfig?: Record<string, unknown>; args?: Record<string, string>; result?: CniResult }[];
  pastaPid?: number;
  /** Rootless: the process holding the user and network namespaces the container joins. */
  holderPid?: number;
  /** The ccrun that attached it: while it lives and no runtime state exists yet, it is still starting the container. */
  attacher?: number;
  /** CNI_PATH of the ADDs, for the DELs (whoever runs them, in whatever environment). */
  cniPath?: string[];
}

export interface NetworkRequestPart {
  /** none, host, bridge (the default), a user network's name, or pasta. */
  network: string;
  /** -p specs, as typed. */
  publish: string[];
  publishAll: boolean;
  networkAliases: string[];
  dns: string[];
  addHosts: string[];
  ip?: string;
}

const LOOPBACK: ConfList = { cniVersion: '1.0.0', name: 'lo', plugins: [{ type: 'loopback' }] };

export function networkConfigs(fx: FrontendContext): NetworkConfigs {
  return new NetworkConfigs(join(imageStore(fx).root, 'networks'));
}

export function netnsPath(fx: FrontendContext, id: string): string {
  return join(fx.runtime.store.root, '.networks', 'netns', id);
}

function ipamDir(fx: FrontendContext): string {
  return join(fx.runtime.store.root, '.networks', 'ipam');
}

function rootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

const CONTAINER_PREFIX = 'container:';

/** The mode a --network value names (before anything is looked up). */
export function networkMode(network: string): NetworkSettings['mode'] {
  if (network === 'none' || network === 'host') return network;
  if (network.startsWith(CONTAINER_PREFIX)) return 'container';
  if (network === 'pasta' || rootless()) return 'pasta';
  return 'cni';
}

/** Checks the parts of the request that need nothing but the request (bad input fails before the image is looked at). */
export function checkNetworkRequest(req: NetworkRequestPart): void {
  const mode = networkMode(req.network);
  for (const p of req.publish) parsePublish(p);
  checkDns(req.dns);
  for (const h of req.addHosts) parseAddHost(h);
  if (mode === 'container') {
    // As Docker: the joined container's network is used as it is.
    if (!req.network.slice(CONTAINER_PREFIX.length)) throw new UsageError('--network container:NAME needs the name or id of a container');
    const conflict = req.publish.length || req.publishAll ? '-p/-P (publish the ports on the container whose network it joins)' : req.networkAliases.length ? '--network-alias' : req.ip !== undefined ? '--ip' : req.dns.length ? '--dns' : req.addHosts.length ? '--add-host' : undefined;
    if (conflict) throw new UsageError(`--network ${req.network} shares that container's network, its /etc/hosts and resolv.conf: ${conflict} cannot be used with it`);
  }
  if ((req.publish.length || req.publishAll) && (mode === 'none' || mode === 'host')) {
    throw new UsageError(`-p/-P publish ports of a container's own network: with --network ${mode} there is none (drop -p, or use the default bridge network)`);
  }
  const userNetwork = mode === 'cni' && req.network !== DEFAULT_NETWORK && req.network !== 'default';
  if (req.networkAliases.length && !userNetwork) throw new UsageError('--network-alias works on a user network only (ccrun network create NAME, then --network NAME)');
  if (req.ip !== undefined && parseIPv4(req.ip) === undefined) throw new UsageError(`--ip "${req.ip}" is not an IPv4 address`);
  if (req.ip !== undefined && mode !== 'cni') throw new UsageError(`--ip needs a bridge network (not --network ${req.network}${mode === 'pasta' && rootless() ? ', which a rootless run gets through pasta' : ''})`);
  if (mode === 'pasta' && req.network !== 'pasta' && req.network !== DEFAULT_NETWORK && req.network !== 'default') {
    throw new UsageError(`--network ${req.network}: a rootless container has no user networks (they need root for the bridge); use the default (pasta), none or host`);
  }
}

/** Finds the network, making the default one on first use. */
async function requireNetwork(fx: FrontendContext, name: string): Promise<NetworkInfo> {
  const configs = networkConfigs(fx);
  if (name === 'default') name = DEFAULT_NETWORK;
  const found = configs.find(name);
  if (found) return found;
  if (name !== DEFAULT_NETWORK) return configs.require(name);
  return imageStore(fx).withLock('networks', async () => configs.find(name) ?? configs.create(name, {}, true));
}

/** Host ports other containers publish (their records), for the taken-port check. */
function publishedByOthers(fx: FrontendContext): Map<string, string> {
  const taken = new Map<string, string>();
  for (const r of records(fx).list()) for (const p of r.network?.ports ?? []) taken.set(`${p.hostPort}/${p.protocol}`, `container ${r.name}`);
  return taken;
}

/**
 * Resolves and checks the network part of a request; called under the
 * containers lock so that concurrent runs see each other's chosen ports.
 */
export async function resolveNetwork(fx: FrontendContext, req: NetworkRequestPart, hostname: string, imageExposed: Record<string, unknown> | undefined): Promise<NetworkSettings> {
  checkNetworkRequest(req);
  const mode = networkMode(req.network);
  const settings: NetworkSettings = { mode, networks: [], aliases: req.networkAliases, ports: [], dns: req.dns, addHosts: req.addHosts.map(parseAddHost), hostname };
  if (mode === 'none' || mode === 'host') return settings;
  if (mode === 'container') {
    settings.container = joinedContainer(fx, req.network.slice(CONTAINER_PREFIX.length)).id;
    return settings;
  }
  if (mode === 'cni') {
    const net = await requireNetwork(fx, req.network);
    cniDriver.preflight(net.conf);
    cniDriver.preflight(LOOPBACK);
    if (req.ip !== undefined) {
      checkIpIn(net, req.ip);
      settings.ip = req.ip;
    }
    settings.networks = [net.name];
  }
  const wanted = [...req.publish.map(parsePublish), ...(req.publishAll ? exposedPorts(imageExposed) : [])];
  await reapStaleNetworks(fx);
  settings.ports = await chooseHostPorts(wanted, publishedByOthers(fx));
  return settings;
}

function checkIpIn(net: NetworkInfo, ip: string): void {
  const subnet = net.subnet ? parseSubnet(net.subnet) : undefined;
  const addr = parseIPv4(ip);
  if (addr === undefined) throw new UsageError(`--ip "${ip}" is not an IPv4 address`);
  if (!subnet || !subnetContains(subnet, addr)) throw new UsageError(`--ip ${ip} is not in network "${net.name}"'s subnet ${net.subnet ?? '(none known)'}: choose an address in it (see ccrun network inspect ${net.name})`);
}

/** The spec with its network namespace joined at `path` (a namespace made again for this start). */
export function specInNetns(spec: import('../runtime/config/types').Spec, path: string): import('../runtime/config/types').Spec {
  const out = JSON.parse(JSON.stringify(spec)) as import('../runtime/config/types').Spec;
  out.linux!.namespaces = out.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path } : n));
  return out;
}

/**
 * The running container whose network --network container:REF joins,
 * following a chain of such joins to the container that owns the namespace
 * (as Docker does).
 */
export function joinedContainer(fx: FrontendContext, ref: string): ContainerRecord {
  const recs = records(fx);
  let target = recs.find(ref);
  if (!target) throw new NotFoundError(`--network container:${ref}: container "${ref}" does not exist (see ccrun ps -a)`);
  for (let hops = 0; hops < 16; hops++) {
    const next: string | undefined = target.network?.mode === 'container' ? target.network.container : undefined;
    if (next === undefined) break;
    const found: ContainerRecord | undefined = recs.find(next);
    if (!found) throw new NotFoundError(`--network container:${ref}: the container whose network "${ref}" joined is gone`);
    target = found;
  }
  const status = runtimeStatus(fx, target.id);
  if (status !== 'running' && status !== 'paused') {
    throw new StateError(`--network container:${ref}: container ${target.name} is not running (${status}): start it first (ccrun start ${target.name})`);
  }
  return target;
}

/**
 * The spec of a container that joins another's network, for this start: the
 * namespace it joins now (that container's netns file on CNI networks, its
 * pasta holder's user and network namespaces rootless, its init's otherwise;
 * the host's when that container uses the host's).
 */
export function joinContainerSpec(fx: FrontendContext, rec: ContainerRecord): import('../runtime/config/types').Spec {
  const target = joinedContainer(fx, rec.network!.container!);
  const attached = readState(fx, target.id);
  if (target.network?.mode === 'host') {
    const spec = JSON.parse(JSON.stringify(rec.spec)) as import('../runtime/config/types').Spec;
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network');
    return spec;
  }
  if (attached?.holderPid) return specInHolder(rec.spec, attached.holderPid);
  if (rootless()) throw new UsageError(`--network container:${target.name}: without root, only the network of a container on pasta (the default) can be joined`);
  if (attached?.netns) return specInNetns(rec.spec, attached.netns);
  const pid = fx.runtime.store.load(target.id)?.pid;
  if (!pid) throw new StateError(`--network container:${target.name}: container ${target.name} is not running`);
  return specInNetns(rec.spec, `/proc/${pid}/ns/net`);
}

function stateFile(fx: FrontendContext, id: string): string {
  return join(records(fx).containerDir(id), 'network.json');
}

function readState(fx: FrontendContext, id: string): AttachedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(fx, id), 'utf8')) as AttachedState;
  } catch {
    return undefined;
  }
}

function writeState(fx: FrontendContext, id: string, st: AttachedState): void {
  const f = stateFile(fx, id);
  fs.writeFileSync(`${f}.tmp`, JSON.stringify(st));
  fs.renameSync(`${f}.tmp`, f);
}

/** The list as ADD gets it: host-local's leases kept under ccrun's state root unless the list says where. */
function withIpamDir(fx: FrontendContext, conf: ConfList): ConfList {
  const plugins = conf.plugins.map((p) => {
    const ipam = p.ipam as Record<string, unknown> | undefined;
    return ipam?.type === 'host-local' && ipam.dataDir === undefined ? { ...p, ipam: { ...ipam, dataDir: ipamDir(fx) } } : p;
  });
  return { ...conf, plugins };
}

function addresses(result: CniResult | undefined): string[] {
  return (result?.ips ?? []).map((i) => i.address.split('/')[0]);
}

/**
 * Host ports held by this process for its containers, as podman's conmon and
 * Docker's proxy hold theirs: while a container publishes a port, no other
 * program can bind it (and then never see its traffic, which goes to the
 * container). A foreground run holds them itself; a detached container's
 * monitor gets copies and holds them until the container exits.
 */
const heldPorts = new Map<string, number[]>();

function reservePorts(id: string, ports: PortMapping[]): void {
  const fds: number[] = [];
  heldPorts.set(id, fds);
  for (const m of ports) {
    const ip = m.hostIP ?? '0.0.0.0';
    try {
      fds.push(native().reservePort(m.protocol, ip, m.hostPort));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const spec = `-p ${m.hostIP ? `${m.hostIP}:` : ''}${m.hostPort}:${m.containerPort}/${m.protocol}`;
      if (code === 'EADDRINUSE') throw new UsageError(`${spec}: host port ${m.hostPort}/${m.protocol} is already in use on this host: stop what holds it, or publish another host port (-p ${m.containerPort} picks a free one)`);
      if (code === 'EADDRNOTAVAIL') throw new UsageError(`${spec}: ${ip} is not an address of this host: publish on one of its addresses, or leave the address out`);
      throw e;
    }
  }
}

/** The fds of the host ports held for a container (for its monitor to hold too). */
export function heldPortFds(id: string): number[] {
  return heldPorts.get(id) ?? [];
}

/** Lets go of this process's hold on a container's host ports (its monitor holds them now, or it has stopped). */
export function closeHeldPorts(id: string): void {
  for (const fd of heldPorts.get(id) ?? []) {
    try {
      fs.closeSync(fd);
    } catch {
      /* closed already */
    }
  }
  heldPorts.delete(id);
}

/** What attachNetwork started: the CNI ADDs, running while the runtime creates the container. */
export interface Attaching {
  /** Settles once every network is up and the hosts files written; on a failure everything is released first. */
  added: Promise<void>;
}

/**
 * Before the OCI create (root, cni mode): the namespace the spec names.
 * Returns once that namespace exists, so the runtime can create the
 * container in it while its networks are set up (`added`): the ~70 ms of
 * plugin processes overlap the create, and the caller starts the command
 * only after both. A failure releases what was done.
 */
export async function attachNetwork(fx: FrontendContext, rec: ContainerRecord): Promise<Attaching | undefined> {
  const settings = rec.network;
  if (settings?.mode !== 'cni') return undefined;
  await releaseNetwork(fx, rec.id);
  const state: AttachedState = { netns: netnsPath(fx, rec.id), hostNetns: `${netnsPath(fx, rec.id)}.host`, networks: [], attacher: process.pid, cniPath: cniPath() };
  writeState(fx, rec.id, state);
  const fail = async (e: unknown): Promise<never> => {
    await releaseNetwork(fx, rec.id);
    throw explainIpTaken(e, settings.ip, settings.networks[0]);
  };
  try {
    reservePorts(rec.id, settings.ports);
    const netns = await import('../network/netns');
    netns.pinOwnNetns(state.hostNetns!);
    netns.createNetns(state.netns!);
  } catch (e) {
    return fail(e);
  }
  const addAll = async (): Promise<void> => {
    // lo is independent of the networks: brought up while they are set up.
    const loopback = cniDriver.add(LOOPBACK, { containerId: rec.id, netns: state.netns!, ifName: 'lo', cniPath: state.cniPath });
    loopback.catch(() => undefined);
    for (const [i, name] of settings.networks.entries()) {
      const conf = withIpamDir(fx, networkConfigs(fx).require(name).conf);
      const entry: AttachedState['networks'][number] = {
        name,
        ifName: `eth${i}`,
        conf,
        args: ipArgs(settings.ips?.[name] ?? (i === 0 ? settings.ip : undefined)),
        runtimeConfig: i === 0 ? { portMappings: settings.ports } : undefined,
      };
      state.networks.push(entry);
      writeState(fx, rec.id, state);
      entry.result = await cniDriver.add(conf, { containerId: rec.id, netns: state.netns!, ifName: entry.ifName, args: entry.args, runtimeConfig: entry.runtimeConfig, cniPath: state.cniPath });
      writeState(fx, rec.id, state);
    }
    await loopback;
    await updateHosts(fx, settings.networks);
  };
  const added = addAll().catch(fail);
  // The caller may fail (and wait for this) before it awaits it.
  added.catch(() => undefined);
  return { added };
}

function ipArgs(ip: string | undefined): Record<string, string> | undefined {
  return ip ? { IP: ip } : undefined;
}

/** host-local's refusal of an address in use, with the fix. */
function explainIpTaken(e: unknown, ip: string | undefined, network: string): unknown {
  if (ip && /not available|already allocated/.test((e as Error).message)) {
    (e as Error).message += `: --ip ${ip} is taken; choose another address, or leave --ip out (see ccrun network inspect ${network})`;
  }
  return e;
}

/** The runtime's status of a container; "stopped" without runtime state. */
function runtimeStatus(fx: FrontendContext, id: string): string {
  if (!fx.runtime.store.exists(id)) return 'stopped';
  const { observe } = require('../runtime/status') as typeof import('../runtime/status');
  try {
    return observe(fx.runtime, id).status;
  } catch {
    return 'stopped';
  }
}

/** Whether a container's init is there (created, running or paused): its network is attached. */
function isLive(fx: FrontendContext, id: string): boolean {
  return ['running', 'paused', 'created', 'creating'].includes(runtimeStatus(fx, id));
}

/** Whether the namespace its networks were set up in is still pinned (gone after a reboot). */
function hostNetnsThere(state: AttachedState): boolean {
  const netns = require('../network/netns') as typeof import('../network/netns');
  return state.hostNetns !== undefined && fs.existsSync(state.hostNetns) && netns.isMounted(state.hostNetns);
}

/** Where DEL and a later ADD run: the namespace its networks were set up in, when it is not ours. */
function hostSideOf(state: AttachedState): string | undefined {
  const netns = require('../network/netns') as typeof import('../network/netns');
  return hostNetnsThere(state) && !netns.isOwnNetns(state.hostNetns!) ? state.hostNetns : undefined;
}

/** A container on CNI networks, by name or id (network connect and disconnect). */
function bridgedContainer(fx: FrontendContext, ref: string, verb: string): ContainerRecord & { network: NetworkSettings } {
  const rec = records(fx).require(ref);
  const mode = rec.network?.mode ?? 'none';
  if (mode !== 'cni') {
    const why = mode === 'container' ? "shares another container's network" : mode === 'pasta' ? 'is rootless (pasta)' : `has --network ${mode}`;
    throw new UsageError(`cannot ${verb} container ${rec.name}: it ${why}; only a container on bridge networks can be connected to or disconnected from one`);
  }
  return rec as ContainerRecord & { network: NetworkSettings };
}

/**
 * `ccrun network connect [--alias A] [--ip IP] NETWORK CONTAINER`: the
 * container joins the network, now if it runs (CNI ADD of another interface,
 * ethN, in its namespace; names in the hosts files of its peers there) and
 * at each start from then on (its record). Nothing changes on failure.
 */
export async function connectNetwork(fx: FrontendContext, network: string, ref: string, opts: { aliases: string[]; ip?: string }): Promise<ContainerRecord> {
  const recs = records(fx);
  let joined = '';
  const updated = await imageStore(fx).withLock('containers', async () => {
    const rec = bridgedContainer(fx, ref, 'connect');
    const net = await requireNetwork(fx, network);
    joined = net.name;
    if (rec.network.networks.includes(net.name)) throw new StateError(`container ${rec.name} is already connected to network "${net.name}"`);
    if (opts.ip !== undefined) checkIpIn(net, opts.ip);
    cniDriver.preflight(net.conf);
    const settings: NetworkSettings = {
      ...rec.network,
      networks: [...rec.network.networks, net.name],
      aliases: [...new Set([...rec.network.aliases, ...opts.aliases])],
      ...(opts.ip !== undefined ? { ips: { ...rec.network.ips, [net.name]: opts.ip } } : {}),
    };
    const state = isLive(fx, rec.id) ? readState(fx, rec.id) : undefined;
    if (state?.netns) {
      const used = new Set(state.networks.map((n) => n.ifName));
      let k = 0;
      while (used.has(`eth${k}`)) k++;
      const conf = withIpamDir(fx, net.conf);
      const entry: AttachedState['networks'][number] = { name: net.name, ifName: `eth${k}`, conf, args: ipArgs(opts.ip) };
      const att = { containerId: rec.id, netns: state.netns, ifName: entry.ifName, args: entry.args, runIn: hostSideOf(state), cniPath: state.cniPath };
      state.networks.push(entry);
      writeState(fx, rec.id, state);
      try {
        entry.result = await cniDriver.add(conf, att);
      } catch (e) {
        await cniDriver.del(conf, att, undefined);
        state.networks = state.networks.filter((n) => n !== entry);
        writeState(fx, rec.id, state);
        throw explainIpTaken(e, opts.ip, net.name);
      }
      writeState(fx, rec.id, state);
    }
    const out = { ...rec, network: settings };
    recs.write(out);
    return out;
  });
  await updateHosts(fx, [joined]);
  return updated;
}

/**
 * `ccrun network disconnect NETWORK CONTAINER`: the container leaves the
 * network, now if it runs (CNI DEL of that interface: address, lease,
 * rules) and from its record. The network its published ports go through
 * is refused while it runs: they would stop working.
 */
export async function disconnectNetwork(fx: FrontendContext, network: string, ref: string): Promise<ContainerRecord> {
  const recs = records(fx);
  const name = network === 'default' ? DEFAULT_NETWORK : network;
  const updated = await imageStore(fx).withLock('containers', async () => {
    const rec = bridgedContainer(fx, ref, 'disconnect');
    if (!rec.network.networks.includes(name)) throw new StateError(`container ${rec.name} is not connected to network "${name}"`);
    const state = isLive(fx, rec.id) ? readState(fx, rec.id) : undefined;
    const entry = state?.networks.find((n) => n.name === name);
    if (state?.netns && entry) {
      const ports = (entry.runtimeConfig?.portMappings as PortMapping[] | undefined) ?? [];
      if (ports.length) throw new UsageError(`container ${rec.name} publishes its ports through network "${name}": stop it first (they go through its next network from its next start), or disconnect another network`);
      const errors = await cniDriver.del(entry.conf, { containerId: rec.id, netns: state.netns, ifName: entry.ifName, args: entry.args, runtimeConfig: entry.runtimeConfig, runIn: hostSideOf(state), cniPath: state.cniPath }, entry.result);
      for (const e of errors) fx.warn(`disconnecting ${rec.name} from ${name}: ${e.message}`);
      state.networks = state.networks.filter((n) => n !== entry);
      writeState(fx, rec.id, state);
    }
    const ips = { ...rec.network.ips };
    delete ips[name];
    const out = { ...rec, network: { ...rec.network, networks: rec.network.networks.filter((n) => n !== name), ips, ...(rec.network.networks[0] === name ? { ip: undefined } : {}) } };
    recs.write(out);
    return out;
  });
  await updateHosts(fx, [name]);
  return updated;
}

/**
 * Before the OCI create (rootless, pasta mode), as rootless podman does: a
 * holder process in a new user and network namespace of the user's (one id
 * mapped, as ccrun maps), pasta attached to it, and a spec that joins both
 * (the runtime's own init is not dumpable, so pasta could not join it).
 * Returns the spec to create with; the record's stays as it is.
 */
export async function attachPasta(fx: FrontendContext, rec: ContainerRecord): Promise<import('../runtime/config/types').Spec> {
  if (rec.network?.mode !== 'pasta') return rec.spec;
  await releaseNetwork(fx, rec.id);
  const { startHolder, startPasta } = await import('../network/pasta');
  const state: AttachedState = { networks: [], attacher: process.pid };
  try {
    state.holderPid = await startHolder();
    writeState(fx, rec.id, state);
    state.pastaPid = await startPasta(state.holderPid, rec.network.ports, join(records(fx).containerDir(rec.id), 'pasta.pid'));
    writeState(fx, rec.id, state);
  } catch (e) {
    writeState(fx, rec.id, state);
    await releaseNetwork(fx, rec.id);
    throw e;
  }
  return specInHolder(rec.spec, state.holderPid);
}

/** The spec joining a pasta holder's user and network namespaces. */
function specInHolder(spec: import('../runtime/config/types').Spec, holderPid: number): import('../runtime/config/types').Spec {
  const out = JSON.parse(JSON.stringify(spec)) as import('../runtime/config/types').Spec;
  const linux = out.linux!;
  linux.namespaces = linux.namespaces!.map((n) => (n.type === 'user' || n.type === 'network' ? { type: n.type, path: `/proc/${holderPid}/ns/${n.type === 'user' ? 'user' : 'net'}` } : n));
  // The holder's namespace has its mapping already (root to the user, as ccrun's own).
  delete linux.uidMappings;
  delete linux.gidMappings;
  return out;
}

/**
 * Releases everything attachNetwork/attachPasta did; idempotent (no state
 * file: nothing to do). Failures are warned about, not thrown: whatever can
 * go, goes.
 */
export async function releaseNetwork(fx: FrontendContext, id: string): Promise<void> {
  closeHeldPorts(id);
  const state = readState(fx, id);
  if (!state) return;
  if (state.pastaPid) (await import('../network/pasta')).stopPasta(state.pastaPid);
  if (state.holderPid) (await import('../network/pasta')).stopHolder(state.holderPid);
  const errors: Error[] = [];
  const netns = await import('../network/netns');
  if (state.netns) {
    // No pinned host namespace (it is gone: a reboot): there is nothing left to undo in it.
    const runIn = hostSideOf(state);
    if (state.hostNetns === undefined || hostNetnsThere(state)) {
      for (const n of [...state.networks].reverse()) {
        errors.push(...(await cniDriver.del(n.conf, { containerId: id, netns: state.netns, ifName: n.ifName, args: n.args, runtimeConfig: n.runtimeConfig, runIn, cniPath: state.cniPath }, n.result)));
      }
    }
    for (const p of [state.netns, state.hostNetns]) {
      try {
        if (p) netns.removeNetns(p);
      } catch (e) {
        errors.push(e as Error);
      }
    }
  }
  for (const e of errors) fx.warn(`releasing the network of ${id.slice(0, 12)}: ${e.message}`);
  fs.rmSync(stateFile(fx, id), { force: true });
  fs.rmSync(join(records(fx).containerDir(id), 'pasta.pid'), { force: true });
  if (state.networks.length) await updateHosts(fx, state.networks.map((n) => n.name));
}

/** A container's addresses per network while attached. */
export function attachedAddresses(fx: FrontendContext, id: string): { network: string; addresses: string[] }[] {
  return (readState(fx, id)?.networks ?? []).map((n) => ({ network: n.name, addresses: addresses(n.result) }));
}

/**
 * Rewrites /etc/hosts of every container attached to these networks: own
 * entry, the peers on its user networks (the default network has no names,
 * as with Docker), --add-host. Written in place: the file is bind-mounted.
 */
async function updateHosts(fx: FrontendContext, networks: string[]): Promise<void> {
  await imageStore(fx).withLock('networks', async () => {
    const recs = records(fx);
    const members = recs.list().flatMap((r) => {
      const st = readState(fx, r.id);
      return st && r.network ? [{ rec: r, st, settings: r.network }] : [];
    });
    const touched = members.filter((m) => m.st.networks.some((n) => networks.includes(n.name)));
    const entryOf = (m: (typeof members)[number], net: string): HostsEntry[] =>
      addresses(m.st.networks.find((n) => n.name === net)?.result).map((ip) => ({
        ip,
        names: net === DEFAULT_NETWORK ? [m.settings.hostname] : [m.settings.hostname, m.rec.name, ...m.settings.aliases, m.rec.id.slice(0, 12)],
      }));
    for (const m of touched) {
      const own = m.st.networks.flatMap((n) => entryOf(m, n.name));
      const peers = members
        .filter((o) => o.rec.id !== m.rec.id)
        .flatMap((o) => m.st.networks.filter((n) => n.name !== DEFAULT_NETWORK).flatMap((n) => (o.st.networks.some((x) => x.name === n.name) ? entryOf(o, n.name) : [])));
      writeHosts(fx, m.rec, hostsText({ hostname: m.settings.hostname, own, peers, extra: m.settings.addHosts }));
    }
  });
}

function writeHosts(fx: FrontendContext, rec: ContainerSummary, text: string): void {
  try {
    fs.writeFileSync(join(records(fx).containerDir(rec.id), 'etc', 'hosts'), text);
  } catch {
    /* removed meanwhile */
  }
}

/** The /etc files a new container starts with (its address is added once attached). */
export function initialEtcFiles(settings: NetworkSettings): { hosts: string; resolvConf: string } {
  return {
    hosts: hostsText({ hostname: settings.hostname, own: [], peers: [], extra: settings.addHosts, hostFile: settings.mode === 'host' }),
    resolvConf: resolvConfText(settings.dns, settings.mode === 'host' || settings.mode === 'none'),
  };
}

/**
 * Releases what containers that are not running still hold (their runner
 * was killed, or the machine rebooted): called by ps, run, network commands.
 */
export async function reapStaleNetworks(fx: FrontendContext): Promise<void> {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (const r of records(fx).list()) {
    const state = readState(fx, r.id);
    if (!state) continue;
    const live = fx.runtime.store.exists(r.id) ? isLive(fx, r.id) : state.attacher !== undefined && state.attacher !== process.pid && alive(state.attacher);
    if (!live) await releaseNetwork(fx, r.id);
  }
}
