import t from 'tap';
import { blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2, parseByteSize } from '../../src/cgroups/convert';
import { ConfigError } from '../../src/runtime/errors';

t.test('cpu shares -> weight maps min, default and max onto each other (runc >= 1.3.2, crun >= 1.23)', async (t) => {
  t.equal(cpuSharesToWeight(0), 0, '0 stays unset');
  t.equal(cpuSharesToWeight(2), 1);
  t.equal(cpuSharesToWeight(1024), 100);
  t.equal(cpuSharesToWeight(262144), 10000);
  t.equal(cpuSharesToWeight(1), 1, 'below the v1 minimum clamps');
  t.equal(cpuSharesToWeight(1_000_000), 10000, 'above the v1 maximum clamps');
  // Values computed with runc's Go formula (ceil(10^((l^2+125l)/612 - 7/34)), l = log2(shares)).
  t.equal(cpuSharesToWeight(512), 59);
  t.equal(cpuSharesToWeight(2048), 174);
  let prev = 0;
  for (let s = 2; s <= 262144; s *= 2) {
    const w = cpuSharesToWeight(s);
    t.ok(w >= prev, `monotonic at ${s}`);
    prev = w;
  }
});

t.test('blkio weight -> io.weight', async (t) => {
  t.equal(blkioWeightToIoWeight(0), 0);
  t.equal(blkioWeightToIoWeight(10), 1);
  t.equal(blkioWeightToIoWeight(1000), 10000);
  t.equal(blkioWeightToIoWeight(500), 1 + Math.floor((490 * 9999) / 990));
});

t.test('memory.swap is memory+swap: v2 swap.max = swap - limit', async (t) => {
  t.equal(memorySwapToV2(300, 100), 200);
  t.equal(memorySwapToV2(100, 100), 0 + 0, 'equal means no swap');
  t.equal(memorySwapToV2(-1, 100), -1);
  t.equal(memorySwapToV2(0, -1), -1, 'unlimited memory, swap unset -> unlimited swap');
  t.equal(memorySwapToV2(0, 100), 0, 'unset');
  t.throws(() => memorySwapToV2(50, 100), /must be >= linux\.resources\.memory\.limit/);
  t.throws(() => memorySwapToV2(200, -1), /needs a memory limit/);
  t.throws(() => memorySwapToV2(200, 0), ConfigError);
});

t.test('sizes as runc update takes them', async (t) => {
  t.equal(parseByteSize('1048576', 'x'), 1048576);
  t.equal(parseByteSize('512m', 'x'), 512 * 1024 * 1024);
  t.equal(parseByteSize('1g', 'x'), 1024 ** 3);
  t.equal(parseByteSize('1GiB', 'x'), 1024 ** 3);
  t.equal(parseByteSize('64k', 'x'), 65536);
  t.equal(parseByteSize('1.5k', 'x'), 1536);
  t.equal(parseByteSize('-1', 'x'), -1);
  t.throws(() => parseByteSize('lots', '--memory'), /--memory: "lots" is not a size/);
  t.throws(() => parseByteSize('-5m', '--memory'), /negative/);
});
