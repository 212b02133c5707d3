// The native addon: small Linux calls Node cannot make, safe to run inside a
// multithreaded process. Anything that must run single-threaded (clone into
// namespaces, setns into mount/user namespaces, the code between clone and
// execve) lives in the ccrun-init helper (native/init/), not here.
#include <napi.h>
#include <errno.h>
#include <string.h>
#include <string>
#include <vector>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include "../common/sealed-copy.h"
#include <stdlib.h>

static Napi::Value ThrowErrno(Napi::Env env, const std::string &what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  static const struct { int n; const char *code; } codes[] = {
      {ENOENT, "ENOENT"}, {EEXIST, "EEXIST"}, {EPERM, "EPERM"}, {EACCES, "EACCES"},
      {ENOTSUP, "ENOTSUP"}, {ENODATA, "ENODATA"}, {EINVAL, "EINVAL"}, {ENOTDIR, "ENOTDIR"},
      {ESRCH, "ESRCH"}, {EBUSY, "EBUSY"}, {ENOSPC, "ENOSPC"}, {EROFS, "EROFS"}, {EADDRINUSE, "EADDRINUSE"}, {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
  };
  for (auto &c : codes)
    if (c.n == err) e.Set("code", Napi::String::New(env, c.code));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// prctl(PR_SET_CHILD_SUBREAPER): so orphaned container processes come to us.
static Napi::Value SetChildSubreaper(const Napi::CallbackInfo &info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return ThrowErrno(info.Env(), "prctl(PR_SET_CHILD_SUBREAPER)", errno);
  return info.Env().Undefined();
}

// mknod(path, mode, dev): device nodes, fifos and overlay whiteouts (0:0).
static Napi::Value Mknod(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  mode_t mode = info[1].As<Napi::Number>().Uint32Value();
  dev_t dev = (dev_t)info[2].As<Napi::Number>().Int64Value();
  if (mknod(path.c_str(), mode, dev) != 0) return ThrowErrno(info.Env(), "mknod " + path, errno);
  return info.Env().Undefined();
}

// umount2(MNT_DETACH | UMOUNT_NOFOLLOW): the top-most mount at path, with
// everything mounted below it (a container's rootfs bind in the caller's
// mount namespace, at delete).
static Napi::Value DetachMount(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  if (umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) return ThrowErrno(info.Env(), "umount " + path, errno);
  return info.Env().Undefined();
}

// mount(src, dst, MS_BIND): keeps a namespace alive at a file (an nsfs
// bind, as `ip netns add` makes), without a mount(8) process.
static Napi::Value BindMount(const Napi::CallbackInfo &info) {
  std::string src = info[0].As<Napi::String>();
  std::string dst = info[1].As<Napi::String>();
  if (mount(src.c_str(), dst.c_str(), NULL, MS_BIND, NULL) != 0) return ThrowErrno(info.Env(), "mount --bind " + src + " " + dst, errno);
  return info.Env().Undefined();
}

// A new network namespace kept alive by a bind mount at path (an existing
// file), as `ip netns add` does, without an unshare(1) process. Unlike the
// user and mount namespaces, a network namespace can be entered and left by
// one thread of a multithreaded process: this thread unshares, binds its new
// namespace, and goes back with setns. Only this thread was ever in it, and
// only for these three calls.
static Napi::Value MakeNetns(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return ThrowErrno(info.Env(), "open /proc/thread-self/ns/net", errno);
  if (unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    close(home);
    return ThrowErrno(info.Env(), "unshare(CLONE_NEWNET)", err);
  }
  int err = 0;
  if (mount("/proc/thread-self/ns/net", path.c_str(), NULL, MS_BIND, NULL) != 0) err = errno;
  // Staying in the new namespace would move every later socket of this
  // process into it: there is no safe way on.
  if (setns(home, CLONE_NEWNET) != 0) abort();
  close(home);
  if (err) return ThrowErrno(info.Env(), "mount --bind (new network namespace) " + path, err);
  return info.Env().Undefined();
}

// A host port held for a container that publishes it (as podman's conmon
// and Docker's proxy hold theirs): a TCP socket bound and listening, or a
// UDP socket bound, close-on-exec. Traffic to the port is DNATed to the
// container before any socket sees it; the socket only keeps other programs
// from binding the port while the container has it. Returns the fd.
static Napi::Value ReservePort(const Napi::CallbackInfo &info) {
  std::string proto = info[0].As<Napi::String>();
  std::string ip = info[1].As<Napi::String>();
  int port = info[2].As<Napi::Number>().Int32Value();
  bool tcp = proto == "tcp";
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (port < 1 || port > 65535 || inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    return ThrowErrno(info.Env(), "reserve " + ip + ":" + std::to_string(port), EINVAL);
  int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(info.Env(), "socket", errno);
  int one = 1;
  // As a listening server would: a port left in TIME_WAIT is no conflict.
  if (tcp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || (tcp && listen(fd, 1) != 0)) {
    int err = errno;
    close(fd);
    return ThrowErrno(info.Env(), "bind " + proto + " " + ip + ":" + std::to_string(port), err);
  }
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value Lsetxattr(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();
  Napi::Buffer<char> value = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), 0) != 0)
    return ThrowErrno(info.Env(), "lsetxattr " + path + " " + name, errno);
  return info.Env().Undefined();
}

// Returns null when the attribute is not set.
static Napi::Value Lgetxattr(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();
  ssize_t n = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
  if (n < 0) {
    if (errno == ENODATA) return info.Env().Null();
    return ThrowErrno(info.Env(), "lgetxattr " + path + " " + name, errno);
  }
  std::vector<char> buf(n > 0 ? n : 1);
  n = lgetxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
  if (n < 0) return ThrowErrno(info.Env(), "lgetxattr " + path + " " + name, errno);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), n);
}

