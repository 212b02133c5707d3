// The networking module's parts that need no namespace: the CNI protocol as
// a plugin sees it (a fake plugin records its environment and stdin), -p
// parsing, subnets, and the /etc files' text.
import t from 'tap';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { cniAdd, cniCheck, cniDel, checkPlugins, type ConfList } from '../../src/network/cni';
import { parsePublish, exposedPorts, formatMapping } from '../../src/network/ports';
import { parseSubnet, subnetsOverlap, subnetContains, parseIPv4, formatSubnet, NetworkConfigs } from '../../src/network/networks';
import { hostsText, resolvConfText, parseAddHost } from '../../src/network/hosts';

const dir = fs.mkdtempSync(join(tmpdir(), 'ccrun-cni-unit-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

// A plugin that logs what it got and answers with a result naming itself (or an error, for "failing").
const PLUGIN = `#!/bin/sh
input=$(cat)
printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$(basename "$0")" "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "$CNI_ARGS" "$input" >> ${dir}/log
if [ "$(basename "$0")" = failing ]; then echo '{"cniVersion":"1.0.0","code":7,"msg":"no luck","details":"just a test"}'; exit 1; fi
echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.'$(basename "$0" | wc -c)'/24"}],"by":"'$(basename "$0")'"}'
`;
for (const name of ['first', 'second', 'failing']) {
  fs.writeFileSync(join(dir, name), PLUGIN, { mode: 0o755 });
}
process.env.CCRUN_CNI_PATH = `/nonexistent:${dir}`;

function log(): { plugin: string; command: string; id: string; ifName: string; args: string; input: Record<string, unknown> }[] {
  const lines = fs.existsSync(join(dir, 'log')) ? fs.readFileSync(join(dir, 'log'), 'utf8').trim().split('\n') : [];
  fs.rmSync(join(dir, 'log'), { force: true });
  return lines.map((l) => {
    const [plugin, command, id, ifName, args, input] = l.split('\t');
    return { plugin, command, id, ifName, args, input: JSON.parse(input) as Record<string, unknown> };
  });
}

const list: ConfList = { cniVersion: '1.0.0', name: 'net1', plugins: [{ type: 'first', ipam: { type: 'second' } }, { type: 'second', capabilities: { portMappings: true } }] };
const att = { containerId: 'c1', netns: '/run/x', ifName: 'eth0', args: { IP: '10.9.0.9' }, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], other: 1 } };

t.test('ADD: each plugin in order with the list name and version, prevResult chained, runtimeConfig by capability', async (t) => {
  const result = await cniAdd(list, att);
  t.equal((result as unknown as { by: string }).by, 'second', "the list's result is the last plugin's");
  const calls = log();
  t.same(calls.map((c) => [c.plugin, c.command, c.id, c.ifName]), [['first', 'ADD', 'c1', 'eth0'], ['second', 'ADD', 'c1', 'eth0']]);
  t.equal(calls[0].args, 'IgnoreUnknown=1;IP=10.9.0.9', 'CNI_ARGS');
  t.same([calls[0].input.name, calls[0].input.cniVersion], ['net1', '1.0.0'], 'the name and version of the list');
  t.notOk('prevResult' in calls[0].input, 'the first has no prevResult');
  t.notOk('runtimeConfig' in calls[0].input, 'nor runtimeConfig: it declares no capability');
  t.equal((calls[1].input.prevResult as { by: string }).by, 'first', 'the second gets the first one\'s result');
  t.same(calls[1].input.runtimeConfig, { portMappings: att.runtimeConfig.portMappings }, 'only the capability it declares');
});

t.test('DEL: reverse order with the cached result; every plugin runs although one fails', async (t) => {
  const withFailing: ConfList = { ...list, plugins: [{ type: 'first' }, { type: 'failing' }, { type: 'second' }] };
  const errors = await cniDel(withFailing, att, { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] });
  t.same(log().map((c) => [c.plugin, c.command, (c.input.prevResult as { ips: unknown[] }).ips.length]), [['second', 'DEL', 1], ['failing', 'DEL', 1], ['first', 'DEL', 1]]);
  t.equal(errors.length, 1);
  t.match(errors[0].message, /network "net1": CNI plugin failing DEL failed: no luck: just a test/, "the plugin's error JSON");
});

t.test('CHECK: in order with the cached result; skipped when the list disables it', async (t) => {
  const cached = { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] };
  await cniCheck(list, att, cached);
  t.same(log().map((c) => [c.plugin, c.command, (c.input.prevResult as { ips: unknown[] }).ips.length]), [['first', 'CHECK', 1], ['second', 'CHECK', 1]]);
  await cniCheck({ ...list, disableCheck: true }, att, cached);
  t.same(log(), [], 'disableCheck: nothing runs');
  await t.rejects(cniCheck({ ...list, plugins: [{ type: 'failing' }, { type: 'first' }] }, att, cached), /CNI plugin failing CHECK failed: no luck/);
  t.same(log().map((c) => c.plugin), ['failing'], 'stops at the first that finds something wrong');
});

