// Container records on disk: the spec kept apart from the summary that `ps`
// and name lookups read, and records of older ccruns (spec inline) still read.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ContainerRecords, type ContainerRecord } from '../../src/frontend/records';

function record(id: string, name: string): ContainerRecord {
  return { id, name, image: 'busybox', imageId: 'sha256:x', command: ['true'], created: new Date().toISOString(), spec: { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/' } } as ContainerRecord['spec'], autoRemove: false, stopSignal: 'SIGTERM' };
}

t.test('the spec lives in spec.json; list() skips it, find() and read() bring it', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-records-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const recs = new ContainerRecords(root);
  const id = 'a'.repeat(64);
  fs.mkdirSync(recs.containerDir(id), { recursive: true });
  recs.write(record(id, 'web'));
  const onDisk = JSON.parse(fs.readFileSync(path.join(recs.containerDir(id), 'record.json'), 'utf8'));
  t.equal(onDisk.spec, undefined, 'record.json holds no spec');
  t.same(JSON.parse(fs.readFileSync(path.join(recs.containerDir(id), 'spec.json'), 'utf8')).process.args, ['true']);
  t.equal(recs.list()[0].spec, undefined, 'list() does not read specs');
  t.same(recs.find('web')?.spec.process?.args, ['true'], 'find() by name brings the spec');
  t.same(recs.find('aaa')?.spec.process?.args, ['true'], 'find() by id prefix too');

  const old = 'b'.repeat(64);
  fs.mkdirSync(recs.containerDir(old));
  fs.writeFileSync(path.join(recs.containerDir(old), 'record.json'), JSON.stringify(record(old, 'legacy')));
  t.same(recs.read(old)?.spec.process?.args, ['true'], 'a record with its spec inline (older ccrun) still reads');
  t.same(recs.list().map((r) => r.name).sort(), ['legacy', 'web']);
});
