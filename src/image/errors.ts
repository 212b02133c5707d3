// Typed errors of the image pipeline. Each names the thing that is wrong
// (the reference, the blob digest, the registry) so the user can act on it.
import { CcrunError } from '../runtime/errors';

/** Any failure of the image store or pipeline. */
export class ImageError extends CcrunError {}

/** A reference (`name[:tag][@digest]`) that does not parse. */
export class ReferenceError extends ImageError {}

/** Content whose digest or size is not what its descriptor promised. */
export class DigestMismatchError extends ImageError {
  constructor(
    message: string,
    readonly expected: string,
    readonly actual?: string,
  ) {
    super(message);
  }
}

/** The registry refused, failed, or answered something we cannot use. */
export class RegistryError extends ImageError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** 401/403: missing or wrong credentials. */
export class AuthError extends RegistryError {}

/** A tag, digest or repository the registry does not have, or an image not in the store. */
export class ImageNotFoundError extends ImageError {}

/** The index has no manifest for the platform asked for. */
export class PlatformError extends ImageError {}
