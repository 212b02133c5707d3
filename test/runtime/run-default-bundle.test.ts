// runc's default bundle is ".": `cd BUNDLE && ccrun run ID` runs the bundle.
import t from 'tap';
import { spawnSync } from 'child_process';
import { busyboxSpec, makeBundle, stateRoot, uniqueId, CCRUN } from '../helpers/runtime';

const root = stateRoot(t);

t.test('a single argument in a bundle directory is the runc form', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'echo from-bundle; exit 4']));
  const r = spawnSync(CCRUN, ['--root', root, 'run', uniqueId('cwd')], { cwd: bundle, encoding: 'utf8' });
  t.equal(r.stdout, 'from-bundle\n');
  t.equal(r.status, 4);
});
