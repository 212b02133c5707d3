// The image commands as a user runs them: ./bin/ccrun pull / images / inspect
// / rmi / login / logout against the registry rig (build first: npx tsc).
import t from 'tap';
import { spawn } from 'child_process';
import * as net from 'net';
import { networkInterfaces } from 'os';
import { mkdtempSync, rmSync, readFileSync, statSync, existsSync, readdirSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { startRegistry, MT, type RegistryRig } from '../helpers/registry';
import { gzipLayer } from '../helpers/registry-fixtures';
import { hostPlatform } from '../../src/image/platform';

const CCRUN = resolve(__dirname, '../../bin/ccrun');
const host = hostPlatform();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ccrun(args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(CCRUN, args, { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

let reg: RegistryRig;
let work: string;
let env: Record<string, string>;
const fullConfig = {
  created: '2023-05-06T07:08:09Z',
  author: 'ccrun tests',
  architecture: host.architecture,
  os: 'linux',
  config: {
    User: 'app:app',
    ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'GREETING=hello world'],
    Entrypoint: ['/bin/entry'],
    Cmd: ['--serve', '8080'],
    Volumes: { '/data': {} },
    WorkingDir: '/srv',
    Labels: { 'org.opencontainers.image.title': 'fixture' },
    StopSignal: 'SIGQUIT',
    ArgsEscaped: false,
  },
  history: [{ created: '2023-05-06T07:08:09Z', created_by: 'test fixture' }],
};
let pushed: { manifestDigest: string; configDigest: string };

t.before(async () => {
  reg = await startRegistry(t);
  work = mkdtempSync(join(tmpdir(), 'ccrun-cli-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  env = { DOCKER_CONFIG: join(work, 'docker') };
  pushed = await reg.pushImage('library/app', 'v1', {
    layers: [{ data: gzipLayer([{ path: 'srv/' }, { path: 'srv/index.html', content: '<h1>hi</h1>' }]), mediaType: MT.ociLayerGzip }],
    config: fullConfig,
  });
  await reg.pushImage('private/app', 'v1', { layers: [{ data: gzipLayer([{ path: 'x', content: 'x' }]), mediaType: MT.ociLayerGzip }], config: fullConfig });
});

const store = (name: string): string => join(work, name);

t.test('pull prints one line per event when not a terminal, then the reference', async (t) => {
  const r = await ccrun(['--store', store('s1'), 'pull', `${reg.host}/library/app:v1`], { env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^v1: Pulling from 127\.0\.0\.1:\d+\/library\/app$/m);
  t.match(r.stdout, /^[0-9a-f]{12}: Downloading \(\d+B\)$/m);
  t.match(r.stdout, /^[0-9a-f]{12}: Pull complete$/m);
  t.match(r.stdout, new RegExp(`^Digest: ${pushed.manifestDigest}$`, 'm'));
  t.match(r.stdout, /^Status: Downloaded newer image for 127\.0\.0\.1:\d+\/library\/app:v1$/m);
  t.match(r.stdout, /127\.0\.0\.1:\d+\/library\/app:v1\n$/);
  const again = await ccrun(['--store', store('s1'), 'pull', `${reg.host}/library/app:v1`], { env });
  t.match(again.stdout, /Status: Image is up to date/);
  const q = await ccrun(['--store', store('s1'), 'pull', '-q', `${reg.host}/library/app:v1`], { env });
  t.equal(q.stdout, `${pushed.manifestDigest}\n`, '-q prints only the digest');
});

t.test('images lists as a table and as JSON; inspect shows config and manifest', async (t) => {
  const table = await ccrun(['--store', store('s1'), 'images'], { env });
  t.equal(table.code, 0);
  const lines = table.stdout.trimEnd().split('\n');
  t.match(lines[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  t.match(lines[1], new RegExp(`^127\\.0\\.0\\.1:\\d+/library/app\\s+v1\\s+${pushed.configDigest.slice(7, 19)}\\s+\\d+ (years|months|weeks|days) ago\\s+\\d+B$`));
  const json = JSON.parse((await ccrun(['--store', store('s1'), 'images', '--format', 'json'], { env })).stdout) as { id: string; tag: string; digest: string }[];
  t.equal(json.length, 1);
  t.equal(json[0].id, pushed.configDigest);
  t.equal(json[0].digest, pushed.manifestDigest);
  const bad = await ccrun(['--store', store('s1'), 'images', '--format', 'yaml'], { env });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /--format must be table or json, not "yaml"/);

  const ins = await ccrun(['--store', store('s1'), 'inspect', `${reg.host}/library/app:v1`], { env });
  t.equal(ins.code, 0, ins.stderr);
  const doc = (JSON.parse(ins.stdout) as { Id: string; Config: typeof fullConfig; Manifest: { layers: unknown[] }; RepoDigests: string[] }[])[0];
  t.equal(doc.Id, pushed.configDigest);
  t.same(doc.Config.config, fullConfig.config, 'every config field as pushed');
  t.equal(doc.Manifest.layers.length, 1);
  t.same(doc.RepoDigests, [`${reg.host}/library/app@${pushed.manifestDigest}`]);
  const byId = await ccrun(['--store', store('s1'), 'inspect', pushed.configDigest.slice(7, 17)], { env });
  t.equal(byId.code, 0, 'inspect by id prefix');
  const missing = await ccrun(['--store', store('s1'), 'inspect', 'nosuch'], { env });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /image "nosuch" is not in the store/);
});

t.test('rmi removes the image and its content', async (t) => {
  const r = await ccrun(['--store', store('s1'), 'rmi', `${reg.host}/library/app:v1`], { env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^Untagged: 127\.0\.0\.1:\d+\/library\/app:v1$/m);
  t.match(r.stdout, new RegExp(`^Deleted: ${pushed.manifestDigest}$`, 'm'));
  t.same(readdirSync(join(store('s1'), 'blobs/sha256')), []);
  t.same(readdirSync(join(store('s1'), 'layers/sha256')), []);
  const images = await ccrun(['--store', store('s1'), 'images', '-q'], { env });
  t.equal(images.stdout, '');
  const again = await ccrun(['--store', store('s1'), 'rmi', `${reg.host}/library/app:v1`], { env });
  t.equal(again.code, 1);
  t.match(again.stderr, /is not in the store/);
});

t.test('bad references and unknown platforms get clear errors', async (t) => {
  const r = await ccrun(['--store', store('s2'), 'pull', 'Foo:bar'], { env });
  t.equal(r.code, 1);
  t.match(r.stderr, /invalid reference "Foo:bar": repository name must be lowercase/);
  const p = await ccrun(['--store', store('s2'), 'pull', '--platform', 'linux/mips', `${reg.host}/library/app:v1`], { env });
  t.equal(p.code, 0, 'a single manifest has no other platform to choose');
  t.match(p.stderr, /warning: the image's platform \(linux\/\w+\) does not match the one asked for \(linux\/mips\)/, 'a single-platform image pulls with a warning');
});

t.test('a pull killed midway leaves no partial blob; the next pull completes it and cleans up', async (t) => {
  const img = await reg.pushImage('library/killed', 'v1', {
    layers: [
      { data: gzipLayer([{ path: 'small', content: 'small' }]), mediaType: MT.ociLayerGzip },
      { data: gzipLayer([{ path: 'big', content: Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 31) % 253)) }]), mediaType: MT.ociLayerGzip },
    ],
    config: fullConfig,
  });
  const big = img.layers[1].digest;
  reg.blobFault(big, 'stall');
  t.teardown(() => reg.blobFault(big, undefined));
  const dir = store('s4');
  const child = spawn(CCRUN, ['--store', dir, 'pull', `${reg.host}/library/killed:v1`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.on('close', r));
  // Wait until the stalled blob's temp file exists, then kill the pull outright.
  for (let i = 0; i < 200 && !(existsSync(join(dir, 'tmp')) && readdirSync(join(dir, 'tmp')).length > 0); i++) await new Promise((r) => setTimeout(r, 25));
  t.ok(readdirSync(join(dir, 'tmp')).length > 0, 'the download was under way');
  child.kill('SIGKILL');
  await exited;
  t.notOk(existsSync(join(dir, 'blobs/sha256', big.slice(7))), 'no partial blob in the store');
  t.notOk(existsSync(join(dir, 'images.json')), 'no image record');
  reg.blobFault(big, undefined);
  const r = await ccrun(['--store', dir, 'pull', `${reg.host}/library/killed:v1`], { env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Already exists|Pull complete/);
  t.same(readdirSync(join(dir, 'tmp')), [], 'the dead pull\'s temp file was cleaned up');
  const list = await ccrun(['--store', dir, 'images', '--format', 'json'], { env });
  t.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
});

const outsideIp = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

t.test('a registry on a non-loopback address: https unless listed as insecure', { skip: !outsideIp && 'this machine has no non-loopback IPv4 address to serve a registry on' }, async (t) => {
  // A TCP forwarder on the outside address, in front of the rig.
  const [rhost, rport] = reg.host.split(':');
  const fwd = net.createServer((c) => {
    const up = net.connect(Number(rport), rhost);
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => fwd.listen(0, outsideIp, r));
  t.teardown(() => new Promise((r) => fwd.close(r)));
  const addr = `${outsideIp}:${(fwd.address() as net.AddressInfo).port}`;
  const refused = await ccrun(['--store', store('s5'), 'pull', `${addr}/library/app:v1`], { env });
  t.equal(refused.code, 1);
  t.match(refused.stderr, new RegExp(`TLS handshake with ${addr.replace(/\./g, '\\.')} failed .*list it in CCRUN_INSECURE_REGISTRIES or pass --insecure-registry`));
  const flag = await ccrun(['--store', store('s5'), 'pull', '--insecure-registry', addr, `${addr}/library/app:v1`], { env });
  t.equal(flag.code, 0, flag.stderr);
  const byEnv = await ccrun(['--store', store('s6'), 'pull', `${addr}/library/app:v1`], { env: { ...env, CCRUN_INSECURE_REGISTRIES: `other.example,${outsideIp}` } });
  t.equal(byEnv.code, 0, `a bare host in CCRUN_INSECURE_REGISTRIES covers every port: ${byEnv.stderr}`);
});

t.test('login checks the credentials before saving them; logout forgets them; secrets never printed', async (t) => {
  const cfg = join(env.DOCKER_CONFIG, 'config.json');
  const bad = await ccrun(['--debug', 'login', '-u', reg.user, '--password-stdin', reg.host], { env, input: 'not-the-password\n' });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /login to 127\.0\.0\.1:\d+ failed/);
  t.notOk(existsSync(cfg), 'nothing saved');
  t.notMatch(bad.stdout + bad.stderr, /not-the-password/);

  const anon = await ccrun(['--store', store('s3'), 'pull', `${reg.host}/private/app:v1`], { env });
  t.equal(anon.code, 1);
  t.match(anon.stderr, /denied \(401\).*ccrun login/);

  const ok = await ccrun(['--debug', 'login', '-u', reg.user, '--password-stdin', reg.host], { env, input: `${reg.password}\n` });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /Login Succeeded/);
  t.equal(statSync(cfg).mode & 0o777, 0o600, 'config.json is 0600');
  const saved = JSON.parse(readFileSync(cfg, 'utf8')) as { auths: Record<string, { auth: string }> };
  t.equal(Buffer.from(saved.auths[reg.host].auth, 'base64').toString(), `${reg.user}:${reg.password}`);

  const pull = await ccrun(['--debug', '--store', store('s3'), 'pull', `${reg.host}/private/app:v1`], { env });
  t.equal(pull.code, 0, pull.stderr);
  for (const out of [ok.stdout + ok.stderr, pull.stdout + pull.stderr]) {
    t.notMatch(out, reg.password, 'no password in the output');
    t.notMatch(out, saved.auths[reg.host].auth, 'no base64 credentials in the output');
    t.notMatch(out, /Bearer|eyJ/, 'no token in the output');
  }
  t.match(pull.stderr, /debug: GET http:\/\/127\.0\.0\.1:\d+\/v2\/private\/app\/manifests\/v1 -> 200/, '--debug shows the requests');

  const noTty = await ccrun(['login', reg.host], { env });
  t.equal(noTty.code, 1);
  t.match(noTty.stderr, /use --password-stdin/);

  const out = await ccrun(['logout', reg.host], { env });
  t.match(out.stdout, /Removing login credentials for 127\.0\.0\.1:\d+/);
  t.same((JSON.parse(readFileSync(cfg, 'utf8')) as { auths: object }).auths, {});
  const again = await ccrun(['logout', reg.host], { env });
  t.match(again.stdout, /Not logged in to/);
});
