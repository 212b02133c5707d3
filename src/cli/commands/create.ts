import type { CommandSpec, OptionSpec } from '../command';

export const CREATE_OPTIONS: OptionSpec[] = [
  { name: 'bundle', short: 'b', kind: 'string', value: 'DIR', description: 'path to the bundle (config.json and rootfs)', default: '.' },
  { name: 'pid-file', kind: 'string', value: 'FILE', description: "write the container init's host pid to FILE" },
  { name: 'console-socket', kind: 'string', value: 'PATH', description: 'unix socket that receives the pty master (process.terminal)' },
  { name: 'no-pivot', kind: 'boolean', description: 'use MS_MOVE + chroot instead of pivot_root (rootfs on a ramfs)' },
  { name: 'no-new-keyring', kind: 'boolean', description: 'accepted for runc compatibility (no session keyring is made)' },
  { name: 'preserve-fds', kind: 'number', value: 'N', description: 'pass fds 3..3+N-1 to the container', default: 0 },
];

export const command: CommandSpec = {
  name: 'create',
  summary: 'create a container from a bundle; its init waits for "start"',
  usage: '[options] <container-id>',
  options: CREATE_OPTIONS,
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext, refuseSystemdCgroup } = await import('../runtime-context');
    const { createContainer } = await import('../../runtime/container');
    refuseSystemdCgroup(ctx);
    await createContainer(runtimeContext(ctx), {
      id,
      bundle: opts.bundle as string,
      pidFile: opts.pidFile as string | undefined,
      consoleSocket: opts.consoleSocket as string | undefined,
      noPivot: Boolean(opts.noPivot),
      preserveFds: opts.preserveFds as number,
    });
    return 0;
  },
};
