import t from 'tap';
import { parseReference, formatReference, familiarRepository } from '../../src/image/reference';
import { ReferenceError } from '../../src/image/errors';

const norm = (s: string): string => formatReference(parseReference(s));
const D = 'sha256:' + 'ab'.repeat(32);

t.test('normalises like Docker', async (t) => {
  t.equal(norm('ubuntu'), 'docker.io/library/ubuntu:latest');
  t.equal(norm('ubuntu:22.04'), 'docker.io/library/ubuntu:22.04');
  t.equal(norm('library/ubuntu'), 'docker.io/library/ubuntu:latest');
  t.equal(norm('user/app:tag'), 'docker.io/user/app:tag');
  t.equal(norm('docker.io/ubuntu'), 'docker.io/library/ubuntu:latest');
  t.equal(norm('index.docker.io/user/app'), 'docker.io/user/app:latest');
  t.equal(norm('localhost/app'), 'localhost/app:latest');
  t.equal(norm('localhost:5000/a/b/c:v1'), 'localhost:5000/a/b/c:v1');
  t.equal(norm('quay.io/org/app'), 'quay.io/org/app:latest');
  t.equal(norm('[::1]:5000/app:x'), '[::1]:5000/app:x');
  t.equal(norm(`busybox@${D}`), `docker.io/library/busybox@${D}`);
  t.equal(norm(`busybox:1.36@${D}`), `docker.io/library/busybox:1.36@${D}`);
  t.equal(norm('my.registry-1/x__y--z.w'), 'my.registry-1/x__y--z.w:latest', 'a dotted first component is a host');
  t.equal(norm('Upper/app'), 'Upper/app:latest', 'an uppercase first component is a host');
  t.equal(familiarRepository(parseReference('docker.io/library/busybox')), 'busybox');
  t.equal(familiarRepository(parseReference('user/app')), 'user/app');
  t.equal(familiarRepository(parseReference('quay.io/a/b')), 'quay.io/a/b');
});

t.test('malformed references say what is wrong', async (t) => {
  const bad: [string, RegExp][] = [
    ['Foo:bar', /invalid reference "Foo:bar": repository name must be lowercase/],
    ['', /empty/],
    ['busybox:', /tag "" is not valid/],
    ['busybox:-x', /tag "-x" is not valid/],
    ['busybox:' + 'a'.repeat(129), /tag .* is not valid/],
    ['busybox@sha256:123', /not a digest/],
    ['busybox@sha256:' + 'A'.repeat(64), /64 lowercase hex/],
    ['a//b', /empty path component/],
    ['app/', /empty path component/],
    ['a b', /white space/],
    ['ab'.repeat(32), /64-digit hex/],
    ['host:port/app', /port "port" must be a number/],
    ['-bad.io/app', /not a valid host name/],
    ['my_.app', /not a valid repository path component/],
  ];
  for (const [ref, re] of bad) t.throws(() => parseReference(ref), re, ref);
  t.throws(() => parseReference('UP'), ReferenceError);
  t.throws(() => parseReference('x'.repeat(256)), /longer than 255/);
});