static Napi::Value Llistxattr(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  ssize_t n = llistxattr(path.c_str(), nullptr, 0);
  if (n < 0) return ThrowErrno(info.Env(), "llistxattr " + path, errno);
  std::vector<char> buf(n > 0 ? n : 1);
  n = llistxattr(path.c_str(), buf.data(), buf.size());
  if (n < 0) return ThrowErrno(info.Env(), "llistxattr " + path, errno);
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t i = 0;
  for (ssize_t off = 0; off < n;) {
    std::string name(buf.data() + off);
    off += name.size() + 1;
    out.Set(i++, Napi::String::New(info.Env(), name));
  }
  return out;
}

static long BpfCall(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (cgroup v2 device rules) and
// attaches it to cgroupDir with BPF_F_ALLOW_MULTI, then detaches the programs
// that were attached before, so an update never leaves a window with no filter.
static Napi::Value BpfAttachDeviceProgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>();
  Napi::Buffer<uint8_t> insns = info[1].As<Napi::Buffer<uint8_t>>();
  if (insns.Length() == 0 || insns.Length() % 8 != 0) {
    Napi::TypeError::New(env, "bpfAttachDeviceProgram: instructions must be a non-empty multiple of 8 bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int dirfd = open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dirfd < 0) return ThrowErrno(env, "open " + dir, errno);

  uint32_t old_ids[64];
  uint32_t old_count = 64;
  union bpf_attr q;
  memset(&q, 0, sizeof(q));
  q.query.target_fd = dirfd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
  q.query.prog_cnt = old_count;
  if (BpfCall(BPF_PROG_QUERY, &q) != 0) old_count = 0; else old_count = q.query.prog_cnt;

  static char log[16384];
  log[0] = 0;
  union bpf_attr load;
  memset(&load, 0, sizeof(load));
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)insns.Data();
  load.insn_cnt = insns.Length() / 8;
  load.license = (uint64_t)(uintptr_t)"Apache";
  load.log_buf = (uint64_t)(uintptr_t)log;
  load.log_size = sizeof(log);
  load.log_level = 1;
  int prog = (int)BpfCall(BPF_PROG_LOAD, &load);
  if (prog < 0) {
    int err = errno;
    close(dirfd);
    return ThrowErrno(env, std::string("bpf(BPF_PROG_LOAD) of the device filter") + (log[0] ? std::string(" (verifier: ") + log + ")" : ""), err);
  }
  union bpf_attr at;
  memset(&at, 0, sizeof(at));
  at.target_fd = dirfd;
  at.attach_bpf_fd = prog;
  at.attach_type = BPF_CGROUP_DEVICE;
  at.attach_flags = BPF_F_ALLOW_MULTI;
  if (BpfCall(BPF_PROG_ATTACH, &at) != 0) {
    int err = errno;
    close(prog);
    close(dirfd);
    return ThrowErrno(env, "bpf(BPF_PROG_ATTACH) to " + dir, err);
  }
  for (uint32_t i = 0; i < old_count; i++) {
    union bpf_attr g;
    memset(&g, 0, sizeof(g));
    g.prog_id = old_ids[i];
    int fd = (int)BpfCall(BPF_PROG_GET_FD_BY_ID, &g);
    if (fd < 0) continue;
    union bpf_attr d;
    memset(&d, 0, sizeof(d));
    d.target_fd = dirfd;
    d.attach_bpf_fd = fd;
    d.attach_type = BPF_CGROUP_DEVICE;
    BpfCall(BPF_PROG_DETACH, &d);
    close(fd);
  }
  close(prog);
  close(dirfd);
  return env.Undefined();
}

// A sealed memfd copy of the helper binary (CVE-2019-5736; native/init/sealed.c),
// made here so that the helper is exec'd once, from the copy: the helper
// finds itself sealed and skips its own copy-and-re-exec (one exec and one
// dynamic link fewer, ~1.5 ms of every create and exec). The fd is
// close-on-exec and at least minFd, above every fd the spawn's file actions
// write. -1 when it cannot be made: the helper then seals itself as before.
static int SealedCopy(const std::string &path, int min_fd) {
  int src = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return -1;
  int mfd = sealed_copy(src, "ccrun-init");
  close(src);
  if (mfd < 0) return -1;
  int high = fcntl(mfd, F_DUPFD_CLOEXEC, min_fd);
  close(mfd);
  return high;
}

// spawnHelper(path, args, fds, syncIndex): starts the ccrun-init helper with
// posix_spawn (vfork-like: no copy of Node's page tables, unlike
// child_process, which costs ~10 ms here). The child gets fd i = fds[i] for
// each i, plus one end of a new unix socketpair at syncIndex; an empty
// environment. Returns { pid, sock } where sock is our end (close-on-exec).
static Napi::Value SpawnHelper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  Napi::Array args = info[1].As<Napi::Array>();
  Napi::Array fds = info[2].As<Napi::Array>();
  int sync_index = info[3].As<Napi::Number>().Int32Value();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(env, "socketpair", errno);
  std::vector<std::string> argstore;
  argstore.push_back(path);
  for (uint32_t i = 0; i < args.Length(); i++) argstore.push_back(args.Get(i).As<Napi::String>());
  std::vector<char *> argv;
  for (auto &a : argstore) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  char *envp[] = {nullptr};

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // Move every source fd out of the way first, so mapping i <- fds[i] never
  // clobbers a source that is still needed.
  uint32_t n = fds.Length();
  int base = sync_index > sv[1] ? sync_index : sv[1];
  for (uint32_t i = 0; i < n; i++) {
    int src = fds.Get(i).As<Napi::Number>().Int32Value();
    if (src > base) base = src;
  }
  base += 1;
  // Every fd the file actions write is below base + n + 1 (the low targets
  // are 0..n-1 and syncIndex, both below base).
  int sealed = SealedCopy(path, base + (int)n + 1);
  std::string exe = sealed >= 0 ? "/proc/self/fd/" + std::to_string(sealed) : path;
  for (uint32_t i = 0; i < n; i++) {
    int src = fds.Get(i).As<Napi::Number>().Int32Value();
    posix_spawn_file_actions_adddup2(&fa, src, base + (int)i);
  }
  posix_spawn_file_actions_adddup2(&fa, sv[1], base + (int)n);
  for (uint32_t i = 0; i < n; i++) posix_spawn_file_actions_adddup2(&fa, base + (int)i, (int)i);
  posix_spawn_file_actions_adddup2(&fa, base + (int)n, sync_index);
  for (uint32_t i = 0; i <= n; i++) posix_spawn_file_actions_addclose(&fa, base + (int)i);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  // The kernel opens /proc/self/fd/N before it closes the close-on-exec fds.
  int rc = posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (sealed >= 0) close(sealed);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return ThrowErrno(env, "spawn " + path, rc);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, pid));
  out.Set("sock", Napi::Number::New(env, sv[0]));
  return out;
}

