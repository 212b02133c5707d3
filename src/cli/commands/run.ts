// `ccrun run` has two forms, told apart by one rule: with --bundle/-b, or
// with a single argument in a directory holding a config.json (runc's
// default bundle is "."), it is runc's `run [options] ID` on an OCI bundle;
// otherwise it is Docker's `run [options] IMAGE [COMMAND [ARG...]]`.
import type { CommandSpec, OptionSpec, ParsedOptions } from '../command';
import { CREATE_OPTIONS } from './create';

// runc's options, with --bundle taking no default so its presence can be seen.
const BUNDLE_OPTIONS: OptionSpec[] = [
  ...CREATE_OPTIONS.map((o) => (o.name === 'bundle' ? { ...o, default: undefined, description: 'run the OCI bundle in DIR (selects the runc form: run -b DIR ID)' } : o)),
  { name: 'keep', kind: 'boolean', description: 'runc form: keep the stopped container (no delete) after a foreground run' },
];

const IMAGE_OPTIONS: OptionSpec[] = [
  { name: 'interactive', short: 'i', kind: 'boolean', description: 'keep standard input connected to the container' },
  { name: 'tty', short: 't', kind: 'boolean', description: 'give the container a terminal (your terminal relayed in raw mode, window size followed)' },
  { name: 'rm', kind: 'boolean', description: 'remove the container (root, logs, record) when it exits' },
  { name: 'name', kind: 'string', value: 'NAME', description: 'name the container (unique; default: a generated one)' },
  { name: 'env', short: 'e', kind: 'list', value: 'KEY=VALUE', description: 'set an environment variable (KEY alone: take it from this shell)' },
  { name: 'env-file', kind: 'list', value: 'FILE', description: 'read KEY=VALUE lines from FILE' },
  { name: 'workdir', short: 'w', kind: 'string', value: 'DIR', description: 'working directory in the container' },
  { name: 'user', short: 'u', kind: 'string', value: 'USER[:GROUP]', description: "user (name or uid, resolved in the image's /etc/passwd and /etc/group)" },
  { name: 'hostname', kind: 'string', value: 'NAME', description: "the container's hostname (default: its short id)" },
  { name: 'entrypoint', kind: 'string', value: 'CMD', description: 'replace the image\'s Entrypoint ("" clears it)' },
  { name: 'volume', short: 'v', kind: 'list', value: 'HOST:CTR[:ro]', description: 'bind a host directory or file into the container' },
  { name: 'tmpfs', kind: 'list', value: 'CTR[:OPTS]', description: 'mount a tmpfs at CTR' },
  { name: 'read-only', kind: 'boolean', description: "make the container's root filesystem read-only" },
  { name: 'memory', short: 'm', kind: 'string', value: 'SIZE', description: 'memory limit (e.g. 256m, 1g)' },
  { name: 'cpus', kind: 'string', value: 'N', description: 'CPU limit in CPUs (e.g. 0.5)' },
  { name: 'pids-limit', kind: 'number', value: 'N', description: 'limit on processes in the container (-1: none)' },
  { name: 'cap-add', kind: 'list', value: 'CAP', description: 'add a capability to Docker\'s default set (ALL: every one)' },
  { name: 'cap-drop', kind: 'list', value: 'CAP', description: 'drop a capability (ALL: every one)' },
  { name: 'privileged', kind: 'boolean', description: 'all capabilities, all devices, no masked paths' },
  { name: 'pull', kind: 'string', value: 'missing|always|never', description: 'when to pull the image (default missing)', default: 'missing' },
  { name: 'platform', kind: 'string', value: 'OS/ARCH[/VARIANT]', description: 'platform to pull (default: this host)' },
  { name: 'init', kind: 'boolean', description: 'run a small reaper as pid 1 that passes signals on and reaps orphans' },
  { name: 'security-opt', kind: 'list', value: 'OPT', description: "seccomp=unconfined, seccomp=PROFILE.json (default: Docker's profile), no-new-privileges" },
  { name: 'network', kind: 'string', value: 'NETWORK', description: 'bridge (root\'s default: the default CNI bridge with NAT), a user network (ccrun network create), none (only lo), host, pasta (a normal user\'s default), or container:NAME (another running container\'s network); $CCRUN_NETWORK sets the default' },
  { name: 'publish', short: 'p', kind: 'list', value: '[[IP:]HPORT:]CPORT[/udp]', description: 'publish a container port on the host (no HPORT: a free one, see ccrun port)' },
  { name: 'publish-all', short: 'P', kind: 'boolean', description: "publish each of the image's ExposedPorts on a free host port" },
  { name: 'network-alias', kind: 'list', value: 'NAME', description: 'another name the container has for its peers on a user network' },
  { name: 'ip', kind: 'string', value: 'ADDR', description: 'the IPv4 address on the network (in its subnet)' },
  { name: 'dns', kind: 'list', value: 'ADDR', description: "nameserver for the container's /etc/resolv.conf (replaces the host's)" },
  { name: 'add-host', kind: 'list', value: 'NAME:IP', description: "add a line to the container's /etc/hosts" },
];

const BUNDLE_ONLY = ['pidFile', 'consoleSocket', 'noPivot', 'noNewKeyring', 'keep'];

function given(opts: ParsedOptions, key: string): boolean {
  const v = opts[key];
  if (Array.isArray(v)) return v.length > 0;
  return v !== undefined && v !== false && !(key === 'preserveFds' && v === 0);
}