t.test('a missing plugin is named before anything runs', async (t) => {
  t.throws(() => checkPlugins({ ...list, plugins: [{ type: 'first' }, { type: 'nosuch', ipam: { type: 'alsomissing' } }] }), /the CNI plugins "nosuch", "alsomissing" are not in \/nonexistent:.*install them/);
  t.same(log(), [], 'nothing ran');
});

t.test('-p parsing', async (t) => {
  t.same(parsePublish('8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  t.same(parsePublish('127.0.0.1:8080:80/udp'), { hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' });
  t.same(parsePublish('127.0.0.1::80'), { hostIP: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  t.same(parsePublish('53/UDP'), { hostPort: 0, containerPort: 53, protocol: 'udp' });
  t.same(exposedPorts({ '80/tcp': {}, '53/udp': {} }).map(formatMapping), ['0.0.0.0:0->80/tcp', '0.0.0.0:0->53/udp']);
  t.throws(() => parsePublish('a:80'), /host port "a" is not a port number/);
  t.throws(() => parsePublish('8080-8081:80'), /port ranges are not supported/);
  t.throws(() => parsePublish('1.2.3:80:80'), /"1\.2\.3" is not an IPv4 address/);
  t.throws(() => parsePublish(':80'), /use \[\[IP:\]HOSTPORT:\]CONTAINERPORT/);
});

t.test('subnets, and a network list as ccrun writes it', async (t) => {
  const a = parseSubnet('10.89.0.7/24')!;
  t.equal(formatSubnet(a), '10.89.0.0/24', 'normalized to its base');
  t.ok(subnetsOverlap(a, parseSubnet('10.89.0.0/16')!));
  t.notOk(subnetsOverlap(a, parseSubnet('10.89.1.0/24')!));
  t.ok(subnetContains(a, parseIPv4('10.89.0.200')!));
  t.notOk(subnetContains(a, parseIPv4('10.89.1.1')!));
  t.equal(parseSubnet('10.0.0.0/33'), undefined);
  const configs = new NetworkConfigs(join(dir, 'nets'));
  const n = configs.create('app', { subnet: '10.123.0.0/24', internal: true });
  t.same([n.subnet, n.gateway, n.bridge, n.internal], ['10.123.0.0/24', '10.123.0.1', 'ccrun1', true]);
  const conf = JSON.parse(fs.readFileSync(join(dir, 'nets', 'app.conflist'), 'utf8')) as ConfList;
  t.same(conf.plugins.map((p) => p.type), ['bridge', 'portmap', 'firewall'], 'bridge, portmap, firewall');
  t.equal(conf.plugins[0].ipMasq, false, 'internal: no masquerading');
  t.same((conf.plugins[0].ipam as { routes: unknown[] }).routes, [], 'internal: no default route');
  t.throws(() => configs.create('other', { subnet: '10.123.0.128/25' }), /overlaps network "app"/);
  fs.writeFileSync(join(dir, 'nets', 'mine.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'mine', plugins: [{ type: 'macvlan', ipam: { type: 'host-local', subnet: '10.124.0.0/24' } }] }));
  t.same(configs.list().map((x) => [x.name, x.driver, x.subnet]), [['app', 'bridge', '10.123.0.0/24'], ['mine', 'macvlan', '10.124.0.0/24']], "a user's own list is listed too");
  configs.remove('app');
  t.notOk(fs.existsSync(join(dir, 'nets', 'app.conflist')));
});

t.test('/etc/hosts and resolv.conf text', async (t) => {
  const text = hostsText({ hostname: 'h1', own: [{ ip: '10.1.0.2', names: ['h1', 'web', 'h1'] }], peers: [{ ip: '10.1.0.3', names: ['db'] }], extra: [parseAddHost('x.local:1.2.3.4')] });
  t.equal(text, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.1.0.2\th1 web\n10.1.0.3\tdb\n1.2.3.4\tx.local\n');
  t.match(hostsText({ hostname: 'h1', own: [], peers: [], extra: [] }), /127\.0\.1\.1\th1\n$/, 'no address: the hostname on 127.0.1.1');
  t.throws(() => parseAddHost('nocolon'), /use NAME:IP/);
  const host = 'nameserver 127.0.0.53\nsearch corp\noptions edns0\n';
  t.equal(resolvConfText([], false, host), 'search corp\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n', 'a loopback stub resolver is replaced');
  t.equal(resolvConfText([], false, 'nameserver 10.0.0.1\nnameserver 127.0.0.1\n'), 'nameserver 10.0.0.1\n', 'a loopback one goes, a real one stays');
  t.equal(resolvConfText(['1.1.1.1'], false, host), 'search corp\noptions edns0\nnameserver 1.1.1.1\n', '--dns replaces the nameservers');
  t.equal(resolvConfText([], true, host), host, 'the host network keeps the file');
});
