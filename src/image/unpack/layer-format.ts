// What a cached layer directory looks like depends on who unpacked it, and
// everything that reads layers (overlayfs, the flattening in rootfs.ts, the
// layer view for image volumes) must read it the same way.
//  - root: the tar's owners, device nodes, and opaque directories marked with
//    trusted.overlay.opaque (the overlay is mounted as usual).
//  - rootless (a store owned by an unprivileged user): lchown to other ids and
//    mknod of devices are refused, and trusted.* xattrs need CAP_SYS_ADMIN.
//    So every file stays owned by the user (root in a container whose user
//    namespace maps root to the user), device nodes are skipped (/dev comes
//    from the runtime), and opaque directories carry user.overlay.opaque: the
//    overlay is mounted with "userxattr" (Linux 5.11+), which reads user.overlay.*.
// Whiteouts are character devices 0:0 in both: Linux 5.8+ lets anyone make those.

export interface LayerFormat {
  /** Written by an unprivileged user: see the header comment. */
  rootless: boolean;
  /** The xattrs overlayfs reads in this format: never taken from a tar, never copied out of a layer. */
  overlayXattrPrefix: string;
  /** Marks a directory whose lower layers' children are hidden. */
  opaqueXattr: string;
}

export const ROOT_LAYERS: LayerFormat = {
  rootless: false,
  overlayXattrPrefix: 'trusted.overlay.',
  opaqueXattr: 'trusted.overlay.opaque',
};

export const ROOTLESS_LAYERS: LayerFormat = {
  rootless: true,
  overlayXattrPrefix: 'user.overlay.',
  opaqueXattr: 'user.overlay.opaque',
};

/** The format of layers written by a store whose root directory belongs to `ownerUid`. */
export function layerFormatFor(ownerUid: number): LayerFormat {
  return ownerUid === 0 ? ROOT_LAYERS : ROOTLESS_LAYERS;
}

/**
 * Whether a tar's xattr reaches the unpacked file: never trusted.overlay.*
 * (a layer must not steer overlayfs itself), nor, in a rootless store, the
 * user.overlay.* that its userxattr overlay reads instead.
 */
export function keepsLayerXattr(format: LayerFormat, name: string): boolean {
  return !name.startsWith('trusted.overlay.') && !name.startsWith(format.overlayXattrPrefix);
}
