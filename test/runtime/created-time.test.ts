// state.json's "created": RFC 3339 in UTC with nanoseconds, as runc writes it
// (built from Date's UTC getters, not toISOString; see container.ts).
import t from 'tap';
import { rfc3339Nano } from '../../src/runtime/container';

t.test('the date and time are UTC, with milliseconds then the nanoseconds below them', async (t) => {
  t.equal(rfc3339Nano(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), 7890n), '2026-01-02T03:04:05.006007890Z');
  t.equal(rfc3339Nano(new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)), 999_999n), '1999-12-31T23:59:59.999999999Z');
});

t.test('it agrees with toISOString to the millisecond', async (t) => {
  const wrong: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const d = new Date(Math.floor(Math.random() * 4_102_444_800_000)); // 1970..2100
    if (rfc3339Nano(d, 0n) !== d.toISOString().replace('Z', '000000Z')) wrong.push(`${d.toISOString()}: ${rfc3339Nano(d, 0n)}`);
  }
  t.same(wrong, [], '1000 random times from 1970 to 2100');
});

t.test('now, as a container is created', async (t) => {
  const s = rfc3339Nano();
  t.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  t.ok(Math.abs(Date.parse(s) - Date.now()) < 60_000, `${s} is now`);
});
