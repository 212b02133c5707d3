// The native addon: small Linux calls Node cannot make, safe to run inside a
// multithreaded process. Anything that must run single-threaded (clone into
// namespaces, setns into mount/user namespaces, the code between clone and
// execve) lives in the ccrun-init helper (native/init/), not here.
#include <napi.h>
#include <errno.h>
#include <string.h>
#include <string>
#include <vector>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

static Napi::Value ThrowErrno(Napi::Env env, const std::string &what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  static const struct { int n; const char *code; } codes[] = {
      {ENOENT, "ENOENT"}, {EEXIST, "EEXIST"}, {EPERM, "EPERM"}, {EACCES, "EACCES"},
      {ENOTSUP, "ENOTSUP"}, {ENODATA, "ENODATA"}, {EINVAL, "EINVAL"}, {ENOTDIR, "ENOTDIR"},
      {ESRCH, "ESRCH"}, {EBUSY, "EBUSY"}, {ENOSPC, "ENOSPC"}, {EROFS, "EROFS"},
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

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  exports.Set("mknod", Napi::Function::New(env, Mknod));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr));
  return exports;
}

NODE_API_MODULE(ccrun_native, Init)
