// `ccrun port NAME [CPORT[/PROTO]]`: a container's published ports, as `docker port` prints them.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'port',
  summary: "list a container's published ports (HOST:PORT each container port is reached at)",
  usage: 'NAME|ID [CONTAINER-PORT[/tcp|/udp]]',
  options: [],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, _opts, [ref, which]) {
    const { UsageError, NotFoundError } = await import('../../runtime/errors');
    const { records } = await import('../../frontend/run');
    const { frontendContext } = await import('../../frontend/context');
    const fx = frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: false, warn: (m) => ctx.log.warn(m) });
    const rec = records(fx).require(ref);
    let ports = rec.network?.ports ?? [];
    if (which !== undefined) {
      const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(which);
      if (!m) throw new UsageError(`port: "${which}" is not CONTAINER-PORT[/tcp|/udp] (e.g. 80, 53/udp)`);
      ports = ports.filter((p) => p.containerPort === Number(m[1]) && p.protocol === (m[2] ?? 'tcp'));
      if (!ports.length) throw new NotFoundError(`container ${rec.name} does not publish ${m[1]}/${m[2] ?? 'tcp'} (see ccrun port ${rec.name})`);
      process.stdout.write(ports.map((p) => `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}\n`).join(''));
      return 0;
    }
    process.stdout.write(ports.map((p) => `${p.containerPort}/${p.protocol} -> ${p.hostIP ?? '0.0.0.0'}:${p.hostPort}\n`).join(''));
    return 0;
  },
};
