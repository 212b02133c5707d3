// `ccrun features`: runs the built CLI (./bin/ccrun), so build first.
import t from 'tap';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { SUPPORT } from '../../src/runtime/support';
import { featuresDocument } from '../../src/runtime/features';
import { MOUNT_FLAG_OPTIONS, PROPAGATION_OPTIONS, RECURSIVE_MOUNT_OPTIONS } from '../../src/runtime/config/tables';
import { VERSION } from '../../src/cli/main';

const repo = path.resolve(__dirname, '../..');

t.test('prints the features document as 2-space JSON that matches SUPPORT', async (t) => {
  const r = spawnSync(process.execPath, [path.join(repo, 'bin/ccrun'), 'features'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\{\n {2}"ociVersionMin": "1\.0\.0",\n {2}"ociVersionMax": "1\.2\.0",\n/);
  const doc = JSON.parse(r.stdout) as ReturnType<typeof featuresDocument>;
  t.same(doc, featuresDocument(VERSION), 'the CLI prints the library document');
  t.same(doc.hooks, [...SUPPORT.hooks]);
  t.same(doc.linux.namespaces, [...SUPPORT.namespaces].sort());
  t.notOk(doc.linux.namespaces.includes('time'), 'time namespaces are not implemented yet');
  t.same(doc.linux.capabilities, [...SUPPORT.capabilities]);
  t.same(doc.linux.cgroup, SUPPORT.cgroup);
  t.equal(doc.linux.seccomp.enabled, SUPPORT.seccomp.enabled);
  t.ok(doc.linux.seccomp.actions?.includes('SCMP_ACT_NOTIFY'), 'SCMP_ACT_NOTIFY, with listenerPath');
  t.same(doc.linux.seccomp.supportedFlags, [...SUPPORT.seccomp.supportedFlags], "the running kernel's flags");
  t.same(doc.linux.apparmor, { enabled: SUPPORT.apparmor });
  t.same(doc.linux.selinux, { enabled: SUPPORT.selinux });
  t.same(doc.linux.intelRdt, { enabled: SUPPORT.intelRdt });
  t.same(doc.linux.mountExtensions, { idmap: { enabled: SUPPORT.mountExtensions.idmap } });
  t.equal(doc.annotations['io.github.ccrun.version'], VERSION);
  const options = [...MOUNT_FLAG_OPTIONS.keys(), ...PROPAGATION_OPTIONS.keys(), ...RECURSIVE_MOUNT_OPTIONS.keys(), 'tmpcopyup'].sort();
  t.same(doc.mountOptions, options, 'every mount option of tables.ts and tmpcopyup, sorted');
  t.notOk(doc.mountOptions.includes('idmap'), 'idmapped mounts are not implemented yet');
});

t.test('the document follows SUPPORT when a feature is switched on', async (t) => {
  const doc = featuresDocument('9.9.9', {
    ...SUPPORT,
    hooks: ['prestart', 'poststop'],
    namespaces: [...SUPPORT.namespaces, 'time'],
    seccomp: {
      enabled: true,
      actions: ['SCMP_ACT_KILL', 'SCMP_ACT_ALLOW'],
      operators: ['SCMP_CMP_NE'],
      archs: ['SCMP_ARCH_X86_64'],
      knownFlags: ['SECCOMP_FILTER_FLAG_LOG'],
      supportedFlags: [],
    },
    apparmor: true,
  });
  t.same(doc.hooks, ['prestart', 'poststop']);
  t.ok(doc.linux.namespaces.includes('time'));
  t.same(doc.linux.seccomp, {
    enabled: true,
    actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL'],
    operators: ['SCMP_CMP_NE'],
    archs: ['SCMP_ARCH_X86_64'],
    knownFlags: ['SECCOMP_FILTER_FLAG_LOG'],
    supportedFlags: [],
  });
  t.same(doc.linux.apparmor, { enabled: true });
  t.equal(doc.annotations['io.github.ccrun.version'], '9.9.9');
});

t.test('takes no arguments', async (t) => {
  const r = spawnSync(process.execPath, [path.join(repo, 'bin/ccrun'), 'features', 'x'], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stderr, /usage: ccrun features/);
});
