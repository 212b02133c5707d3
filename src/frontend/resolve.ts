// Names for the runtime's commands: `ccrun exec web ls` and `ccrun kill web`
// reach the container that `ccrun run --name web` made. A runtime id that
// exists under --root always wins, so runc callers see no change.
import { StateStore, checkContainerId } from '../runtime/state';

/**
 * The runtime id for `nameOrId`: itself when a container of that id exists
 * under `stateRoot`, else the id of the front-end container with that name
 * (or unique id prefix) in the image store; unchanged when neither matches,
 * so the caller reports "does not exist" as it always has.
 */
export function resolveContainerRef(stateRoot: string | undefined, nameOrId: string, storeRoot?: string): string {
  try {
    checkContainerId(nameOrId);
    if (new StateStore(stateRoot).exists(nameOrId)) return nameOrId;
  } catch {
    return nameOrId;
  }
  try {
    // Loaded only for a name: a runtime id (what engines pass) needs neither.
    /* eslint-disable @typescript-eslint/no-var-requires */
    const { ImageStore } = require('../image/store') as typeof import('../image/store');
    const { ContainerRecords } = require('./records') as typeof import('./records');
    /* eslint-enable @typescript-eslint/no-var-requires */
    const rec = new ContainerRecords(storeRoot ?? ImageStore.defaultRoot()).find(nameOrId);
    if (rec) return rec.id;
  } catch {
    /* ambiguous or unreadable: let the caller say it does not exist */
  }
  return nameOrId;
}
