/*
 * The container's filesystem: root propagation, the rootfs bind, the config's
 * mounts in order, devices, pivot_root (or MS_MOVE + chroot), then sysctls,
 * masked and read-only paths and a read-only root.
 *
 * Every path inside the container is resolved with openat2(RESOLVE_IN_ROOT)
 * against the rootfs and used through /proc/self/fd/N, so a symlink planted in
 * the image can never redirect a mount or a write to the host (the
 * CVE-2025-31133 / CVE-2024-21626 classes).
 */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

#ifndef MOUNT_ATTR_RDONLY
struct mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

static int root_fd = -1;       /* O_PATH of the rootfs, before pivot_root */
static const char *rootfs_path;

static const char *fd_path(int fd, char *buf) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

/* Opens PATH (a container path) inside root `dirfd` without ever leaving it. */
static int open_in_root(int dirfd, const char *path, int flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char *rel = path;
  while (*rel == '/') rel++;
  if (*rel == 0) rel = ".";
  return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
}

/* Like mkdir -p inside the root; the last component is made a directory or,
 * with as_file, an empty file (a bind-mount target for a file source).
 * Returns an O_PATH fd of the result. */
static int make_in_root(int dirfd, const char *path, int as_file) {
  int fd = open_in_root(dirfd, path, O_PATH);
  if (fd >= 0) return fd;
  if (errno != ENOENT) return -1;
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, path);
  size_t len = strlen(buf);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
  char *slash = strrchr(buf, '/');
  const char *base = slash ? slash + 1 : buf;
  int parent;
  if (slash && slash != buf) {
    *slash = 0;
    parent = make_in_root(dirfd, buf, 0);
  } else {
    parent = open_in_root(dirfd, "/", O_PATH);
  }
  if (parent < 0) return -1;
  int rc;
  if (as_file) {
    rc = mknodat(parent, base, S_IFREG | 0644, 0);
  } else {
    rc = mkdirat(parent, base, 0755);
  }
  int saved = errno;
  close(parent);
  if (rc != 0 && saved != EEXIST) {
    errno = saved;
    return -1;
  }
  return open_in_root(dirfd, path, O_PATH);
}

/* Mount flags the kernel locks on a mount we inherited through a user
 * namespace; a remount must keep them or it fails with EPERM. */
static unsigned long locked_flags(const char *path) {
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs(path, &sv) != 0) return 0;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

/* With keep_current, the flags the mount has now (nosuid, nodev...) are
 * kept, as for read-only paths and a read-only root. */
static int remount(const char *path, unsigned long flags, int keep_current) {
  if (keep_current) flags |= locked_flags(path);
  if (mount(NULL, path, NULL, flags, NULL) == 0) return 0;
  if (errno != EPERM) return -1;
  return mount(NULL, path, NULL, flags | locked_flags(path), NULL);
}

#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

/* tmpcopyup: copy the tree a tmpfs is about to cover (opened as `from`
 * before the mount) into the new tmpfs (`to`), keeping types, modes,
 * owners and link targets. Every name is looked up relative to a directory
 * fd without following symlinks, so nothing outside the two trees is read
 * or written. */
