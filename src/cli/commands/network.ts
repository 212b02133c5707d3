// `ccrun network create|ls|inspect|rm|connect|disconnect`: the CNI networks
// containers join (configuration lists under <store>/networks/, see
// src/network/networks.ts).
import type { CommandSpec } from '../command';

const SUBCOMMANDS = 'create [--subnet CIDR] [--internal] NAME | ls | inspect NAME... | rm NAME... | connect [--alias NAME] [--ip ADDR] NETWORK CONTAINER | disconnect NETWORK CONTAINER';

export const command: CommandSpec = {
  name: 'network',
  summary: 'manage the networks containers join (CNI bridge networks with IPAM, NAT, published ports)',
  usage: SUBCOMMANDS,
  options: [
    { name: 'subnet', kind: 'string', value: 'CIDR', description: 'create: the IPv4 subnet (default: a free 10.89.N.0/24)' },
    { name: 'internal', kind: 'boolean', description: 'create: no route out and no NAT (the containers reach only each other)' },
    { name: 'format', short: 'f', kind: 'string', value: 'table|json', description: 'ls: a table, or one JSON object per network', default: 'table' },
    { name: 'alias', kind: 'list', value: 'NAME', description: 'connect: another name the container has for its peers on the network' },
    { name: 'ip', kind: 'string', value: 'ADDR', description: 'connect: the IPv4 address on the network (in its subnet)' },
  ],
  minArgs: 1,
  async run(ctx, opts, [sub, ...names]) {
    const { UsageError, StateError } = await import('../../runtime/errors');
    const { frontendContext } = await import('../../frontend/context');
    const { networkConfigs, reapStaleNetworks, attachedAddresses } = await import('../../frontend/network');
    const { records } = await import('../../frontend/run');
    const fx = frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: ctx.log.debugEnabled, warn: (m) => ctx.log.warn(m) });
    const configs = networkConfigs(fx);
    const users = (name: string) => records(fx).list().filter((r) => r.network?.networks.includes(name));
    const wantNames = (): void => {
      if (names.length === 0) throw new UsageError(`network ${sub}: give the network's name (usage: ccrun network ${SUBCOMMANDS})`);
    };
    switch (sub) {
      case 'create': {
        if (names.length !== 1) throw new UsageError('usage: ccrun network create [--subnet CIDR] [--internal] NAME');
        const { imageStore } = await import('../../frontend/run');
        const n = await imageStore(fx).withLock('networks', async () => configs.create(names[0], { subnet: opts.subnet as string | undefined, internal: Boolean(opts.internal) }));
        process.stdout.write(`${n.name}\n`);
        return 0;
      }
      case 'ls':
      case 'list': {
        const nets = configs.list((m) => ctx.log.warn(m));
        if (opts.format === 'json') {
          process.stdout.write(nets.map((n) => JSON.stringify({ Name: n.name, Driver: n.driver, Subnet: n.subnet, Gateway: n.gateway, Internal: n.internal })).join('\n') + (nets.length ? '\n' : ''));
          return 0;
        }
        const table = [['NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'BRIDGE', 'INTERNAL'], ...nets.map((n) => [n.name, n.driver, n.subnet ?? '', n.gateway ?? '', n.bridge ?? '', n.internal ? 'yes' : 'no'])];
        const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
        process.stdout.write(table.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n') + '\n');
        return 0;
      }
      case 'inspect': {
        wantNames();
        await reapStaleNetworks(fx);
        const out = names.map((name) => {
          const n = configs.require(name);
          const containers: Record<string, { Name: string; IPv4Address: string[] }> = {};
          for (const r of users(name)) {
            const addrs = attachedAddresses(fx, r.id).find((a) => a.network === name)?.addresses ?? [];
            if (addrs.length) containers[r.id] = { Name: r.name, IPv4Address: addrs };
          }
          return { Name: n.name, Driver: n.driver, Subnet: n.subnet, Gateway: n.gateway, Bridge: n.bridge, Internal: n.internal, ConfigFile: n.file, Containers: containers, Config: n.conf };
        });
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return 0;
      }
      case 'rm':
      case 'remove': {
        wantNames();
        for (const name of names) {
          configs.require(name);
          const using = users(name);
          if (using.length) {
            throw new StateError(`network "${name}" is used by container${using.length > 1 ? 's' : ''} ${using.map((r) => r.name).join(', ')}: remove ${using.length > 1 ? 'them' : 'it'} first (ccrun rm -f ${using.map((r) => r.name).join(' ')})`);
          }
          configs.remove(name, (m) => ctx.log.warn(m));
          process.stdout.write(`${name}\n`);
        }
        return 0;
      }
      case 'connect':
      case 'disconnect': {
        if (names.length !== 2) throw new UsageError(`usage: ccrun network ${sub === 'connect' ? 'connect [--alias NAME] [--ip ADDR]' : 'disconnect'} NETWORK CONTAINER`);
        const net = await import('../../frontend/network');
        if (sub === 'connect') await net.connectNetwork(fx, names[0], names[1], { aliases: (opts.alias as string[] | undefined) ?? [], ip: opts.ip as string | undefined });
        else await net.disconnectNetwork(fx, names[0], names[1]);
        return 0;
      }
      default:
        throw new UsageError(`network: unknown subcommand "${sub}" (usage: ccrun network ${SUBCOMMANDS})`);
    }
  },
};
