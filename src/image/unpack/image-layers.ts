// Unpacking the layers of one image in any order (as their blobs arrive),
// concurrently, while still giving a layer that hardlinks into the layers
// below it what it needs: each layer is first tried on its own; one that
// fails with LowerLayersNeededError waits for the layers below it to be
// unpacked, then runs again with them.
import { LowerLayersNeededError } from './errors';
import { unpackLayer, type LayerCache, type LayerRef } from './index';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a failure is reported by the call that unpacks that layer
  return { promise, resolve, reject };
}

export interface LayerUnpackerOptions {
  /**
   * Runs each actual unpack (e.g. a concurrency limiter). Waiting for lower
   * layers happens outside it, so a limiter's slots are never held by a
   * layer that waits: no deadlock however small the limit.
   */
  schedule?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Returns `unpack(i)`: unpacks layers[i] (bottom first order, as in the
 * manifest) and resolves to its cache directory. Call it once for every
 * layer not yet in the cache; calls may come in any order and overlap.
 */
export function imageLayerUnpacker(store: LayerCache, layers: LayerRef[], opts: LayerUnpackerOptions = {}): (index: number) => Promise<string> {
  const schedule = opts.schedule ?? (<T>(fn: () => Promise<T>): Promise<T> => fn());
  const done = layers.map(() => deferred());
  const waitFor = async (j: number): Promise<void> => {
    if (await store.hasLayer(layers[j].diffId)) return;
    await done[j].promise;
  };
  return async (i: number): Promise<string> => {
    const lowerDiffIds = layers.slice(0, i).map((l) => l.diffId);
    try {
      let dir: string;
      try {
        dir = await schedule(() => unpackLayer(store, layers[i], { lowerDiffIds }));
      } catch (e) {
        if (!(e instanceof LowerLayersNeededError)) throw e;
        for (let j = 0; j < i; j++) await waitFor(j);
        dir = await schedule(() => unpackLayer(store, layers[i], { lowerDiffIds }));
      }
      done[i].resolve();
      return dir;
    } catch (e) {
      done[i].reject(e);
      throw e;
    }
  };
}
