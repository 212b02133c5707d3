// The one interface the front end uses to put a container's network
// namespace on a network and take it off again. CNI (the reference plugins)
// is the implementation; netavark, which takes one JSON for all networks of
// a container, would be a second one behind the same three calls.
import { cniAdd, cniCheck, cniDel, checkPlugins, type Attachment, type CniResult, type ConfList } from './cni';

export interface NetworkDriver {
  /** Fails before doing anything when the network cannot be set up here (missing plugins). */
  preflight(net: ConfList): void;
  add(net: ConfList, att: Attachment): Promise<CniResult>;
  /** Idempotent; returns what failed instead of stopping at it. */
  del(net: ConfList, att: Attachment, cached: CniResult | undefined): Promise<Error[]>;
  check(net: ConfList, att: Attachment, cached: CniResult): Promise<void>;
}

export const cniDriver: NetworkDriver = {
  preflight: (net) => checkPlugins(net),
  add: cniAdd,
  del: cniDel,
  check: cniCheck,
};

export type { Attachment, CniResult, ConfList } from './cni';
