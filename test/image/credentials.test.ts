import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync, chmodSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { lookupCredentials, saveCredentials, removeCredentials, registryDomain } from '../../src/image/registry/credentials';

function tempDir(t: Tap.Test): string {
  const d = mkdtempSync(join(tmpdir(), 'ccrun-creds-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('save keeps other keys, writes 0600, uses Docker Hub\'s v1 key; lookup and remove find it', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ auths: { 'other.io': { auth: Buffer.from('o:p').toString('base64') } }, psFormat: 'table {{.ID}}' }));
  saveCredentials('docker.io', { username: 'me', password: 'p:a:ss' }, file);
  saveCredentials('127.0.0.1:5000', { username: 'u', password: 'x' }, file);
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }>; psFormat: string };
  t.equal(cfg.psFormat, 'table {{.ID}}', 'unrelated keys kept');
  t.same(Object.keys(cfg.auths).sort(), ['127.0.0.1:5000', 'https://index.docker.io/v1/', 'other.io']);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(lookupCredentials('docker.io', file), { username: 'me', password: 'p:a:ss' }, 'a colon in the password survives');
  t.same(lookupCredentials('other.io', file), { username: 'o', password: 'p' });
  t.equal(lookupCredentials('nothere.io', file), undefined);
  t.ok(removeCredentials('docker.io', file));
  t.notOk(removeCredentials('docker.io', file));
  t.equal(lookupCredentials('docker.io', file), undefined);
  t.same(lookupCredentials('127.0.0.1:5000', file), { username: 'u', password: 'x' });
});

t.test('keys written by other tools: with scheme and path, or username/password fields', async (t) => {
  const file = join(tempDir(t), 'config.json');
  writeFileSync(file, JSON.stringify({ auths: { 'https://registry.example.com/v2/': { username: 'a', password: 'b' }, 'index.docker.io': { auth: Buffer.from('h:k').toString('base64') } } }));
  t.same(lookupCredentials('registry.example.com', file), { username: 'a', password: 'b' });
  t.same(lookupCredentials('docker.io', file), { username: 'h', password: 'k' });
  writeFileSync(file, '{not json');
  t.throws(() => lookupCredentials('docker.io', file), /cannot read credentials from .*config\.json/);
});

t.test('credential helpers are asked through docker-credential-<name> get', async (t) => {
  const dir = tempDir(t);
  const helper = join(dir, 'docker-credential-ccrun-test');
  writeFileSync(helper, '#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = "helped.io" ] && echo \'{"ServerURL":"helped.io","Username":"hu","Secret":"hs"}\'\n');
  chmodSync(helper, 0o755);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ credHelpers: { 'helped.io': 'ccrun-test' } }));
  const oldPath = process.env.PATH;
  process.env.PATH = `${dir}:${oldPath}`;
  t.teardown(() => {
    process.env.PATH = oldPath;
  });
  t.same(lookupCredentials('helped.io', file), { username: 'hu', password: 'hs' });
  t.equal(lookupCredentials('unhelped.io', file), undefined);
});

t.test('registry arguments of login/logout', async (t) => {
  t.equal(registryDomain(undefined), 'docker.io');
  t.equal(registryDomain('https://index.docker.io/v1/'), 'docker.io');
  t.equal(registryDomain('registry-1.docker.io'), 'docker.io');
  t.equal(registryDomain('GHCR.io'), 'ghcr.io');
  t.equal(registryDomain('127.0.0.1:5000'), '127.0.0.1:5000');
  t.throws(() => registryDomain('bad host!'), /invalid registry "bad host!"/);
});
