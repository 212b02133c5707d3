// The stand-in for a rootless container with no cgroup it may write to:
// nothing is limited, so asking for limits is an error that says why, and the
// missing limits are reported once as a warning.
import type { Resources } from '../runtime/config/types';
import { HostError } from '../runtime/errors';
import type { CgroupManager } from './index';
import { requestsLimits } from './index';
import { emptyStats, type CgroupStats } from './stats';

export class NoCgroup implements CgroupManager {
  readonly warnings: string[];
  constructor(
    readonly path: string,
    /** Why there is no cgroup, as the warning says it. */
    readonly reason: string,
    readonly version: 1 | 2 = 2,
  ) {
    this.warnings = [reason];
  }
  paths(): Record<string, string> {
    return {};
  }
  private refuse(resources: Resources | undefined): void {
    if (requestsLimits(resources)) {
      throw new HostError(`${this.reason.replace(/: running without resource limits$/, '')}; linux.resources asks for limits, which need a cgroup: remove them or run as root / with a delegated cgroup v2`);
    }
  }
  create(resources?: Resources): void {
    this.refuse(resources);
  }
  addProcess(): void {}
  selfJoinFiles(): undefined {
    return undefined;
  }
  update(resources: Resources): void {
    this.refuse(resources);
  }
  async freeze(): Promise<void> {
    throw new HostError(`cannot pause: ${this.reason}`);
  }
  async thaw(): Promise<void> {
    throw new HostError(`cannot resume: ${this.reason}`);
  }
  frozen(): boolean {
    return false;
  }
  freezeStateFile(): undefined {
    return undefined;
  }
  procsDir(): undefined {
    return undefined;
  }
  pids(): number[] {
    return [];
  }
  signalAll(): void {}
  async destroy(): Promise<void> {}
  exists(): boolean {
    return false;
  }
  stats(): CgroupStats {
    return emptyStats();
  }
  oomKillCount(): number {
    return 0;
  }
}
