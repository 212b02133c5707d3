// The runtime library's context, made from the global flags.
import type { CommandContext } from './command';
import type { RuntimeContext } from '../runtime/container';
import { StateStore } from '../runtime/state';

export function runtimeContext(ctx: CommandContext): RuntimeContext {
  return {
    store: new StateStore(ctx.globals.root),
    warn: (m) => ctx.log.warn(m),
    debug: (m) => ctx.log.debug(m),
  };
}

export function refuseSystemdCgroup(ctx: CommandContext): void {
  if (ctx.globals.systemdCgroup) {
    const { CcrunError } = require('../runtime/errors') as typeof import('../runtime/errors');
    throw new CcrunError('--systemd-cgroup: the systemd cgroup driver is not supported; ccrun manages cgroupfs directly (drop the flag, or use cgroup_manager = "cgroupfs")');
  }
}