// waitpid(pid, block): the exit status as a shell reports it (code, or
// 128+signal), or null when block is false and the child has not exited.
static Napi::Value WaitPid(const Napi::CallbackInfo &info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool block = info[1].As<Napi::Boolean>().Value();
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, block ? 0 : WNOHANG);
    if (r == pid) break;
    if (r == 0) return info.Env().Null();
    if (r < 0 && errno == EINTR) continue;
    return ThrowErrno(info.Env(), "waitpid", errno);
  }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
  return Napi::Number::New(info.Env(), code);
}

// socketpair(): a connected pair of unix stream sockets, both close-on-exec.
// run/exec give one end to ccrun-init instead of a --console-socket path when
// ccrun itself owns the terminal.
static Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(info.Env(), "socketpair", errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  out.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return out;
}

// recvFd(sock): blocks for one message carrying an fd with SCM_RIGHTS (the
// console socket protocol of runc); returns { fd, name } (fd close-on-exec,
// name the payload, e.g. "/dev/pts/0").
static Napi::Value RecvFd(const Napi::CallbackInfo &info) {
  int sock = info[0].As<Napi::Number>().Int32Value();
  char name[4096];
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {name, sizeof name - 1};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return ThrowErrno(info.Env(), "recvmsg", errno);
  int fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof(int));
  if (fd < 0) return ThrowErrno(info.Env(), "recvmsg: no file descriptor in the message (the helper ended before sending the terminal)", EINVAL);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("fd", Napi::Number::New(info.Env(), fd));
  out.Set("name", Napi::String::New(info.Env(), std::string(name, (size_t)n)));
  return out;
}