static void copy_tree(int from, int to, const char *where) {
  int dfd = dup(from);
  DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
  if (!d) fail_errno("tmpcopyup %s: read the directory", where);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
    struct stat st;
    if (fstatat(from, n, &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("tmpcopyup %s: stat %s", where, n);
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(to, n, 0700) != 0 && errno != EEXIST) fail_errno("tmpcopyup %s: mkdir %s", where, n);
      int sf = openat(from, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int df = openat(to, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sf < 0 || df < 0) fail_errno("tmpcopyup %s: open %s", where, n);
      copy_tree(sf, df, where);
      close(sf);
      close(df);
    } else if (S_ISREG(st.st_mode)) {
      int sf = openat(from, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      int df = openat(to, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (sf < 0 || df < 0) fail_errno("tmpcopyup %s: open %s", where, n);
      char buf[65536];
      ssize_t r;
      while ((r = read(sf, buf, sizeof buf)) > 0)
        if (write(df, buf, (size_t)r) != r) fail_errno("tmpcopyup %s: write %s", where, n);
      if (r < 0) fail_errno("tmpcopyup %s: read %s", where, n);
      close(sf);
      close(df);
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t l = readlinkat(from, n, target, sizeof target - 1);
      if (l < 0) fail_errno("tmpcopyup %s: readlink %s", where, n);
      target[l] = 0;
      if (symlinkat(target, to, n) != 0) fail_errno("tmpcopyup %s: symlink %s", where, n);
    } else if (mknodat(to, n, st.st_mode, st.st_rdev) != 0) {
      fail_errno("tmpcopyup %s: mknod %s", where, n);
    }
    if (fchownat(to, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("tmpcopyup %s: chown %s", where, n);
    if (!S_ISLNK(st.st_mode) && fchmodat(to, n, st.st_mode & 07777, 0) != 0) fail_errno("tmpcopyup %s: chmod %s", where, n);
  }
  closedir(d);
}

/* mount SRC DST TYPE FLAGS DATA PROPAGATION ATTR_SET ATTR_CLR [COPYUP [SELINUX_XATTR]] */
static void do_mount(const struct record *r) {
  if (r->nfields < 9) fail("malformed mount record");
  const char *src = r->fields[1], *dst = r->fields[2], *type = r->fields[3], *data = r->fields[5];
  unsigned long flags = strtoul(r->fields[4], NULL, 10);
  unsigned long prop = strtoul(r->fields[6], NULL, 10);
  unsigned long long attr_set = parse_ull(r->fields[7]), attr_clr = parse_ull(r->fields[8]);
  char p1[32], p2[32];
  int target;
  if (flags & MS_BIND) {
    struct stat st;
    int srcfd = open(src, O_PATH | O_CLOEXEC);
    if (srcfd < 0 || fstat(srcfd, &st) != 0) fail_errno("bind mount source %s (for %s)", src, dst);
    target = make_in_root(root_fd, dst, !S_ISDIR(st.st_mode));
    if (target < 0) fail_errno("create mount point %s in the container", dst);
    if (mount(fd_path(srcfd, p1), fd_path(target, p2), NULL, MS_BIND | (flags & MS_REC), NULL) != 0)
      fail_errno("bind mount %s on %s", src, dst);
    close(srcfd);
    close(target);
    unsigned long extra = flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT | PROPAGATION_FLAGS);
    if (extra) {
      /* the new mount is on top now: resolve again to reach it, not what it covers */
      target = open_in_root(root_fd, dst, O_PATH);
      if (target < 0 || remount(fd_path(target, p2), MS_BIND | MS_REMOUNT | extra, 0) != 0)
        fail_errno("remount %s with its options", dst);
      close(target);
    }
  } else {
    int copyup = r->nfields > 9 && strcmp(r->fields[9], "1") == 0;
    target = make_in_root(root_fd, dst, 0);
    if (target < 0) fail_errno("create mount point %s in the container", dst);
    int below = -1;
    unsigned long mflags = flags & ~(unsigned long)PROPAGATION_FLAGS;
    if (copyup) {
      below = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (below < 0) fail_errno("tmpcopyup %s: open what it covers", dst);
      mflags &= ~(unsigned long)MS_RDONLY; /* filled first, made read-only after */
    }
    if (mount(src, fd_path(target, p2), type, mflags, data[0] ? data : NULL) != 0)
      fail_errno("mount %s (type %s) on %s", src, type, dst);
    close(target);
    const char *xattr_label = r->nfields > 10 ? r->fields[10] : "";
    if (xattr_label[0]) {
      /* linux.mountLabel for a filesystem that cannot take context= (mqueue) */
      target = open_in_root(root_fd, dst, O_PATH);
      if (target < 0 || setxattr(fd_path(target, p2), "security.selinux", xattr_label, strlen(xattr_label), 0) != 0)
        fail_errno("set SELinux label \"%s\" on %s", xattr_label, dst);
      close(target);
    }
    if (copyup) {
      int above = open_in_root(root_fd, dst, O_RDONLY | O_DIRECTORY);
      struct stat st;
      if (above < 0 || fstat(below, &st) != 0) fail_errno("tmpcopyup %s", dst);
      copy_tree(below, above, dst);
      if (fchown(above, st.st_uid, st.st_gid) != 0 || fchmod(above, st.st_mode & 07777) != 0) fail_errno("tmpcopyup %s: owner and mode", dst);
      close(above);
      close(below);
      if (flags & MS_RDONLY) {
        target = open_in_root(root_fd, dst, O_PATH);
        if (target < 0 || remount(fd_path(target, p2), MS_REMOUNT | (flags & ~(unsigned long)PROPAGATION_FLAGS), 0) != 0)
          fail_errno("tmpcopyup %s: make it read-only", dst);
        close(target);
      }
    }
  }
  if (prop) {
    target = open_in_root(root_fd, dst, O_PATH);
    if (target < 0 || mount(NULL, fd_path(target, p2), NULL, prop, NULL) != 0)
      fail_errno("set propagation of %s", dst);
    close(target);
  }
  if (attr_set || attr_clr) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    attr.attr_clr = attr_clr;
    target = open_in_root(root_fd, dst, O_PATH);
    if (target < 0 || syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
      fail_errno("set recursive mount attributes on %s", dst);
    close(target);
  }
}

/* remount DST FLAGS: change the flags of a mount made earlier (e.g. the
 * tmpfs under /sys/fs/cgroup made read-only after its sub-mounts). */
static void do_remount(const struct record *r) {
  char p[32];
  int fd = open_in_root(root_fd, r->fields[1], O_PATH);
  if (fd < 0 || remount(fd_path(fd, p), strtoul(r->fields[2], NULL, 10), 0) != 0) fail_errno("remount %s", r->fields[1]);
  close(fd);
}

/* device PATH TYPE MAJOR MINOR MODE UID GID BIND */
static void do_device(const struct record *r) {
  if (r->nfields < 9) fail("malformed device record");
  const char *path = r->fields[1];
  char type = r->fields[2][0];
  unsigned major = (unsigned)strtoul(r->fields[3], NULL, 10), minor = (unsigned)strtoul(r->fields[4], NULL, 10);
  mode_t mode = (mode_t)strtoul(r->fields[5], NULL, 10) & 07777;
  uid_t uid = (uid_t)strtoul(r->fields[6], NULL, 10);
  gid_t gid = (gid_t)strtoul(r->fields[7], NULL, 10);
  char p1[32], p2[32];
  if (strcmp(r->fields[8], "1") == 0) {
    /* In a user namespace mknod is not allowed: bind the host's node. */
    int src = open(path, O_PATH | O_CLOEXEC);
    if (src < 0) fail_errno("device %s: open the host's node to bind it", path);
    int target = make_in_root(root_fd, path, 1);
    if (target < 0) fail_errno("create %s in the container", path);
    if (mount(fd_path(src, p1), fd_path(target, p2), NULL, MS_BIND, NULL) != 0) fail_errno("bind device %s", path);
    close(src);
    close(target);
    return;
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : dir;
  if (slash) *slash = 0;
  int parent = make_in_root(root_fd, slash && dir[0] ? dir : "/", 0);
  if (parent < 0) fail_errno("create the directory of %s", path);
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  unlinkat(parent, base, 0);
  if (mknodat(parent, base, kind | mode, makedev(major, minor)) != 0) fail_errno("mknod %s", path);
  if (fchownat(parent, base, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("chown %s", path);
  close(parent);
}

/* symlink TARGET PATH */
static void do_symlink(const struct record *r) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", r->fields[2]);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : dir;
  if (slash) *slash = 0;
  int parent = make_in_root(root_fd, slash && dir[0] ? dir : "/", 0);
  if (parent < 0) fail_errno("create the directory of %s", r->fields[2]);
  if (symlinkat(r->fields[1], parent, base) != 0 && errno != EEXIST) fail_errno("symlink %s", r->fields[2]);
  close(parent);
}

/* pivot_root needs the rootfs's parent mount not to be shared. */
static void make_parent_mount_private(const char *path) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return;
  char line[8192], best[PATH_MAX] = "/";
  size_t best_len = 1;
  while (fgets(line, sizeof line, f)) {
    char mp[PATH_MAX];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1) continue;
    size_t l = strlen(mp);
    if (strncmp(path, mp, l) == 0 && (path[l] == '/' || path[l] == 0 || l == 1) && l >= best_len) {
      strcpy(best, mp);
      best_len = l;
    }
  }
  fclose(f);
  mount(NULL, best, NULL, MS_PRIVATE, NULL);
}

/* Whether the container has a mount namespace of its own (new or joined).
 * Without one (runtime-spec: an unlisted namespace is the runtime's), the
 * rootfs is set up in the caller's mount namespace, as runc does: nothing
 * may change the caller's own mounts (no propagation change of /, no
 * pivot_root, no MS_MOVE: they would act on every process sharing it), so
 * the root is entered with chroot, and what we mount stays under the rootfs
 * bind, which `delete` detaches. */
static int own_mount_namespace(const struct plan *p) {
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "ns") == 0 && r->nfields >= 2 && strcmp(r->fields[1], "mount") == 0) return 1;
  }
  return 0;
}

