// The front end's context from the global options: the runtime's state
// store, the image store, and how to run ccrun again with the same options
// (the detached monitor).
import type { FrontendContext } from './run';
import { StateStore } from '../runtime/state';

export interface FrontendGlobals {
  root?: string;
  store?: string;
  debug: boolean;
  warn: (m: string) => void;
  debugLog?: (m: string) => void;
}

export function frontendContext(g: FrontendGlobals): FrontendContext {
  const state = new StateStore(g.root);
  // Spelled out in full: the monitor runs this with an empty environment
  // (no XDG_RUNTIME_DIR, XDG_DATA_HOME or HOME to find the defaults by) and
  // from another working directory.
  const { resolve } = require('path') as typeof import('path');
  const selfCommand = [process.execPath, resolve(process.argv[1]), '--root', resolve(state.root)];
  if (g.store) selfCommand.push('--store', resolve(g.store));
  else selfCommand.push('--store', (require('../image/store') as typeof import('../image/store')).ImageStore.defaultRoot());
  if (g.debug) selfCommand.push('--debug');
  return {
    runtime: { store: state, warn: g.warn, debug: g.debugLog },
    storeRoot: g.store,
    selfCommand,
    warn: g.warn,
    debug: g.debugLog,
  };
}
