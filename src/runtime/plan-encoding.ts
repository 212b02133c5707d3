// The wire format between Node and ccrun-init (native/init/init.h): a frame
// is a u32 LE byte length followed by records; a record is a u32 field
// count, then per field a u32 length and the bytes; field 0 is the tag.
import type { LaunchPlan, ProcessPlan } from './plan';
import { seccompRecords } from './seccomp';
import { hookRecords } from './hooks';
import { lsmRecords, mountLabelData } from './lsm';

export type WireRecord = string[];

export function encodeRecords(records: WireRecord[]): Buffer {
  // One buffer, sized first: a container's plan has thousands of fields (a
  // seccomp profile), and a small Buffer per field cost ~50 ms of cold,
  // unoptimised start-up code.
  let size = 0;
  for (const r of records) {
    size += 4;
    for (const f of r) size += 4 + Buffer.byteLength(f, 'utf8');
  }
  const out = Buffer.allocUnsafe(size + 4);
  let off = 0;
  const u32 = (n: number): void => {
    out[off] = n & 0xff;
    out[off + 1] = (n >>> 8) & 0xff;
    out[off + 2] = (n >>> 16) & 0xff;
    out[off + 3] = (n >>> 24) & 0xff;
    off += 4;
  };
  u32(size);
  for (const r of records) {
    u32(r.length);
    for (const f of r) {
      if (f.indexOf('\0') >= 0) throw new Error(`a plan field contains a NUL byte: ${JSON.stringify(f)}`);
      const at = off;
      off += 4;
      const n = out.write(f, off, 'utf8');
      off = at;
      u32(n);
      off += n;
    }
  }
  return out;
}

/** Decodes the records of one frame body (without its length prefix). */
export function decodeRecords(body: Buffer): WireRecord[] {
  const out: WireRecord[] = [];
  let off = 0;
  while (off < body.length) {
    const n = body.readUInt32LE(off);
    off += 4;
    const rec: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = body.readUInt32LE(off);
      off += 4;
      rec.push(body.toString('utf8', off, off + len));
      off += len;
    }
    out.push(rec);
  }
  return out;
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): WireRecord[][] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: WireRecord[][] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32LE(0);
      if (this.buf.length < 4 + len) break;
      frames.push(decodeRecords(this.buf.subarray(4, 4 + len)));
      this.buf = this.buf.subarray(4 + len);
    }
    return frames;
  }
}

const hex = (n: bigint): string => n.toString(16);

function processRecords(p: ProcessPlan, capLast: number): WireRecord[] {
  const r: WireRecord[] = [
    ['args', ...p.args],
    ['env', ...p.env],
    ['cwd', p.cwd],
    ['user', String(p.uid), String(p.gid), String(p.umask ?? -1)],
    ['caplast', String(capLast)],
    ['nnp', p.noNewPrivileges ? '1' : '0'],
  ];
  if (p.groups) r.push(['groups', ...p.groups.map(String)]);
  for (const l of p.rlimits) r.push(['rlimit', l.name, String(l.resource), String(l.soft), String(l.hard)]);
  const c = p.capabilities;
  if (c) r.push(['caps', hex(c.bounding), hex(c.effective), hex(c.permitted), hex(c.inheritable), hex(c.ambient)]);
  if (p.oomScoreAdj !== undefined) r.push(['oom', String(p.oomScoreAdj)]);
  if (p.consoleSize) r.push(['consolesize', String(p.consoleSize.height), String(p.consoleSize.width)]);
  return r;
}

export function planToRecords(plan: LaunchPlan): WireRecord[] {
  const r: WireRecord[] = [
    ['mode', plan.mode],
    ['wait', plan.wait ? '1' : '0'],
    ['preserve', String(plan.preserveFds)],
  ];
  if (plan.fifo) r.push(['fifo', plan.fifo, plan.startResult ?? '']);
  if (plan.monitor) r.push(['monitor', plan.monitor.keepStdin ? '1' : '0', plan.monitor.terminal ? '1' : '0', ...plan.monitor.exitCommand]);
  if (plan.consoleSocket) r.push(['console', plan.consoleSocket]);
  if (plan.chroot) r.push(['chroot', plan.chroot]);
  for (const f of plan.cgroupJoin ?? []) r.push(['cgjoin', f]);
  for (const ns of plan.namespaces) r.push(['ns', ns.type, ns.path ?? '']);
  for (const m of plan.uidMappings) r.push(['uidmap', String(m.containerID), String(m.hostID), String(m.size)]);
  for (const m of plan.gidMappings) r.push(['gidmap', String(m.containerID), String(m.hostID), String(m.size)]);
  if (plan.setgroups) r.push(['setgroups', plan.setgroups]);
  if (plan.rootfs) {
    r.push(['rootfs', plan.rootfs]);
    const o = plan.rootOverlay;
    if (o) r.push(['overlay', o.base, `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work}${o.userxattr ? ',userxattr' : ''}`]);
    r.push(['rootprop', String(plan.rootPropagation)]);
    if (plan.rootfsPropagation) r.push(['rootfsprop', String(plan.rootfsPropagation)]);
    r.push(['nopivot', plan.noPivot ? '1' : '0']);
    r.push(['readonly', plan.readonlyRoot ? '1' : '0']);
  }
  for (const op of plan.fsOps) {
    switch (op.kind) {
      case 'mount':
        r.push(['mount', op.source, op.destination, op.type, String(op.flags >>> 0), op.data, String(op.propagation >>> 0), String(op.attrSet), String(op.attrClr), op.copyUp ? '1' : '0', op.selinuxXattr ?? '']);
        break;
      case 'remount':
        r.push(['remount', op.destination, String(op.flags >>> 0)]);
        break;
      case 'device':
        r.push(['device', op.path, op.type, String(op.major), String(op.minor), String(op.mode), String(op.uid), String(op.gid), op.bind ? '1' : '0']);
        break;
      case 'symlink':
        r.push(['symlink', op.target, op.path]);
        break;
    }
  }
  if (plan.hostname !== undefined) r.push(['hostname', plan.hostname]);
  if (plan.domainname !== undefined) r.push(['domainname', plan.domainname]);
  for (const [k, v] of plan.sysctl) r.push(['sysctl', k, v]);
  // A masked directory gets an empty read-only tmpfs, labelled like the others.
  const maskData = mountLabelData('tmpfs', 'size=0k', plan.lsm?.mountLabel);
  for (const p of plan.maskedPaths) r.push(['mask', p, maskData]);
  for (const p of plan.readonlyPaths) r.push(['rodir', p]);
  if (plan.personality !== undefined) r.push(['personality', String(plan.personality)]);
  r.push(...processRecords(plan.process, plan.capLast));
  if (plan.seccomp) r.push(...seccompRecords(plan.seccomp));
  if (plan.lsm) r.push(...lsmRecords(plan.lsm));
  if (plan.mode === 'create') {
    const hooks = hookRecords(plan.hooks);
    // The seccomp agent's state holds the init's host pid, which the init
    // cannot see: it asks the runtime before pivot_root, hooks or not.
    if (plan.seccomp?.listenerPath && !hooks.some(([tag]) => tag === 'hooksync')) hooks.unshift(['hooksync']);
    r.push(...hooks);
  }
  return r;
}

export function encodePlan(plan: LaunchPlan): Buffer {
  return encodeRecords(planToRecords(plan));
}