static void enter_root(const struct plan *p) {
  if (!own_mount_namespace(p)) {
    if (chdir(rootfs_path) != 0) fail_errno("chdir %s", rootfs_path);
    if (chroot(".") != 0) fail_errno("chroot to the rootfs (no mount namespace)");
    if (chdir("/") != 0) fail_errno("chdir /");
    return;
  }
  if (plan_get_ll(p, "nopivot", 1, 0)) {
    if (chdir(rootfs_path) != 0) fail_errno("chdir %s", rootfs_path);
    if (mount(rootfs_path, "/", NULL, MS_MOVE, NULL) != 0) fail_errno("move the rootfs to /");
    if (chroot(".") != 0) fail_errno("chroot");
    if (chdir("/") != 0) fail_errno("chdir /");
    return;
  }
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  int newroot = open(rootfs_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0 || newroot < 0) fail_errno("open the old and new roots");
  if (fchdir(newroot) != 0) fail_errno("fchdir to the rootfs");
  if (syscall(SYS_pivot_root, ".", ".") != 0) fail_errno("pivot_root (use --no-pivot where the rootfs is on a ramfs)");
  /* The old root is stacked under the new one: detach it without letting
   * the unmount propagate back to the host. */
  if (fchdir(oldroot) != 0) fail_errno("fchdir to the old root");
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) != 0) fail_errno("make the old root a slave");
  if (umount2(".", MNT_DETACH) != 0) fail_errno("detach the old root");
  if (chdir("/") != 0) fail_errno("chdir /");
  close(oldroot);
  close(newroot);
}