export const command: CommandSpec = {
  name: 'run',
  summary: 'run a command in a new container from an image (Docker form), or from a bundle with --bundle (runc form)',
  usage: '[options] IMAGE [COMMAND [ARG...]]   |   run --bundle DIR [options] <container-id>',
  options: [...BUNDLE_OPTIONS, { name: 'detach', short: 'd', kind: 'boolean', description: 'return once the container has started (image form: print its id, output to ccrun logs)' }, ...IMAGE_OPTIONS],
  stopAfterPositionals: 1,
  minArgs: 1,
  async run(ctx, opts, args) {
    const { UsageError } = await import('../../runtime/errors');
    const imageFlags = (): string[] =>
      IMAGE_OPTIONS.filter((o) => o.default === undefined || opts[camel(o.name)] !== o.default).map((o) => camel(o.name)).filter((k) => given(opts, k));
    const inBundleDir = args.length === 1 && (await import('fs')).existsSync('config.json');
    if (opts.bundle === undefined && inBundleDir && imageFlags().length === 0) {
      opts.bundle = '.';
    }
    if (opts.bundle !== undefined) {
      // The runc form.
      const imageOnly = imageFlags();
      if (imageOnly.length) {
        throw new UsageError(`run --bundle runs an OCI bundle and takes no image options (${imageOnly.map(flag).join(', ')}): drop --bundle to run an image`);
      }
      if (args.length !== 1) throw new UsageError('usage: ccrun run --bundle DIR [options] <container-id> (the command comes from the bundle\'s config.json; drop --bundle to run IMAGE COMMAND...)');
      const { runtimeContext, refuseSystemdCgroup } = await import('../runtime-context');
      const { runContainer } = await import('../../runtime/container');
      refuseSystemdCgroup(ctx);
      return runContainer(runtimeContext(ctx), {
        id: args[0],
        bundle: opts.bundle as string,
        pidFile: opts.pidFile as string | undefined,
        consoleSocket: opts.consoleSocket as string | undefined,
        noPivot: Boolean(opts.noPivot),
        preserveFds: opts.preserveFds as number,
        detach: Boolean(opts.detach),
        keep: Boolean(opts.keep),
      });
    }
    // The Docker form.
    const bundleOnly = BUNDLE_ONLY.filter((k) => given(opts, k)).concat(given(opts, 'preserveFds') ? ['preserveFds'] : []);
    if (bundleOnly.length) {
      throw new UsageError(`${bundleOnly.map(flag).join(', ')} belong to the bundle form: use ccrun run --bundle DIR ${bundleOnly.map(flag).join(' ')} ... ID`);
    }
    const pull = String(opts.pull);
    if (pull !== 'missing' && pull !== 'always' && pull !== 'never') throw new UsageError(`--pull: "${pull}" is not missing, always or never`);
    const network = String(opts.network ?? (process.env.CCRUN_NETWORK || 'bridge'));
    // The image front end's modules in one compiled bundle (cli/code-cache.ts).
    (require('../code-cache') as typeof import('../code-cache')).useBundle('run-image');
    const { frontendContext } = await import('../../frontend/context');
    const { createFromImage, runForeground, runDetached } = await import('../../frontend/run');
    const req = {
      image: args[0],
      command: args.slice(1),
      name: opts.name as string | undefined,
      detach: Boolean(opts.detach),
      autoRemove: Boolean(opts.rm),
      interactive: Boolean(opts.interactive),
      tty: Boolean(opts.tty),
      env: opts.env as string[],
      envFiles: opts.envFile as string[],
      workdir: opts.workdir as string | undefined,
      user: opts.user as string | undefined,
      hostname: opts.hostname as string | undefined,
      entrypoint: opts.entrypoint as string | undefined,
      volumes: opts.volume as string[],
      tmpfs: opts.tmpfs as string[],
      readOnly: Boolean(opts.readOnly),
      memory: opts.memory as string | undefined,
      cpus: opts.cpus as string | undefined,
      pidsLimit: opts.pidsLimit as number | undefined,
      capAdd: opts.capAdd as string[],
      capDrop: opts.capDrop as string[],
      privileged: Boolean(opts.privileged),
      pull: pull as 'missing',
      platform: opts.platform as string | undefined,
      init: Boolean(opts.init),
      network,
      publish: opts.publish as string[],
      publishAll: Boolean(opts.publishAll),
      networkAliases: opts.networkAlias as string[],
      dns: opts.dns as string[],
      addHosts: opts.addHost as string[],
      ip: opts.ip as string | undefined,
      securityOpts: opts.securityOpt as string[],
    };
    const fx = frontendContext({
      root: ctx.globals.root,
      store: ctx.globals.store,
      debug: ctx.log.debugEnabled,
      warn: (m) => ctx.log.warn(m),
      debugLog: ctx.log.debugEnabled ? (m) => ctx.log.debug(m) : undefined,
    });
    try {
      if (req.detach) {
        const rec = await runDetached(fx, req);
        process.stdout.write(`${rec.id}\n`);
        return 0;
      }
      const rec = await createFromImage(fx, req);
      return await runForeground(fx, rec);
    } catch (e) {
      // Image options given in a bundle directory: maybe the bundle was meant.
      const { ImageError } = await import('../../image/errors');
      if (e instanceof ImageError && inBundleDir) {
        e.message += `\n(to run the bundle in this directory as container "${args[0]}", use: ccrun run --bundle . ${args[0]})`;
      }
      throw e;
    }
  },
};

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function flag(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
