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
  const selfCommand = [process.execPath, process.argv[1]];
  if (g.root) selfCommand.push('--root', g.root);
  if (g.store) selfCommand.push('--store', g.store);
  if (g.debug) selfCommand.push('--debug');
  return {
    runtime: { store: new StateStore(g.root), warn: g.warn, debug: g.debugLog },
    storeRoot: g.store,
    selfCommand,
    warn: g.warn,
    debug: g.debugLog,
  };
}
