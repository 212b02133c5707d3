// The wire format to ccrun-init: what encodeRecords writes, decodeRecords
// (and the C side, native/init/plan.c) reads back field for field.
import t from 'tap';
import { decodeRecords, encodeRecords } from '../../src/runtime/plan-encoding';

t.test('records survive a round trip: empty fields, UTF-8, thousands of fields', async (t) => {
  const records = [['mode', 'create'], ['env', 'A=', '', 'GRÜSSE=héllo ✓'], ['empty']];
  for (let i = 0; i < 2000; i++) records.push(['scrule', `sys${i}`, 'SCMP_ACT_ERRNO', '1', '0']);
  const frame = encodeRecords(records);
  t.equal(frame.readUInt32LE(0), frame.length - 4, 'the frame starts with its body length');
  t.same(decodeRecords(frame.subarray(4)), records);
});

t.test('the layout is u32 LE counts and lengths', async (t) => {
  const frame = encodeRecords([['ab', 'é']]);
  t.same([...frame], [16, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 97, 98, 2, 0, 0, 0, 0xc3, 0xa9]);
});

t.test('a NUL byte in a field is refused (the C side reads NUL-terminated strings)', async (t) => {
  t.throws(() => encodeRecords([['arg', 'a\0b']]), /NUL byte/);
});
