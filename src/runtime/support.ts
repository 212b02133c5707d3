// What ccrun implements today: the one source of truth for `ccrun features`
// (src/runtime/features.ts) and for the planner, which refuses a config that
// asks for anything not listed here, by name. When a feature lands, flip it
// here and both follow.
import {
  CAPABILITIES,
  MOUNT_FLAG_OPTIONS,
  MOUNT_TYPES,
  PROPAGATION_OPTIONS,
  RECURSIVE_MOUNT_OPTIONS,
} from './config/tables';
import type { NamespaceType } from './config/types';
import { SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_KNOWN_FLAGS, SECCOMP_OPERATORS, supportedSeccompFlags } from './seccomp';
import { hostLsms } from './lsm';

export type HookName = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export interface RuntimeSupport {
  /** Namespace types that can be created or joined. */
  readonly namespaces: readonly NamespaceType[];
  /** Hook kinds that are run. */
  readonly hooks: readonly HookName[];
  /** Mount types (mounts[].type) that are handled. */
  readonly mountTypes: readonly string[];
  /** Mount options (mounts[].options) that are recognised, filesystem data options aside. */
  readonly mountOptions: readonly string[];
  /** Capability names that can be granted. */
  readonly capabilities: readonly string[];
  readonly cgroup: {
    readonly v1: boolean;
    readonly v2: boolean;
    readonly systemd: boolean;
    readonly systemdUser: boolean;
    readonly rdma: boolean;
  };
  readonly seccomp: {
    readonly enabled: boolean;
    readonly actions: readonly string[];
    readonly operators: readonly string[];
    readonly archs: readonly string[];
    readonly knownFlags: readonly string[];
    readonly supportedFlags: readonly string[];
  };
  readonly apparmor: boolean;
  readonly selinux: boolean;
  readonly intelRdt: boolean;
  readonly mountExtensions: { readonly idmap: boolean };
  readonly personality: boolean;
  /** checkpoint/restore, through CRIU's command line (whether CRIU works on this kernel is its own check, at dump time). */
  readonly checkpoint: boolean;
  /** Lowest and highest runtime-spec version accepted in config.json. */
  readonly ociVersionMin: string;
  readonly ociVersionMax: string;
}

export const SUPPORT: RuntimeSupport = {
  namespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup'],
  hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
  mountTypes: [...MOUNT_TYPES],
  // idmap/ridmap (tables.ts SPECIAL_MOUNT_OPTIONS) are not implemented yet.
  mountOptions: [...MOUNT_FLAG_OPTIONS.keys(), ...PROPAGATION_OPTIONS.keys(), ...RECURSIVE_MOUNT_OPTIONS.keys(), 'tmpcopyup'],
  capabilities: [...CAPABILITIES],
  cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
  // Compiled by libseccomp, loaded with seccomp(2) (native/init/seccomp.c);
  // SCMP_ACT_NOTIFY hands the listener to the agent at listenerPath.
  seccomp: {
    enabled: true,
    actions: [...SECCOMP_ACTIONS],
    operators: [...SECCOMP_OPERATORS],
    archs: [...SECCOMP_ARCHS],
    knownFlags: [...SECCOMP_KNOWN_FLAGS],
    // The flags the running kernel takes, asked when first needed.
    get supportedFlags(): readonly string[] {
      return supportedSeccompFlags();
    },
  },
  // Applied where the host runs the LSM; asked for elsewhere, a clear error (src/runtime/lsm.ts).
  get apparmor(): boolean {
    return hostLsms().apparmor;
  },
  get selinux(): boolean {
    return hostLsms().selinux;
  },
  intelRdt: false,
  mountExtensions: { idmap: false },
  personality: false,
  checkpoint: true,
  ociVersionMin: '1.0.0',
  ociVersionMax: '1.2.0',
};
