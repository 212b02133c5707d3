// The runtime-spec "features document" (features.md, features-linux.md) that
// `ccrun features` prints, built from SUPPORT so it says what the runtime
// actually does. Shape and ordering follow runc 1.2's `runc features`.
import { SUPPORT, type RuntimeSupport } from './support';

export interface FeaturesDocument {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp: {
      enabled: boolean;
      actions?: string[];
      operators?: string[];
      archs?: string[];
      knownFlags?: string[];
      supportedFlags?: string[];
    };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
  /** Annotations of config.json that change what the runtime does: none in ccrun. */
  potentiallyUnsafeConfigAnnotations: string[];
}

export const VERSION_ANNOTATION = 'io.github.ccrun.version';
/** As runc's org.opencontainers.runc.checkpoint.enabled. */
export const CHECKPOINT_ANNOTATION = 'io.github.ccrun.checkpoint.enabled';

const sorted = (list: readonly string[]): string[] => [...list].sort();

export function featuresDocument(version: string, support: RuntimeSupport = SUPPORT): FeaturesDocument {
  const seccomp: FeaturesDocument['linux']['seccomp'] = support.seccomp.enabled
    ? {
        enabled: true,
        actions: sorted(support.seccomp.actions),
        operators: sorted(support.seccomp.operators),
        archs: sorted(support.seccomp.archs),
        knownFlags: [...support.seccomp.knownFlags],
        supportedFlags: [...support.seccomp.supportedFlags],
      }
    : // As runc built without seccomp: the lists would describe nothing.
      { enabled: false };
  return {
    ociVersionMin: support.ociVersionMin,
    ociVersionMax: support.ociVersionMax,
    hooks: [...support.hooks],
    mountOptions: sorted(support.mountOptions),
    linux: {
      namespaces: sorted(support.namespaces),
      capabilities: [...support.capabilities],
      cgroup: { ...support.cgroup },
      seccomp,
      apparmor: { enabled: support.apparmor },
      selinux: { enabled: support.selinux },
      intelRdt: { enabled: support.intelRdt },
      mountExtensions: { idmap: { enabled: support.mountExtensions.idmap } },
    },
    annotations: { [VERSION_ANNOTATION]: version, ...(support.checkpoint ? { [CHECKPOINT_ANNOTATION]: 'true' } : {}) },
    potentiallyUnsafeConfigAnnotations: [],
  };
}
