import t from 'tap';
import { PassThrough } from 'stream';
import { PlainProgress, TerminalProgress, formatBytes } from '../../src/image/progress';

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d) => (out += d));
  (s as unknown as { columns: number }).columns = 80;
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

t.test('sizes as docker shows them', async (t) => {
  t.equal(formatBytes(999), '999B');
  t.equal(formatBytes(1500), '1.50kB');
  t.equal(formatBytes(45_600_000), '45.6MB');
  t.equal(formatBytes(3_000_000_000), '3.00GB');
});

t.test('not a terminal: one plain line per event, no escape codes', async (t) => {
  const s = sink();
  const p = new PlainProgress(s.stream);
  p.status('v1: Pulling from library/app');
  p.layer('abc', 'waiting');
  p.layer('abc', 'downloading', 2_000_000);
  p.bytes();
  p.layer('abc', 'downloaded');
  p.layer('abc', 'done');
  p.finish();
  t.equal(s.text(), 'v1: Pulling from library/app\nabc: Downloading (2.00MB)\nabc: Download complete\nabc: Pull complete\n');
});

t.test('a terminal: one live line per layer, redrawn in place', async (t) => {
  const s = sink();
  const p = new TerminalProgress(s.stream);
  p.status('v1: Pulling from library/app');
  p.layer('aaa', 'waiting');
  p.layer('bbb', 'downloading', 1_000_000);
  p.bytes('bbb', 500_000, 1_000_000);
  await new Promise((r) => setTimeout(r, 300));
  p.bytes('bbb', 10, 1_000_000);
  p.finish();
  const out = s.text();
  t.match(out, /\x1b\[2A/, 'cursor moves up over the two layer lines');
  t.match(out, /bbb: Downloading \[=+> +\] 500kB\/1.00MB/);
  t.match(out, /\/s/, 'speed shown');
  const lastFrame = out.split('\x1b[2A').pop() ?? '';
  t.match(lastFrame, /aaa: Waiting\n.*bbb: Downloading .*500kB\/1\.00MB/s);
});
