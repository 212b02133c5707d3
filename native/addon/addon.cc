// The native addon: small Linux calls Node cannot make, safe to run inside a
// multithreaded process. Anything that must run single-threaded (clone into
// namespaces, setns into mount/user namespaces, the code between clone and
// execve) lives in the ccrun-init helper (native/init/), not here.
#include <napi.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

static Napi::Value ThrowErrno(Napi::Env env, const char *what) {
  Napi::Error err = Napi::Error::New(env, std::string(what) + ": " + strerror(errno));
  err.Set("errno", Napi::Number::New(env, errno));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

// prctl(PR_SET_CHILD_SUBREAPER): so orphaned container processes come to us.
static Napi::Value SetChildSubreaper(const Napi::CallbackInfo &info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return ThrowErrno(info.Env(), "prctl(PR_SET_CHILD_SUBREAPER)");
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  return exports;
}

NODE_API_MODULE(ccrun_native, Init)
