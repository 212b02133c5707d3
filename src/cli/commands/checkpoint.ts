// Two forms, like start and exec: `ccrun checkpoint [options] ID` is runc's
// (CRIU dumps the runtime container into --image-path); a name that is no
// runtime id but an image container (ccrun run IMAGE) is the front end's,
// with --export to a tarball.
import type { CommandSpec, OptionSpec, ParsedOptions } from '../command';
import type { CriuSharedOptions } from '../../runtime/criu';

/** The CRIU flags checkpoint and restore share (runc's). */
export const CRIU_OPTIONS: OptionSpec[] = [
  { name: 'image-path', kind: 'string', value: 'DIR', description: 'where CRIU\'s images go (default ./checkpoint, as runc; image containers: kept with the container)' },
  { name: 'work-path', kind: 'string', value: 'DIR', description: 'where CRIU writes its log (default: the image path)' },
  { name: 'tcp-established', kind: 'boolean', description: 'allow open TCP connections' },
  { name: 'file-locks', kind: 'boolean', description: 'handle file locks' },
  { name: 'shell-job', kind: 'boolean', description: 'allow shell jobs (a process on the caller\'s terminal)' },
  { name: 'ext-unix-sk', kind: 'boolean', description: 'allow external unix sockets' },
  { name: 'manage-cgroups-mode', kind: 'string', value: 'soft|full|strict|ignore', description: 'how CRIU dumps and restores cgroups', default: 'soft' },
];

/** The shared CRIU flags as the library takes them. */
export function criuFlags(opts: ParsedOptions): Omit<CriuSharedOptions, 'imagePath'> {
  return {
    tcpEstablished: Boolean(opts.tcpEstablished),
    fileLocks: Boolean(opts.fileLocks),
    shellJob: Boolean(opts.shellJob),
    extUnixSk: Boolean(opts.extUnixSk),
    manageCgroupsMode: opts.manageCgroupsMode as string,
    workPath: opts.workPath as string | undefined,
  };
}

export const command: CommandSpec = {
  name: 'checkpoint',
  summary: 'checkpoint a running container with CRIU (runc), or an image container by name (--export to a tarball)',
  usage: '[options] <container-id>   |   checkpoint [--leave-running] [--export FILE.tar.gz] <name>',
  options: [
    ...CRIU_OPTIONS,
    { name: 'leave-running', kind: 'boolean', description: 'leave the container running after the dump (default: it is stopped and deleted, as runc)' },
    { name: 'pre-dump', kind: 'boolean', description: 'dump only memory, leave it running (for a later dump with --parent-path)' },
    { name: 'parent-path', kind: 'string', value: 'DIR', description: 'a previous pre-dump, relative to --image-path (e.g. ../pre)' },
    { name: 'export', short: 'e', kind: 'string', value: 'FILE', description: 'image containers: write the checkpoint and the root changes to a .tar.gz' },
    { name: 'page-server', kind: 'string', value: 'ADDR', description: 'not supported', hidden: true },
    { name: 'auto-dedup', kind: 'boolean', description: 'accepted for runc compatibility', hidden: true },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { UsageError } = await import('../../runtime/errors');
    if (opts.pageServer !== undefined) throw new UsageError('--page-server is not supported: dump to --image-path and copy the directory');
    const rt = runtimeContext(ctx);
    const criu = criuFlags(opts);
    const { isRuntimeId, frontendFor } = await import('./restore');
    if (!isRuntimeId(rt, id)) {
      const fx = await frontendFor(ctx);
      const { records } = await import('../../frontend/run');
      if (records(fx).find(id)) {
        if (opts.preDump || opts.parentPath !== undefined) throw new UsageError('--pre-dump and --parent-path are for runtime containers (ccrun checkpoint --image-path DIR ID)');
        const { checkpointImageContainer } = await import('../../frontend/checkpoint');
        await checkpointImageContainer(fx, id, { ...criu, leaveRunning: Boolean(opts.leaveRunning), exportTo: opts.export as string | undefined });
        return 0;
      }
    }
    if (opts.export !== undefined) throw new UsageError('--export is for image containers (ccrun run IMAGE); a runtime checkpoint is its --image-path directory');
    const { checkpointContainer } = await import('../../runtime/checkpoint');
    await checkpointContainer(rt, {
      ...criu,
      id,
      imagePath: (opts.imagePath as string | undefined) ?? 'checkpoint',
      leaveRunning: Boolean(opts.leaveRunning),
      preDump: Boolean(opts.preDump),
      parentPath: opts.parentPath as string | undefined,
    });
    return 0;
  },
};