/* The overlay through the new mount API, one "lowerdir+" per layer (Linux
 * 6.8+): no limit on the number of layers. -1 with errno when the kernel
 * cannot (the caller falls back to mount(2)). DATA is what the TypeScript
 * side makes: lowerdir=A:B:...,upperdir=U,workdir=W[,userxattr] (hex names
 * and relative paths: no ',' or ':' inside; a word alone is a flag). */
static int mount_overlay_fsconfig(const char *data) {
  char *copy = strdup(data), *save = NULL;
  if (!copy) return -1;
  int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
  int ok = fs >= 0;
  for (char *opt = strtok_r(copy, ",", &save); ok && opt; opt = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(opt, '=');
    if (!eq) {
      ok = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, opt, NULL, 0) == 0;
      continue;
    }
    *eq = 0;
    if (strcmp(opt, "lowerdir") == 0) {
      char *save2 = NULL;
      for (char *dir = strtok_r(eq + 1, ":", &save2); ok && dir; dir = strtok_r(NULL, ":", &save2))
        ok = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", dir, 0) == 0;
    } else {
      ok = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, opt, eq + 1, 0) == 0;
    }
  }
  int mnt = -1;
  if (ok) ok = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
  if (ok) ok = (mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) >= 0;
  if (ok) ok = syscall(SYS_move_mount, mnt, "", AT_FDCWD, rootfs_path, MOVE_MOUNT_F_EMPTY_PATH) == 0;
  int saved = errno;
  if (mnt >= 0) close(mnt);
  if (fs >= 0) close(fs);
  free(copy);
  errno = saved;
  return ok ? 0 : -1;
}

/* overlay BASE DATA: the image front end's root, mounted in the container's
 * own mount namespace (nothing appears on the host, nothing can leak). The
 * layer paths in DATA are relative to BASE; with mount(2) (kernels before
 * 6.8) they must fit in its one page of data. */
static void mount_root_overlay(const struct record *r) {
  if (r->nfields < 3) fail("malformed overlay record");
  const char *data = r->fields[2];
  int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (here < 0) fail_errno("open the current directory");
  if (chdir(r->fields[1]) != 0) fail_errno("chdir to the layer store %s", r->fields[1]);
  if (mount_overlay_fsconfig(data) != 0) {
    if (strlen(data) >= 4096)
      fail("the overlay root needs Linux 6.8 or later for this many layers (%zu bytes of mount data; mount(2) takes 4095)", strlen(data));
    if (mount("overlay", rootfs_path, "overlay", 0, data) != 0) fail_errno("mount the overlay root on %s", rootfs_path);
  }
  if (fchdir(here) != 0) fail_errno("fchdir back");
  close(here);
}

