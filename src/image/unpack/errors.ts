// Errors of layer unpacking. Each names the layer entry at fault so the user
// (or the image's author) can see what the archive tried to do.
import { ImageError } from '../errors';

/** A layer entry that would write outside the target, or through a symlink. */
export class UnsafeLayerEntryError extends ImageError {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`layer entry "${entry}" refused: ${reason}`);
  }
}

/** A layer entry we understand but cannot apply (hardlink to nothing, ...). */
export class BadLayerEntryError extends ImageError {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`layer entry "${entry}": ${reason}`);
  }
}

/**
 * A hardlink whose target is not in this layer, while the layers below were
 * not given (or not all unpacked yet): unpack the lower layers first, then
 * retry with UnpackOptions.lowerDiffIds.
 */
export class LowerLayersNeededError extends BadLayerEntryError {}