// setWinsize(fd, rows, cols): TIOCSWINSZ on a terminal (the pty master when
// the user's window changes size).
static Napi::Value SetWinsize(const Napi::CallbackInfo &info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_col = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) return ThrowErrno(info.Env(), "ioctl(TIOCSWINSZ)", errno);
  return info.Env().Undefined();
}

// seccompFlagsSupported(flags): whether this kernel knows every one of the
// seccomp(2) filter flags. It checks the flags before it reads the program,
// so a NULL program fails with EFAULT for known flags and EINVAL otherwise
// (libseccomp probes the same way); nothing is loaded either way.
static Napi::Value SeccompFlagsSupported(const Napi::CallbackInfo &info) {
  unsigned int flags = info[0].As<Napi::Number>().Uint32Value();
  long rc = syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, NULL);
  return Napi::Boolean::New(info.Env(), rc < 0 && errno == EFAULT);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  exports.Set("mknod", Napi::Function::New(env, Mknod));
  exports.Set("detachMount", Napi::Function::New(env, DetachMount));
  exports.Set("bindMount", Napi::Function::New(env, BindMount));
  exports.Set("makeNetns", Napi::Function::New(env, MakeNetns));
  exports.Set("reservePort", Napi::Function::New(env, ReservePort));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr));
  exports.Set("spawnHelper", Napi::Function::New(env, SpawnHelper));
  exports.Set("waitpid", Napi::Function::New(env, WaitPid));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize));
  exports.Set("bpfAttachDeviceProgram", Napi::Function::New(env, BpfAttachDeviceProgram));
  exports.Set("seccompFlagsSupported", Napi::Function::New(env, SeccompFlagsSupported));
  return exports;
}

NODE_API_MODULE(ccrun_native, Init)