void setup_rootfs(const struct plan *p) {
  rootfs_path = plan_get(p, "rootfs", 1, NULL);
  int own_ns = own_mount_namespace(p);
  if (own_ns) {
    unsigned long rootprop = (unsigned long)plan_get_ll(p, "rootprop", 1, MS_SLAVE | MS_REC);
    if (mount(NULL, "/", NULL, rootprop, NULL) != 0) fail_errno("set the propagation of / in the container");
    make_parent_mount_private(rootfs_path);
  }
  const struct record *overlay = plan_find(p, "overlay");
  if (overlay) mount_root_overlay(overlay);
  if (mount(rootfs_path, rootfs_path, NULL, MS_BIND | MS_REC, NULL) != 0) fail_errno("bind mount the rootfs %s", rootfs_path);
  /* In the caller's namespace: the container's mounts below stay out of the
   * caller's peer groups (only the bind itself propagates, and so does its
   * unmount at delete). */
  if (!own_ns && mount(NULL, rootfs_path, NULL, MS_PRIVATE | MS_REC, NULL) != 0) fail_errno("make the rootfs bind %s private", rootfs_path);
  root_fd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail_errno("open the rootfs %s", rootfs_path);

  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    const char *tag = r->fields[0];
    if (strcmp(tag, "mount") == 0) do_mount(r);
    else if (strcmp(tag, "remount") == 0) do_remount(r);
    else if (strcmp(tag, "device") == 0) do_device(r);
    else if (strcmp(tag, "symlink") == 0) do_symlink(r);
  }
  close(root_fd);
  root_fd = -1;
  /* prestart, createRuntime (by the runtime) and createContainer: after the
   * mounts, before pivot_root (runtime-spec config.md). */
  hooks_before_pivot(p);
  enter_root(p);
  unsigned long rootfsprop = (unsigned long)plan_get_ll(p, "rootfsprop", 1, 0);
  if (rootfsprop && mount(NULL, "/", NULL, rootfsprop, NULL) != 0) fail_errno("set rootfsPropagation");
}

/* The null device, checked: a container could have replaced /dev/null with
 * a symlink to something it wants us to expose. */
static int open_dev_null(void) {
  struct stat st;
  int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0) fail_errno("open /dev/null to mask paths");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) fail("/dev/null in the container is not the null device: refusing to use it for maskedPaths");
  return fd;
}

void finish_rootfs(const struct plan *p) {
  int here = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (here < 0) fail_errno("open /");
  char p1[32], p2[32];
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "sysctl") != 0) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/proc/sys/%s", r->fields[1]);
    for (char *c = path + 10; *c; c++)
      if (*c == '.') *c = '/';
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_WRONLY | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0) fail_errno("sysctl %s: open %s", r->fields[1], path);
    size_t l = strlen(r->fields[2]);
    if (write(fd, r->fields[2], l) != (ssize_t)l) fail_errno("sysctl %s=%s", r->fields[1], r->fields[2]);
    close(fd);
  }
  int null_fd = -1;
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "mask") != 0) continue;
    int fd = open_in_root(here, r->fields[1], O_PATH);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      fail_errno("maskedPaths: open %s", r->fields[1]);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) fail_errno("maskedPaths: stat %s", r->fields[1]);
    if (S_ISDIR(st.st_mode)) {
      const char *mask_data = r->nfields > 2 ? r->fields[2] : "size=0k";
      if (mount("tmpfs", fd_path(fd, p2), "tmpfs", MS_RDONLY, mask_data) != 0) fail_errno("mask %s", r->fields[1]);
    } else {
      if (null_fd < 0) null_fd = open_dev_null();
      if (mount(fd_path(null_fd, p1), fd_path(fd, p2), NULL, MS_BIND, NULL) != 0) fail_errno("mask %s", r->fields[1]);
    }
    close(fd);
  }
  if (null_fd >= 0) close(null_fd);
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "rodir") != 0) continue;
    int fd = open_in_root(here, r->fields[1], O_PATH);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      fail_errno("readonlyPaths: open %s", r->fields[1]);
    }
    if (mount(fd_path(fd, p1), fd_path(fd, p2), NULL, MS_BIND | MS_REC, NULL) != 0) fail_errno("readonlyPaths: bind %s", r->fields[1]);
    close(fd);
    fd = open_in_root(here, r->fields[1], O_PATH);
    if (fd < 0 || remount(fd_path(fd, p2), MS_BIND | MS_REMOUNT | MS_RDONLY, 1) != 0) fail_errno("readonlyPaths: remount %s read-only", r->fields[1]);
    close(fd);
  }
  if (plan_get_ll(p, "readonly", 1, 0)) {
    if (remount("/", MS_BIND | MS_REMOUNT | MS_RDONLY, 1) != 0) fail_errno("make the root filesystem read-only");
  }
  close(here);
}
