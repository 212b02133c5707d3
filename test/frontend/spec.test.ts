// The Docker options as a runtime config, without running anything: what
// each option turns into, and the errors bad input gets.
import t from 'tap';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { applyRunRequest, capabilitySet, parseBytes, parseEnvEntries, parseTmpfs, parseVolume, DOCKER_DEFAULT_CAPS, type RunHost, type RunRequest } from '../../src/frontend/spec';
import { imageConfigToSpec } from '../../src/image/bundle';
import { ContainerRecords, checkContainerName, newContainerId, randomName } from '../../src/frontend/records';
import { rootOverlayFor } from '../../src/frontend/image-root';
import { resolveContainerRef } from '../../src/frontend/resolve';
import { ImageStore, type ImageRecord } from '../../src/image/store';

function request(over: Partial<RunRequest> = {}): RunRequest {
  return {
    image: 'busybox', command: [], detach: false, autoRemove: false, interactive: false, tty: false, env: [], envFiles: [],
    volumes: [], tmpfs: [], readOnly: false, capAdd: [], capDrop: [], privileged: false, pull: 'missing', init: false,
    network: 'none', publish: [], publishAll: false, networkAliases: [], dns: [], addHosts: [], securityOpts: [], ...over,
  };
}

const work = fs.mkdtempSync(join(tmpdir(), 'ccrun-frontend-spec-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const files = { hostname: join(work, 'hostname'), hosts: join(work, 'hosts'), resolvConf: join(work, 'resolv.conf') };
const ID = 'ab'.repeat(32);

function specFor(req: RunRequest, host: RunHost = {}) {
  const spec = imageConfigToSpec({ config: { Cmd: ['sh'] } }, work, { user: req.user }, { rootPath: join(work, 'merged') });
  applyRunRequest(spec, req, ID, files, host);
  return spec;
}

t.test("defaults: Docker's namespaces, capabilities, /etc files, hostname", async (t) => {
  const s = specFor(request());
  t.same(s.linux!.namespaces!.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  t.same([...s.process!.capabilities!.bounding!].sort(), [...DOCKER_DEFAULT_CAPS].sort());
  t.equal(s.process!.noNewPrivileges, false, 'setuid programs work, as in Docker');
  t.equal(s.hostname, ID.slice(0, 12));
  t.same(s.mounts!.filter((m) => m.type === 'bind').map((m) => [m.destination, m.source]), [
    ['/etc/hostname', files.hostname],
    ['/etc/hosts', files.hosts],
    ['/etc/resolv.conf', files.resolvConf],
  ]);
  t.ok(s.mounts!.some((m) => m.destination === '/dev/shm'), '/dev/shm');
  t.ok(s.linux!.seccomp, "Docker's seccomp profile");
  t.equal(s.root!.readonly, false);
});

t.test('options become the config', async (t) => {
  const vol = join(work, 'vol');
  fs.mkdirSync(vol);
  const s = specFor(request({ network: 'host', readOnly: true, hostname: 'h1', memory: '64m', cpus: '1.5', pidsLimit: 50, volumes: [`${vol}:/data:ro`], tmpfs: ['/run:size=1m'], tty: true, securityOpts: ['seccomp=unconfined', 'no-new-privileges'] }));
  t.notOk(s.linux!.namespaces!.some((n) => n.type === 'network'), '--network host: no network namespace');
  t.equal(s.root!.readonly, true);
  t.equal(s.hostname, 'h1');
  t.equal(s.linux!.resources!.memory!.limit, 64 * 1024 * 1024);
  t.same(s.linux!.resources!.cpu, { quota: 150000, period: 100000 });
  t.same(s.linux!.resources!.pids, { limit: 50 });
  t.same(s.mounts!.find((m) => m.destination === '/data'), { destination: '/data', type: 'bind', source: vol, options: ['rbind', 'rprivate', 'ro'] });
  t.same(s.mounts!.find((m) => m.destination === '/run')!.options, ['nosuid', 'nodev', 'noexec', 'size=1m']);
  t.equal(s.process!.terminal, true);
  t.ok(s.process!.env!.includes('TERM=xterm'), 'TERM with a terminal');
  t.notOk(s.linux!.seccomp, 'seccomp=unconfined');
  t.equal(s.process!.noNewPrivileges, true);
});

t.test('capabilities: drop first, then add; ALL; privileged', async (t) => {
  t.same(capabilitySet(['NET_ADMIN'], ['ALL'], false), ['CAP_NET_ADMIN']);
  t.notOk(capabilitySet([], ['chown', 'CAP_KILL'], false).some((c) => c === 'CAP_CHOWN' || c === 'CAP_KILL'), 'names with or without CAP_, any case');
  t.ok(capabilitySet(['ALL'], [], false).length > DOCKER_DEFAULT_CAPS.length);
  t.same(capabilitySet([], [], true), capabilitySet(['ALL'], [], false));
  t.throws(() => capabilitySet(['NOPE'], [], false), /unknown capability "NOPE"/);
});

t.test('bad input is refused with the fix', async (t) => {
  t.throws(() => parseVolume('data:/data'), /host path "data" must be absolute/);
  t.throws(() => parseVolume('/a'), /HOST-PATH:CONTAINER-PATH/);
  t.throws(() => parseVolume('/tmp:rel'), /container path "rel" must be absolute/);
  t.throws(() => parseVolume('/tmp:/x:rx'), /mode "rx" is not ro or rw/);
  t.throws(() => parseVolume('/no/such/dir/here:/x'), /does not exist/);
  t.throws(() => parseTmpfs('relative'), /must be absolute/);
  t.throws(() => parseBytes('12q', '--memory'), /not a size/);
  t.equal(parseBytes('1g', '--memory'), 1024 ** 3);
  t.equal(parseBytes('512k', '--memory'), 512 * 1024);
  t.throws(() => specFor(request({ cpus: 'two' })), /--cpus: "two"/);
  t.throws(() => specFor(request({ pidsLimit: 0 })), /--pids-limit/);
  t.throws(() => specFor(request({ securityOpts: ['label=foo'] })), /not supported/);
  t.throws(() => checkContainerName('bad name'), /invalid container name/);
  t.throws(() => checkContainerName('a'.repeat(64).replace(/a/g, 'f')), /looks like a container id/);
});

t.test('env: -e KEY takes the caller\'s value, --env-file skips comments, -e wins', async (t) => {
  process.env.CCRUN_TEST_FROM_HOST = 'host-value';
  const f = join(work, 'env');
  fs.writeFileSync(f, '# c\n\nA=file\nB=file\n');
  t.same(parseEnvEntries(['B=flag', 'CCRUN_TEST_FROM_HOST', 'CCRUN_TEST_UNSET_XYZ'], [f]), ['A=file', 'B=file', 'B=flag', 'CCRUN_TEST_FROM_HOST=host-value']);
  t.throws(() => parseEnvEntries(['=x'], []), /not KEY=VALUE/);
  t.throws(() => parseEnvEntries([], [join(work, 'missing')]), /cannot read/);
});

t.test('the root overlay: lower dirs top-most first, short paths relative to the layer directory', async (t) => {
  const store = new ImageStore(join(work, 'store'));
  const d = (c: string): string => `sha256:${c.repeat(64)}`;
  const rec = { layers: [{ diffId: d('1') }, { diffId: d('2') }, { diffId: d('3') }] } as unknown as ImageRecord;
  const cdir = join(store.root, 'containers', ID);
  const o = rootOverlayFor(store, rec, cdir);
  t.equal(o.base, join(store.root, 'layers', 'sha256'));
  t.same(o.lower, ['3'.repeat(64), '2'.repeat(64), '1'.repeat(64)]);
  t.equal(o.upper, `../../containers/${ID}/upper`);
  t.equal(o.work, `../../containers/${ID}/work`);
});

t.test('rootless: a user namespace mapping root to the user, and only root', async (t) => {
  const host: RunHost = { rootless: { uid: 1234, gid: 2345 } };
  const s = specFor(request(), host);
  t.same(s.linux!.namespaces!.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts']);
  t.same(s.linux!.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }]);
  t.same(s.linux!.gidMappings, [{ containerID: 0, hostID: 2345, size: 1 }]);
  t.notOk(s.mounts!.some((m) => (m.options ?? []).some((o) => /^[ug]id=/.test(o))), 'no uid=/gid= mount options (unmapped ids)');
  t.equal(s.mounts!.find((m) => m.destination === '/sys')!.type, 'sysfs', 'its own network namespace lets it mount sysfs');
  t.notOk(s.linux!.resources?.pids, '--pids-limit -1 asks for nothing');
  t.notOk(specFor(request({ pidsLimit: -1 }), host).linux!.resources?.pids, '--pids-limit -1 asks for nothing');
  t.notOk(specFor(request({ privileged: true }), host).linux!.resources?.devices, 'no device rules to open up');
  t.throws(() => specFor(request({ user: '1000' }), host), /-u 1000 runs as uid 1000, gid 0, which is not mapped in a rootless container.*-u 0/);
  t.throws(() => specFor(request({ user: '0:5' }), host), /gid 5/);
  const root = specFor(request());
  t.notOk(root.linux!.namespaces!.some((n) => n.type === 'user'), 'root: no user namespace');
  t.notOk(root.linux!.uidMappings);
});

t.test('ids, names and the resolver', async (t) => {
  const id = newContainerId();
  t.match(id, /^[0-9a-f]{64}$/);
  t.notMatch(id, /^\d{12}/);
  const taken = new Set<string>();
  for (let i = 0; i < 50; i++) taken.add(randomName(taken));
  t.equal(taken.size, 50, 'generated names are unique');
  const storeRoot = join(work, 'store2');
  const recs = new ContainerRecords(storeRoot);
  fs.mkdirSync(recs.containerDir(id), { recursive: true });
  recs.write({ id, name: 'web', image: 'busybox', imageId: 'x', command: ['sh'], created: new Date().toISOString(), spec: {} as never, autoRemove: false, stopSignal: 'SIGTERM' });
  const stateRoot = join(work, 'state');
  t.equal(resolveContainerRef(stateRoot, 'web', storeRoot), id, 'a name');
  t.equal(resolveContainerRef(stateRoot, id.slice(0, 6), storeRoot), id, 'an id prefix');
  t.equal(resolveContainerRef(stateRoot, 'other', storeRoot), 'other', 'unknown: unchanged');
  fs.mkdirSync(join(stateRoot, 'web'), { recursive: true });
  t.equal(resolveContainerRef(stateRoot, 'web', storeRoot), 'web', 'a runtime container of that id wins');
});
