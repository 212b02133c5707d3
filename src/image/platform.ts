// Platforms (os/arch[/variant]) as OCI and Docker name them, this host's
// platform, and choosing a manifest from an index (attestations skipped).
import { PlatformError, ImageError } from './errors';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface IndexEntry {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  annotations?: Record<string, string>;
}

const ARCH_ALIASES: Record<string, Platform['architecture']> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};

/** Fills in the defaults containerd uses: arm64 means v8, arm means v7. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const rawArch = p.architecture.toLowerCase();
  const architecture = ARCH_ALIASES[rawArch] ?? rawArch;
  let variant = p.variant?.toLowerCase() || undefined;
  if (rawArch === 'armel' && !variant) variant = 'v6';
  if (architecture === 'arm64' && (!variant || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && !variant) variant = 'v7';
  if (architecture === 'arm' && variant && /^\d$/.test(variant)) variant = `v${variant}`;
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function hostPlatform(): Platform {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips64el: 'mips64le', loong64: 'loong64' };
  const architecture = map[process.arch] ?? process.arch;
  let variant: string | undefined;
  if (architecture === 'arm') {
    const v = (process.config.variables as unknown as Record<string, unknown>).arm_version;
    variant = `v${typeof v === 'string' || typeof v === 'number' ? v : 7}`;
  }
  return normalizePlatform({ os: process.platform === 'win32' ? 'windows' : process.platform, architecture, variant });
}

/** "linux/arm64/v8" -> Platform; errors say what form is expected. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw new ImageError(`invalid platform "${text}": expected os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm64/v8`);
  }
  return normalizePlatform({ os: parts[0], architecture: parts[1], variant: parts[2] });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function isAttestation(e: IndexEntry): boolean {
  return (
    e.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (e.platform?.os === 'unknown' && e.platform?.architecture === 'unknown')
  );
}

/** Older arm variants run on newer CPUs: a v7 host can use v6 and v5 images. */
function variantRank(want: Platform, have: Platform): number {
  if (want.variant === have.variant) return 0;
  if (want.architecture === 'arm' && want.variant && have.variant) {
    const w = Number(want.variant.slice(1));
    const h = Number(have.variant.slice(1));
    if (h < w) return w - h;
  }
  return -1;
}

/** The index entry for `want`: exact match first, then a compatible older arm variant. */
export function selectManifest(entries: IndexEntry[], want: Platform, what: string): IndexEntry {
  let best: IndexEntry | undefined;
  let bestRank = Infinity;
  const available: string[] = [];
  for (const e of entries) {
    if (isAttestation(e) || !e.platform) continue;
    const have = normalizePlatform(e.platform);
    available.push(formatPlatform(have));
    if (have.os !== want.os || have.architecture !== want.architecture) continue;
    const rank = variantRank(want, have);
    if (rank >= 0 && rank < bestRank) {
      best = e;
      bestRank = rank;
    }
  }
  if (!best) {
    throw new PlatformError(
      `no manifest for platform ${formatPlatform(want)} in ${what} (it has: ${available.length ? [...new Set(available)].join(', ') : 'no runnable platforms'}); choose one with --platform`,
    );
  }
  return best;
}
