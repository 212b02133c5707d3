// How a container meets its cgroup: opened from what state.json saved, so
// every command reaches the same cgroup; device rules get runc's defaults.
import type { CgroupManager } from '../cgroups';
import type { DeviceCgroup, Resources, Spec } from './config/types';

export interface CgroupRef {
  id: string;
  cgroupsPath?: string;
  rootless: boolean;
}

export function openContainerCgroup(ref: CgroupRef): CgroupManager {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { openCgroup } = require('../cgroups') as typeof import('../cgroups');
  return openCgroup({ id: ref.id, cgroupsPath: ref.cgroupsPath, rootless: ref.rootless });
}

/** The config's resources with the device rules every container gets (deny all, then runc's defaults and linux.devices). */
export function resourcesWithDefaultDevices(spec: Spec, rootless: boolean): Resources {
  const res: Resources = { ...(spec.linux?.resources ?? {}) };
  if (rootless) {
    // An unprivileged caller cannot use the devices controller; its user
    // namespace already keeps it from creating or opening foreign devices.
    if (res.devices && res.devices.length === 0) delete res.devices;
    return res;
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { DEFAULT_ALLOWED_DEVICES, WILDCARD } = require('../cgroups/devices') as typeof import('../cgroups/devices');
  const num = (n: number): number | undefined => (n === WILDCARD ? undefined : n);
  const devices: DeviceCgroup[] = [{ allow: false, access: 'rwm' }, ...(res.devices ?? [])];
  for (const d of DEFAULT_ALLOWED_DEVICES) devices.push({ allow: d.allow, type: d.type, major: num(d.major), minor: num(d.minor), access: d.access });
  for (const d of spec.linux?.devices ?? []) {
    if ((d.type === 'c' || d.type === 'b' || d.type === 'u') && d.major !== undefined && d.minor !== undefined) {
      devices.push({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major, minor: d.minor, access: 'rwm' });
    }
  }
  res.devices = devices;
  return res;
}
