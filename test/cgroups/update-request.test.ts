import t from 'tap';
import { parseResourcesJson, resourcesFromFlags } from '../../src/cgroups/update-request';
import { parseInterval } from '../../src/runtime/container-cgroups';
import { statsEventData, statsJson, emptyStats, parseCpuList } from '../../src/cgroups/stats';
import { ConfigError, UsageError } from '../../src/runtime/errors';

t.test('runc update flags -> linux.resources, only what was given', async (t) => {
  t.same(resourcesFromFlags({}), {});
  t.same(resourcesFromFlags({ memory: '512m', memorySwap: '1g', memoryReservation: '256m' }), {
    memory: { limit: 512 << 20, swap: 1 << 30, reservation: 256 << 20 },
  });
  t.same(resourcesFromFlags({ memory: '-1' }), { memory: { limit: -1 } });
  t.same(resourcesFromFlags({ cpuQuota: '-1', cpuPeriod: '100000', cpuShare: '512', cpusetCpus: '0-1', cpusetMems: '0', cpuRtPeriod: '1000000', cpuRtRuntime: '950000' }), {
    cpu: { quota: -1, period: 100000, shares: 512, cpus: '0-1', mems: '0', realtimePeriod: 1000000, realtimeRuntime: 950000 },
  });
  t.same(resourcesFromFlags({ pidsLimit: '100', blkioWeight: '500' }), { pids: { limit: 100 }, blockIO: { weight: 500 } });
  t.throws(() => resourcesFromFlags({ kernelMemory: '1m' }), UsageError);
  t.throws(() => resourcesFromFlags({ kernelMemory: '1m' }), /kernel memory limits are not supported/);
  t.throws(() => resourcesFromFlags({ memory: 'big' }), /--memory: "big" is not a size/);
  t.throws(() => resourcesFromFlags({ cpuQuota: '1.5' }), /--cpu-quota: "1\.5" is not a whole number/);
  t.throws(() => resourcesFromFlags({ cpuPeriod: '-5' }), /--cpu-period: -5 is below 0/);
  t.throws(() => resourcesFromFlags({ blkioWeight: '5' }), /--blkio-weight: 5 is not in 10\.\.1000/);
});

t.test('--resources JSON is checked field by field', async (t) => {
  t.same(parseResourcesJson('{"memory":{"limit":1048576},"pids":{"limit":5}}', 'f'), { memory: { limit: 1048576 }, pids: { limit: 5 } });
  t.same(parseResourcesJson('{"devices":[{"allow":false,"type":"c","major":null,"minor":null,"access":"rwm"}]}', 'f').devices?.length, 1);
  t.throws(() => parseResourcesJson('{', 'stdin'), /stdin: not valid JSON/);
  t.throws(() => parseResourcesJson('{"memory":{"limit":"1g"}}', 'f'), ConfigError);
  t.throws(() => parseResourcesJson('{"memory":{"limit":"1g"}}', 'f'), /linux\.resources\.memory\.limit: must be a number, not "1g"/);
  t.throws(() => parseResourcesJson('{"cpu":{"quota":1,"sharez":2}}', 'f'), /linux\.resources\.cpu\.sharez: unknown field/);
  t.throws(() => parseResourcesJson('{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":"x"}]}}', 'f'), /throttleReadBpsDevice\[0\]\.rate: must be a number/);
  t.throws(() => parseResourcesJson('[]', 'f'), /linux\.resources: must be an object/);
});

t.test('--interval takes Go durations', async (t) => {
  t.equal(parseInterval('5s'), 5000);
  t.equal(parseInterval('500ms'), 500);
  t.equal(parseInterval('1m30s'), 90_000);
  t.equal(parseInterval('1500\u00b5s'), 1.5, 'micro with the micro sign, as Go writes it');
  t.equal(parseInterval('1500us'), 1.5);
  t.equal(parseInterval('2'), 2000, 'a bare number is seconds');
  t.throws(() => parseInterval('soon'), /--interval: "soon" is not a duration/);
  t.throws(() => parseInterval('0s'), /above 0/);
});

t.test('stats event data: runc field order and omitempty', async (t) => {
  const s = emptyStats();
  s.cpu.usage.total = 7;
  s.memory.usage = { limit: 2 ** 64 - 1, failcnt: 1, usage: 5 };
  s.cpuset.mems = [0];
  s.cpuset.cpus = [0, 1];
  const json = statsJson({ type: 'stats', id: 'x', data: statsEventData(s) });
  t.equal(
    json,
    '{"type":"stats","id":"x","data":{"cpu":{"usage":{"total":7,"kernel":0,"user":0},"throttling":{}},' +
      '"cpuset":{"cpus":[0,1],"cpu_exclusive":0,"mems":[0],"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},' +
      '"memory":{"usage":{"limit":18446744073709551615,"usage":5,"failcnt":1},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},' +
      '"pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}}',
  );
  t.same(parseCpuList('0-2,4\n'), [0, 1, 2, 4]);
  t.same(parseCpuList(''), []);
});
