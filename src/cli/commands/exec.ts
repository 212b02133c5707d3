import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'exec',
  summary: 'run a new process in a running container (its namespaces, cgroup, capabilities and limits)',
  usage: '[options] <container-id|name> <command> [args...]  |  --process FILE <container-id>',
  options: [
    { name: 'process', short: 'p', kind: 'string', value: 'FILE', description: 'a process.json (the "process" object of config.json) instead of a command' },
    { name: 'detach', short: 'd', kind: 'boolean', description: 'return once the process has started' },
    { name: 'interactive', short: 'i', kind: 'boolean', description: "Docker's -i: a foreground exec always has the caller's stdin, so this is the default" },
    { name: 'tty', short: 't', kind: 'boolean', description: 'give the process a terminal (with --detach, send it to --console-socket)' },
    { name: 'console-socket', kind: 'string', value: 'PATH', description: 'unix socket that receives the pty master' },
    { name: 'pid-file', kind: 'string', value: 'FILE', description: "write the process's host pid to FILE" },
    { name: 'env', short: 'e', kind: 'list', value: 'KEY=VALUE', description: 'set an environment variable (repeatable)' },
    { name: 'cwd', kind: 'string', value: 'DIR', description: 'working directory in the container' },
    { name: 'user', short: 'u', kind: 'string', value: 'UID[:GID]', description: 'run as this user (numeric)' },
    { name: 'additional-gids', short: 'g', kind: 'list', value: 'GID', description: 'an extra group (repeatable)' },
    { name: 'cap', short: 'c', kind: 'list', value: 'CAP', description: 'add a capability, e.g. CAP_NET_ADMIN (repeatable)' },
    { name: 'no-new-privs', kind: 'boolean', description: 'set no_new_privs for the process' },
    { name: 'preserve-fds', kind: 'number', value: 'N', description: 'pass fds 3..3+N-1 to the process', default: 0 },
    { name: 'process-label', kind: 'string', value: 'LABEL', description: 'SELinux label for the process (refused: give it in --process instead)', hidden: true },
    { name: 'apparmor', kind: 'string', value: 'PROFILE', description: 'AppArmor profile for the process (refused: give it in --process instead)', hidden: true },
    { name: 'ignore-paused', kind: 'boolean', description: 'accepted for runc compatibility', hidden: true },
  ],
  stopAfterPositionals: 1,
  minArgs: 1,
  async run(ctx, opts, [id, ...args]) {
    const fs = await import('fs');
    const { runtimeContext } = await import('../runtime-context');
    const { execInContainer, parseExecUser } = await import('../../runtime/exec');
    const { ConfigError, UsageError } = await import('../../runtime/errors');
    let processSpec;
    if (opts.process !== undefined) {
      const file = opts.process as string;
      try {
        processSpec = JSON.parse(file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new ConfigError(`--process ${file}: ${(e as Error).message}`);
      }
      if (typeof processSpec !== 'object' || processSpec === null) throw new ConfigError(`--process ${file}: not a JSON object`);
    } else if (args.length === 0) {
      throw new UsageError('usage: ccrun exec [options] <container-id> <command> [args...] (or --process FILE)');
    }
    // Asked for, not applied here: refuse rather than ignore (process.json's
    // apparmorProfile/selinuxLabel are applied, or refused on hosts without that LSM).
    if (opts.apparmor !== undefined) throw new UsageError('--apparmor is not supported on exec: set apparmorProfile in a --process file');
    if (opts.processLabel !== undefined) throw new UsageError('--process-label is not supported on exec: set selinuxLabel in a --process file');
    const rt = runtimeContext(ctx);
    let cid = id;
    if (!rt.store.exists(id)) {
      // Not a runtime id: maybe the name of a `ccrun run --name` container.
      const { resolveContainerRef } = await import('../../frontend/resolve');
      cid = resolveContainerRef(ctx.globals.root, id, ctx.globals.store);
    }
    const gids = (opts.additionalGids as string[]).map((g) => {
      if (!/^\d+$/.test(g)) throw new UsageError(`--additional-gids takes a numeric gid, not "${g}"`);
      return Number(g);
    });
    return execInContainer(rt, {
      id: cid,
      process: processSpec,
      args: args.length > 0 ? args : undefined,
      env: opts.env as string[],
      cwd: opts.cwd as string | undefined,
      user: opts.user !== undefined ? parseExecUser(opts.user as string) : undefined,
      additionalGids: gids,
      caps: (opts.cap as string[]).map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`)),
      noNewPrivs: Boolean(opts.noNewPrivs),
      tty: Boolean(opts.tty),
      detach: Boolean(opts.detach),
      pidFile: opts.pidFile as string | undefined,
      consoleSocket: opts.consoleSocket as string | undefined,
      preserveFds: opts.preserveFds as number,
    });
  },
};
