// src/runtime/lsm.ts without a kernel that runs the LSM: the AppArmor profile
// listing check and where linux.mountLabel goes in the plan (as runc and crun
// put it). Applied for real: test/cgv2/apparmor-checks.ts, in the VM.
import t from 'tap';
import { apparmorProfileLoaded, mountLabelData, mountLabelXattr, planLsm } from '../../src/runtime/lsm';
import { planMounts } from '../../src/runtime/plan-fs';
import { buildCreatePlan } from '../../src/runtime/plan';
import { planToRecords } from '../../src/runtime/plan-encoding';
import { busyboxSpec, makeBundle } from '../helpers/runtime';
import type { PlannedMount } from '../../src/runtime/plan';

const LISTING = 'docker-default (enforce)\n/usr/bin/man (complain)\nccrun-test-deny-write (enforce)\nouter//inner (enforce)\n';
const LABEL = 'system_u:object_r:container_file_t:s0:c1,c2';

t.test('apparmorProfileLoaded reads the profiles listing; what it cannot vouch for is left to the kernel', async (t) => {
  t.equal(apparmorProfileLoaded('docker-default', LISTING), true);
  t.equal(apparmorProfileLoaded('/usr/bin/man', LISTING), true, 'a complain-mode profile is loaded too');
  t.equal(apparmorProfileLoaded('outer//inner', LISTING), true, 'a hat is listed by its full name');
  t.equal(apparmorProfileLoaded('docker', LISTING), false, 'a prefix of a name is not that name');
  t.equal(apparmorProfileLoaded('ccrun-test-not-loaded', LISTING), false);
  t.equal(apparmorProfileLoaded('unconfined', LISTING), undefined, '"unconfined" is never listed');
  t.equal(apparmorProfileLoaded('a//&b', LISTING), undefined, 'a stack');
  t.equal(apparmorProfileLoaded(':ns:p', LISTING), undefined, 'a policy namespace');
});

t.test('mountLabel: context= on the filesystems that take it; the mqueue root labelled through its xattr', async (t) => {
  t.equal(mountLabelData('tmpfs', 'mode=755', LABEL), `mode=755,context="${LABEL}"`);
  t.equal(mountLabelData('devpts', '', LABEL), `context="${LABEL}"`);
  t.equal(mountLabelData('overlay', 'lowerdir=/a', LABEL), `lowerdir=/a,context="${LABEL}"`);
  for (const type of ['proc', 'sysfs', 'mqueue', 'bind', 'cgroup2']) t.equal(mountLabelData(type, 'x', LABEL), 'x', `${type}: no context=`);
  t.equal(mountLabelData('tmpfs', 'mode=755', undefined), 'mode=755', 'no mountLabel: data unchanged');
  t.equal(mountLabelXattr('mqueue', LABEL), LABEL);
  t.equal(mountLabelXattr('tmpfs', LABEL), undefined);
  t.equal(mountLabelXattr('mqueue', undefined), undefined);

  const spec = busyboxSpec(['true']);
  const ops = planMounts(spec, { bundle: '/', newUser: false, newNetwork: true, newCgroupNs: true, mountLabel: LABEL }) as PlannedMount[];
  const by = (dst: string): PlannedMount => ops.find((o) => o.destination === dst)!;
  t.match(by('/dev').data, /,context="system_u:object_r:container_file_t:s0:c1,c2"$/, 'the /dev tmpfs');
  t.match(by('/dev/pts').data, /context="/, 'devpts');
  t.notMatch(by('/proc').data, /context=/, 'proc');
  t.notMatch(by('/dev/mqueue').data, /context=/, 'mqueue: no context= (its superblock exists already)');
  t.equal(by('/dev/mqueue').selinuxXattr, LABEL, 'mqueue: labelled through security.selinux instead');
  t.equal(by('/dev/shm').selinuxXattr, undefined);
});

t.test('the masked directories get a labelled tmpfs; the mount record carries the xattr label', async (t) => {
  const spec = busyboxSpec(['true']);
  const bundle = makeBundle(t, spec);
  const plan = buildCreatePlan(spec, { bundle, id: 'lsm-unit' });
  const plain = planToRecords(plan).filter((r) => r[0] === 'mask');
  t.ok(plain.length > 0 && plain.every((r) => r[2] === 'size=0k'), 'without mountLabel: size=0k');
  plan.lsm = { mountLabel: LABEL };
  plan.fsOps = plan.fsOps.map((o) => (o.kind === 'mount' && o.type === 'mqueue' ? { ...o, selinuxXattr: LABEL } : o));
  const records = planToRecords(plan);
  t.ok(records.filter((r) => r[0] === 'mask').every((r) => r[2] === `size=0k,context="${LABEL}"`), 'with mountLabel: context= added');
  const mq = records.find((r) => r[0] === 'mount' && r[3] === 'mqueue')!;
  t.equal(mq[10], LABEL, 'the mqueue mount record ends with the label');
  t.equal(records.find((r) => r[0] === 'mount' && r[3] === 'proc')![10], '', 'others end with an empty field');
});

t.test('planLsm: SELinux labels kept where SELinux runs, dropped with a debug line where it does not; AppArmor refused', async (t) => {
  const spec = busyboxSpec(['true']);
  spec.process!.selinuxLabel = 'system_u:system_r:container_t:s0';
  spec.linux!.mountLabel = LABEL;
  const said: string[] = [];
  t.same(planLsm(spec, (m) => said.push(m), { apparmor: false, selinux: true }), { apparmorProfile: undefined, selinuxLabel: 'system_u:system_r:container_t:s0', mountLabel: LABEL });
  t.same(said, [], 'nothing to say where SELinux runs');
  t.same(planLsm(spec, (m) => said.push(m), { apparmor: false, selinux: false }), { apparmorProfile: undefined, selinuxLabel: undefined, mountLabel: undefined });
  t.equal(said.length, 2);
  t.match(said[0], /\/process\/selinuxLabel "system_u:system_r:container_t:s0" ignored: this host does not run SELinux/);
  t.match(said[1], /\/linux\/mountLabel ".*" ignored: this host does not run SELinux/);
  spec.process!.apparmorProfile = 'docker-default';
  t.throws(() => planLsm(spec, () => undefined, { apparmor: false, selinux: false }), /this host does not run AppArmor/, 'an AppArmor profile is still refused');
});
